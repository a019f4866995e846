"""Streaming WSOL metrics against hand-computed values and brute force."""

import cv2
import numpy as np
import pytest

from keras_has.boxes import box_iou, cam_to_boxes
from keras_has.metrics import LocalizationMetrics

# Tolerances: the metrics are float64 host arithmetic on integer counts (hits / images, pixel
# precision and recall), values in [0, 1]; one image or pixel changes them by 1e-3 or more. Two
# metric objects fed the same data hold the same integer counters and give bit-identical
# results (compared exactly); thresholds are rounded or copied, not computed.
HOST = {"abs": 1e-12}  # float64 host arithmetic (pytest.approx)
HOST_NP = {"rtol": 0, "atol": 1e-12}  # float64 host arithmetic (assert_allclose)


def hand_batch():
    """Three 10x10 images whose IoUs at every threshold are worked out below.

    Thresholds with cam_curve_interval=0.25: 0, 0.25, 0.5, 0.75.

    Image 0: halo 0.5 on rows/cols 1..6, core 1.0 on rows/cols 2..5.
      gt (2, 2, 6, 8), area 24. Boxes: t=0 whole image (IoU 24/100 = 0.24);
      t in (0, 0.5] halo (1, 1, 7, 7), area 36, inter 4*5 = 20, IoU 20/40 =
      0.5; t > 0.5 core (2, 2, 6, 6), area 16, IoU 16/24 = 0.667.
    Image 1: small blob 0.6 at (1, 1, 3, 3) (4 px), big blob 1.0 at
      (5, 5, 9, 9) (16 px); gt (1, 1, 3, 3). t=0: whole image, IoU 0.04;
      t in (0, 0.6]: largest = big blob (IoU 0), all components: the small
      blob matches (IoU 1); t > 0.6: big blob only (IoU 0).
    Image 2: blob 1.0 at (4, 4, 8, 8); gt boxes (0, 0, 2, 2) and (4, 4, 8, 8).
      t=0: whole image, best IoU 16/100 = 0.16; t > 0: IoU 1 with the second.
    """
    cams = np.zeros((3, 10, 10), np.float32)
    cams[0, 1:7, 1:7] = 0.5
    cams[0, 2:6, 2:6] = 1.0
    cams[1, 1:3, 1:3] = 0.6
    cams[1, 5:9, 5:9] = 1.0
    cams[2, 4:8, 4:8] = 1.0
    gt = [[[2, 2, 6, 8]], [[1, 1, 3, 3]], [[0, 0, 2, 2], [4, 4, 8, 8]]]
    labels = np.array([0, 1, 2])
    scores = np.eye(6)[[0, 1, 5]]  # images 0 and 1 classified right
    return cams, gt, labels, scores


def hand_metrics(**kwargs):
    metrics = LocalizationMetrics(cam_threshold=0.2, cam_curve_interval=0.25, **kwargs)
    metrics.update(*hand_batch())
    return metrics


def test_hand_computed_box_metrics():
    result = hand_metrics().result()
    # At cam_threshold 0.2: image 0 halo IoU 0.5 (>= 0.5: located), image 1
    # the big blob (IoU 0), image 2 IoU 1. Classes: 0 and 1 right, 2 wrong.
    assert result["num_images"] == 3
    assert result["top1_cls"] == pytest.approx(2 / 3, **HOST)
    assert result["gt_known_loc"] == pytest.approx(2 / 3, **HOST)  # images 0, 2
    assert result["top1_loc"] == pytest.approx(1 / 3, **HOST)  # image 0 only
    # Largest component at IoU 0.5, per threshold 0 / .25 / .5 / .75:
    # image 0: 0 1 1 1; image 1: 0 0 0 0; image 2: 0 1 1 1 -> 0, 2/3, 2/3, 2/3.
    assert result["maxboxacc"] == pytest.approx(2 / 3, **HOST)
    assert result["maxboxacc_threshold"] == 0.25  # ties go to the lowest; rounded: exact
    # All components, best IoUs per threshold:
    # image 0: .24 .5 .5 .667; image 1: .04 1 1 0; image 2: .16 1 1 1.
    # IoU .3 and .5: 0 3 3 2 -> 1.0 at 0.25. IoU .7: 0 2 2 1 -> 2/3 at 0.25.
    assert result["maxboxacc_v2@30"] == pytest.approx(1.0, **HOST)
    assert result["maxboxacc_v2@50"] == pytest.approx(1.0, **HOST)
    assert result["maxboxacc_v2@70"] == pytest.approx(2 / 3, **HOST)
    assert result["maxboxacc_v2@70_threshold"] == 0.25
    assert result["maxboxacc_v2"] == pytest.approx((1 + 1 + 2 / 3) / 3, **HOST)
    assert "pxap" not in result


def test_hand_computed_curves():
    curves = hand_metrics().curves()
    np.testing.assert_allclose(curves["thresholds"], [0, 0.25, 0.5, 0.75], **HOST_NP)
    np.testing.assert_allclose(curves["boxacc"][0.5], [0, 2 / 3, 2 / 3, 2 / 3], **HOST_NP)
    # IoU 0.7: image 0 never (0.667), image 2 for t > 0.
    np.testing.assert_allclose(curves["boxacc"][0.7], [0, 1 / 3, 1 / 3, 1 / 3], **HOST_NP)
    np.testing.assert_allclose(curves["boxacc_v2"][0.3], [0, 1, 1, 2 / 3], **HOST_NP)
    np.testing.assert_allclose(curves["boxacc_v2"][0.7], [0, 2 / 3, 2 / 3, 1 / 3], **HOST_NP)


def test_predictions_as_ids_or_scores():
    cams, gt, labels, scores = hand_batch()
    by_ids = LocalizationMetrics(cam_curve_interval=0.25)
    by_ids.update(cams, gt, labels, np.argmax(scores, axis=1))
    assert by_ids.result() == hand_metrics().result()  # same counters: exact


def test_maxboxacc_uses_iou_half_even_when_not_listed():
    result = hand_metrics(iou_thresholds=(0.7,)).result()
    assert result["maxboxacc"] == pytest.approx(2 / 3, **HOST)
    assert result["maxboxacc_v2"] == pytest.approx(2 / 3, **HOST)
    assert "maxboxacc_v2@50" not in result


def test_hand_computed_pxap():
    # One 1x4 image, normalized values 0, 0.5, 1, 1; foreground pixels 1, 2.
    # From threshold 1.0 down: t=1 keeps pixels 2 (fg), 3 (bg): P 1/2, R 1/2;
    # t=0.75 the same; t=0.5 adds pixel 1 (fg): P 2/3, R 1; t=0.25 the same;
    # t=0 adds pixel 0: P 1/2, R 1. AP = 1/2 * 1/2 + 2/3 * 1/2 = 7/12.
    cam = np.array([[[0, 0.5, 1, 1]]], np.float32)
    mask = np.array([[[0, 1, 1, 0]]], bool)
    args = (cam, [[[0, 0, 4, 1]]], [0], [0])
    metrics = LocalizationMetrics(cam_curve_interval=0.25)
    metrics.update(*args, masks=mask)
    assert metrics.result()["pxap"] == pytest.approx(7 / 12, **HOST)
    curves = metrics.curves()
    np.testing.assert_allclose(curves["pr_thresholds"], [1, 0.75, 0.5, 0.25, 0], **HOST_NP)
    np.testing.assert_allclose(curves["precision"], [1 / 2, 1 / 2, 2 / 3, 2 / 3, 1 / 2], **HOST_NP)
    np.testing.assert_allclose(curves["recall"], [1 / 2, 1 / 2, 1, 1, 1], **HOST_NP)
    # Ignoring pixel 3 (background): P is 1 everywhere but t=0 (2/3): AP = 1.
    metrics = LocalizationMetrics(cam_curve_interval=0.25)
    metrics.update(*args, masks=mask, ignore=np.array([[[0, 0, 0, 1]]]))
    assert metrics.result()["pxap"] == pytest.approx(1.0, **HOST)
    # An ignore region over foreground leaves the foreground in (Choe et al.).
    metrics = LocalizationMetrics(cam_curve_interval=0.25)
    metrics.update(*args, masks=mask, ignore=np.array([[[0, 1, 1, 0]]]))
    assert metrics.result()["pxap"] == pytest.approx(7 / 12, **HOST)


# --------------------------------------------------------------------------
# Streaming


def random_batch(seed, batch=9, size=(40, 48)):
    """Realistic CAMs (bilinear from 5x6) with 1-3 boxes and masks per image."""
    rng = np.random.default_rng(seed)
    small = rng.random((batch, 5, 6)).astype(np.float32)
    cams = np.stack([cv2.resize(s, size[::-1], interpolation=cv2.INTER_LINEAR) for s in small])
    gt = []
    for _ in range(batch):
        corner = rng.integers(0, 30, (rng.integers(1, 4), 2))
        gt.append(np.concatenate([corner, corner + rng.integers(2, 20, corner.shape)], 1))
    masks = np.zeros(cams.shape, bool)
    for i, boxes in enumerate(gt):
        for x0, y0, x1, y1 in boxes:
            masks[i, y0:y1, x0:x1] = True
    labels = rng.integers(0, 4, batch)
    scores = rng.random((batch, 4))
    return cams, gt, labels, scores, masks


def test_several_batches_equal_one_batch():
    cams, gt, labels, scores, masks = random_batch(0)
    whole = LocalizationMetrics(cam_threshold=0.3)
    whole.update(cams, gt, labels, scores, masks=masks)
    parts = LocalizationMetrics(cam_threshold=0.3)
    for cut in (slice(0, 3), slice(3, 4), slice(4, 9)):
        parts.update(cams[cut], gt[cut], labels[cut], scores[cut], masks=masks[cut])
    assert parts.result() == whole.result()  # integer counters add up: exact
    for key in ("precision", "recall"):
        np.testing.assert_array_equal(parts.curves()[key], whole.curves()[key])


def test_reset_and_empty():
    metrics = LocalizationMetrics()
    assert all(np.isnan(v) for k, v in metrics.result().items() if k != "num_images")
    cams, gt, labels, scores, masks = random_batch(1)
    metrics.update(cams, gt, labels, scores, masks=masks)
    first = metrics.result()
    metrics.reset()
    assert metrics.result()["num_images"] == 0
    metrics.update(cams, gt, labels, scores)  # no masks after a reset is fine
    assert "pxap" not in metrics.result()
    assert first["num_images"] == 9 and "pxap" in first


def test_memory_does_not_grow_with_images():
    metrics = LocalizationMetrics()

    def state_bytes():
        return sum(v.nbytes for v in vars(metrics).values() if isinstance(v, np.ndarray))

    cams, gt, labels, scores, masks = random_batch(2)
    metrics.update(cams, gt, labels, scores, masks=masks)
    before = state_bytes()
    for _ in range(3):
        metrics.update(cams, gt, labels, scores, masks=masks)
    assert state_bytes() == before < 20_000
    assert metrics.result()["num_images"] == 36


def test_padded_and_list_boxes_agree():
    cams, gt, labels, scores, _ = random_batch(3)
    padded = np.zeros((len(gt), 4, 4))
    for i, boxes in enumerate(gt):
        padded[i, : len(boxes)] = boxes
    a, b = LocalizationMetrics(), LocalizationMetrics()
    a.update(cams, gt, labels, scores)
    b.update(cams, padded, labels, scores)
    assert a.result() == b.result()


def test_best_over_several_gt_boxes():
    cams, gt, labels, scores, _ = random_batch(4)
    decoy = np.array([[200, 200, 210, 210]])  # far outside the maps
    results = []
    for boxes in (
        gt,
        [np.concatenate([decoy, g]) for g in gt],
        [np.concatenate([g, decoy]) for g in gt],
    ):
        metrics = LocalizationMetrics()
        metrics.update(cams, boxes, labels, scores)
        results.append(metrics.result())
    assert results[0] == results[1] == results[2]
    # Only the decoy: nothing is ever located.
    metrics = LocalizationMetrics()
    metrics.update(cams, [decoy] * len(gt), labels, scores)
    result = metrics.result()
    assert result["gt_known_loc"] == result["maxboxacc"] == result["maxboxacc_v2"] == 0


def test_box_metrics_match_per_threshold_opencv_calls():
    """The sweep against `cam_to_boxes` and `box_iou` at each threshold."""
    cams, gt, labels, scores, _ = random_batch(5, batch=6)
    metrics = LocalizationMetrics(cam_threshold=0.35, cam_curve_interval=0.05)
    metrics.update(cams, gt, labels, scores)
    result, curves = metrics.result(), metrics.curves()
    hits = {key: np.zeros(20) for key in ("largest", "all30", "all50", "all70")}
    for k, t in enumerate(np.arange(0, 1, 0.05)):
        for i, boxes in enumerate(cam_to_boxes(cams, t, all_components=True)):
            ious = box_iou(boxes, gt[i]) if len(boxes) else np.zeros((1, 1))
            hits["largest"][k] += ious[0].max() >= 0.5
            for iou in (30, 50, 70):
                hits[f"all{iou}"][k] += ious.max() >= iou / 100
    np.testing.assert_allclose(curves["boxacc"][0.5], hits["largest"] / 6, **HOST_NP)
    assert result["maxboxacc"] == pytest.approx(hits["largest"].max() / 6, **HOST)
    for iou in (30, 50, 70):
        # h * (1 / 6) there, h / 6 here: may differ in the last bit.
        np.testing.assert_allclose(curves["boxacc_v2"][iou / 100], hits[f"all{iou}"] / 6, **HOST_NP)
    located = [box_iou(box[None], g).max() >= 0.5 for box, g in zip(cam_to_boxes(cams, 0.35), gt)]
    right = np.argmax(scores, axis=1) == labels
    assert result["gt_known_loc"] == pytest.approx(np.mean(located), **HOST)
    assert result["top1_loc"] == pytest.approx(np.mean(np.array(located) & right), **HOST)
    assert result["top1_cls"] == pytest.approx(np.mean(right), **HOST)


# --------------------------------------------------------------------------
# PxAP against independent computations


def normalized(cams):
    low = cams.min(axis=(1, 2), keepdims=True)
    return (cams - low) / (cams.max(axis=(1, 2), keepdims=True) - low)


def test_pxap_equals_exact_average_precision_when_scores_sit_on_bins():
    """AP as the mean, over foreground pixels, of the precision at their score.

    With scores on distinct bins (multiples of 0.05, bins of 0.01), the
    histogram PR curve is exact, so PxAP equals this sort-free definition.
    """
    rng = np.random.default_rng(6)
    cams = rng.integers(0, 21, (5, 12, 14)).astype(np.float32) / 20
    cams[:, 0, 0], cams[:, 0, 1] = 0, 1  # already normalized
    masks = rng.random(cams.shape) < 0.3 + 0.4 * cams
    ignore = rng.random(cams.shape) < 0.1
    metrics = LocalizationMetrics()
    for cut in (slice(0, 2), slice(2, 5)):
        metrics.update(
            cams[cut],
            [[[0, 0, 5, 5]]] * (cut.stop - cut.start),
            [0] * (cut.stop - cut.start),
            [0] * (cut.stop - cut.start),
            masks=masks[cut],
            ignore=ignore[cut],
        )
    kept = ~(ignore & ~masks)
    scores, positive = cams[kept].astype(np.float64), masks[kept]
    precisions = [positive[scores >= s].mean() for s in scores[positive]]
    assert metrics.result()["pxap"] == pytest.approx(np.mean(precisions), **HOST)


def test_pxap_matches_brute_force_precision_recall_over_thresholds():
    cams, gt, labels, scores, masks = random_batch(7)
    metrics = LocalizationMetrics(cam_curve_interval=0.02)
    metrics.update(cams, gt, labels, scores, masks=masks)
    norm = normalized(cams)
    area, previous_recall = 0.0, 0.0
    for t in [1.0, *np.arange(0, 1, 0.02)[::-1]]:
        above = norm >= np.float32(t)
        true_pos = np.count_nonzero(above & masks)
        kept = np.count_nonzero(above)
        recall = true_pos / np.count_nonzero(masks)
        area += (true_pos / kept if kept else 0.0) * (recall - previous_recall)
        previous_recall = recall
    assert metrics.result()["pxap"] == pytest.approx(area, **HOST)


# --------------------------------------------------------------------------
# Errors


def good():
    cams = np.zeros((2, 6, 8), np.float32)
    return {
        "cams": cams,
        "gt_boxes": [[[0, 0, 2, 2]], [[1, 1, 3, 3]]],
        "labels": np.array([0, 1]),
        "predictions": np.array([0, 1]),
    }


@pytest.mark.parametrize(
    "change, match",
    [
        ({"cams": np.zeros((6, 8))}, r"cams.*\(B, H, W\)"),
        ({"cams": np.zeros((2, 6, 8, 1))}, "cams"),
        ({"gt_boxes": [[[0, 0, 2, 2]]]}, "gt_boxes.*2"),
        ({"gt_boxes": np.zeros((3, 1, 4)) + [0, 0, 2, 2]}, "gt_boxes.*shape"),
        ({"gt_boxes": [[[0, 0, 2]], [[0, 0, 2]]]}, r"gt_boxes\[0\]"),
        ({"gt_boxes": [[[0, 0, 2, 2]], [[0, 0, 0, 0]]]}, r"gt_boxes\[1\].*positive area"),
        ({"gt_boxes": [[[0, 0, 2, 2]], []]}, r"gt_boxes\[1\]"),
        ({"gt_boxes": [[[0, 0, 2, 2]], [[0, 0, 5, 0]]]}, "positive area"),
        ({"labels": np.array([0, 1, 2])}, r"labels.*\(2,\)"),
        ({"labels": np.array([0.0, 1.0])}, "labels.*integer"),
        ({"predictions": np.array([0])}, "predictions"),
        ({"predictions": np.zeros((3, 5))}, "predictions"),
        ({"predictions": np.zeros((2, 5, 1))}, "predictions"),
        ({"masks": np.zeros((2, 6, 7))}, "masks.*shape"),
        ({"masks": np.full((2, 6, 8), 2)}, "masks.*0 and 1"),
        ({"ignore": np.zeros((2, 6, 8), bool)}, "ignore.*masks"),
        ({"masks": np.zeros((2, 6, 8)), "ignore": np.zeros((1, 6, 8))}, "ignore.*shape"),
    ],
)
def test_bad_update_arguments(change, match):
    with pytest.raises(ValueError, match=match):
        LocalizationMetrics().update(**{**good(), **change})


def test_masks_in_every_update_or_none():
    metrics = LocalizationMetrics()
    metrics.update(**good(), masks=np.zeros((2, 6, 8), bool))
    with pytest.raises(ValueError, match="masks.*every update"):
        metrics.update(**good())
    metrics = LocalizationMetrics()
    metrics.update(**good())
    with pytest.raises(ValueError, match="masks.*every update"):
        metrics.update(**good(), masks=np.zeros((2, 6, 8), bool))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cam_threshold": 1.5}, "cam_threshold"),
        ({"cam_threshold": "0.2"}, "cam_threshold"),
        ({"cam_threshold": True}, "cam_threshold"),
        ({"iou_thresholds": 0.5}, "iou_thresholds"),
        ({"iou_thresholds": ()}, "iou_thresholds"),
        ({"iou_thresholds": (0.0, 0.5)}, "iou_thresholds"),
        ({"iou_thresholds": (0.5, 0.501)}, "iou_thresholds"),
        ({"iou_thresholds": "abc"}, "iou_thresholds"),
        ({"cam_curve_interval": 0}, "cam_curve_interval"),
        ({"cam_curve_interval": 2}, "cam_curve_interval"),
        ({"num_workers": 0}, "num_workers"),
        ({"num_workers": True}, "num_workers"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalizationMetrics(**kwargs)


def test_empty_batches_change_nothing():
    metrics = LocalizationMetrics()
    metrics.update(np.zeros((0, 5, 5)), [], np.zeros(0, int), np.zeros((0, 3)))
    metrics.update(np.zeros((0, 5, 5)), np.zeros((0, 2, 4)), np.zeros(0, int), np.zeros(0, int))
    assert metrics.result()["num_images"] == 0
    cams, gt, labels, scores, _ = random_batch(8, batch=2)
    metrics.update(cams, gt, labels, scores)
    reference = LocalizationMetrics()
    reference.update(cams, gt, labels, scores)
    assert metrics.result() == reference.result()

"""threshold_sweep (keras_has.boxes.sweep) against one OpenCV call per threshold and the
flood-fill oracle."""

import cv2
import numpy as np
import pytest
from box_oracles import (
    HOST,
    HOST_APPROX,
    blank,
    checker_noise,
    maps,
    oracle_components,
    oracle_iou,
    thresholds,
)
from hypothesis import given
from hypothesis import strategies as st

from keras_has.boxes import box_iou, cam_to_boxes, component_stats, normalize_cams, threshold_sweep


def test_sweep_hand_case():
    cam = blank(10, 10)
    cam[1:7, 1:7] = 0.5  # box (1, 1, 7, 7)
    cam[2:6, 2:6] = 1.0  # box (2, 2, 6, 6)
    cam[9, 9] = 0.5  # a far pixel: a second component at t <= 0.5
    gt = [[2, 2, 6, 8], [9, 9, 10, 10]]
    largest, every = threshold_sweep(cam, gt, [0.75, 0.0, 0.5, 0.25, 1.0])
    # t=0.75 and t=1: core, IoU 16/24 with the first box. t=0: whole image, 24/100.
    # t<=0.5: halo (1, 1, 7, 7) IoU 20/40 with the first box; the far pixel
    # matches the second box exactly (IoU 1) but is not the largest.
    np.testing.assert_allclose(largest, [16 / 24, 0.24, 0.5, 0.5, 16 / 24], **HOST)
    np.testing.assert_allclose(every, [16 / 24, 0.24, 1.0, 1.0, 16 / 24], **HOST)


def test_sweep_matches_one_opencv_call_per_threshold_on_upsampled_maps():
    rng = np.random.default_rng(3)
    small = rng.random((3, 7, 7)).astype(np.float32)
    cams = np.stack([cv2.resize(s, (96, 80), interpolation=cv2.INTER_LINEAR) for s in small])
    cams[2, 10:20, 30:40] += 3.0  # one peaked map: crops of very different heights
    gt = [rng.uniform(0, 60, (k, 2)) for k in (1, 2, 3)]
    gt = [np.concatenate([g, g + rng.uniform(5, 40, g.shape)], axis=1) for g in gt]
    thresholds = np.arange(0, 1, 0.01)
    largest, every = threshold_sweep(cams, gt, thresholds)
    for k, t in enumerate(thresholds):
        boxes = cam_to_boxes(cams, t, all_components=True)
        for i in range(3):
            ious = box_iou(boxes[i], gt[i]) if len(boxes[i]) else np.zeros((1, 1))
            # Exact: the same integer boxes through the same elementwise float64 IoU formula.
            assert largest[i, k] == ious[0].max() and every[i, k] == ious.max()


gt_boxes = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(-1, 7), st.integers(-1, 7)).map(
        lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])  # may be degenerate
    ),
    min_size=1,
    max_size=3,
)


@given(
    cams=maps,
    thresholds=st.lists(thresholds, min_size=1, max_size=6),
    boxes=st.lists(gt_boxes, min_size=4, max_size=4),
)
def test_sweep_matches_the_flood_fill_oracle(cams, thresholds, boxes):
    gt = boxes[: len(cams)]
    largest, every = threshold_sweep(cams, gt, thresholds)
    assert largest.shape == every.shape == (len(cams), len(thresholds))
    for i, cam in enumerate(cams):
        for k, t in enumerate(thresholds):
            found = [box for _, box in oracle_components(cam, t)]
            ious = [[oracle_iou(f, g) for g in gt[i]] for f in found]
            # The oracle's Python-float IoU may round differently from NumPy's: HOST.
            assert largest[i, k] == pytest.approx(max(ious[0]) if found else 0.0, **HOST_APPROX)
            assert every[i, k] == pytest.approx(
                max(max(row) for row in ious) if found else 0.0, **HOST_APPROX
            )


def per_threshold_sweep(cam, gt, thresholds):
    """The sweep with one border-following call per threshold (the reference)."""
    norm = normalize_cams(cam)
    largest, every = np.zeros(len(thresholds)), np.zeros(len(thresholds))
    for k, t in enumerate(thresholds):
        boxes, area, first = component_stats(norm >= np.float32(t))
        if len(boxes):
            ious = box_iou(boxes[np.lexsort((first[:, 1], first[:, 0], -area))], gt)
            largest[k], every[k] = ious[0].max(), ious.max()
    return largest, every


@pytest.mark.parametrize("make", [lambda: checker_noise(48, 64, 3), lambda: None])
def test_noisy_sweeps_match_one_call_per_threshold(make):
    rng = np.random.default_rng(6)
    cam = make()
    cam = rng.random((56, 56)) if cam is None else cam
    gt = np.array([[3.0, 5, 30, 40], [20, 10, 56, 48]])
    thresholds = np.arange(0, 1, 0.01)
    largest, every = threshold_sweep(cam, gt, thresholds)
    expected_largest, expected_every = per_threshold_sweep(cam, gt, thresholds)
    np.testing.assert_array_equal(largest, expected_largest)  # same boxes, same float64 IoUs
    np.testing.assert_array_equal(every, expected_every)
    for t in (0.5, 0.8):
        boxes, area, first = component_stats(normalize_cams(cam) >= np.float32(t))
        expected = boxes[np.lexsort((first[:, 1], first[:, 0], -area))]
        np.testing.assert_array_equal(cam_to_boxes(cam, t, all_components=True), expected)

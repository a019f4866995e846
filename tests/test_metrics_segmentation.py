"""Segmentation scores (FCN's score.py definitions) against cases computed by hand."""

import time

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_has.metrics import SegmentationMetrics

# Tolerances: the scores are float64 ratios of small integer counts (a few divisions, sums and
# one mean), values in [0, 1]; one pixel changes them by 1e-4 or more. Two objects holding the
# same integer matrix give bit-identical results (compared exactly).
HOST = {"rel": 1e-12, "abs": 1e-12}  # float64 arithmetic on small integer ratios
KEYS = {"mean_iou", "pixel_accuracy", "mean_accuracy", "fw_iou", "per_class_iou"}


def scores(labels, predictions, num_classes=3, ignore_label=255):
    return SegmentationMetrics(num_classes, ignore_label).update(labels, predictions).result()


def random_maps(seed, shape, num_classes, ignored=0.1):
    """Labels with about `ignored` of the pixels 255, and predictions, every class in both."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, shape)
    predictions = rng.integers(0, num_classes, shape)
    labels[rng.random(shape) < ignored] = 255
    flat_labels, flat_predictions = labels.reshape(-1), predictions.reshape(-1)
    flat_labels[:num_classes] = flat_predictions[:num_classes] = np.arange(num_classes)
    return labels, predictions


# --- by hand ---


def test_three_classes_by_hand():
    labels = [[0, 0, 0], [1, 1, 2]]
    predictions = [[0, 0, 1], [1, 2, 2]]
    metrics = SegmentationMetrics(3).update(labels, predictions)
    # hist rows true, columns predicted; diag (2, 1, 1), row sums (3, 2, 1), column sums
    # (2, 2, 2), unions (3 + 2 - 2, 2 + 2 - 1, 1 + 2 - 1) = (3, 3, 2).
    np.testing.assert_array_equal(metrics.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert metrics.confusion.dtype == np.int64
    result = metrics.result()
    assert set(result) == KEYS
    assert result["pixel_accuracy"] == pytest.approx(4 / 6, **HOST)
    assert result["mean_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3, **HOST)  # 13/18
    assert result["per_class_iou"] == pytest.approx([2 / 3, 1 / 3, 1 / 2], **HOST)
    assert result["mean_iou"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 2) / 3, **HOST)  # 1/2
    # freq (3, 2, 1) / 6: 1/2 * 2/3 + 1/3 * 1/3 + 1/6 * 1/2 = 19/36.
    assert result["fw_iou"] == pytest.approx(19 / 36, **HOST)
    assert all(type(v) is float for k, v in result.items() if k != "per_class_iou")
    assert all(type(v) is float for v in result["per_class_iou"])


def test_ignored_pixels_are_skipped():
    labels = [[0, 0, 0, 255], [1, 1, 2, 255]]
    predictions = [[0, 0, 1, 2], [1, 2, 2, 0]]  # anything in range under the ignore label
    metrics = SegmentationMetrics(3).update(labels, predictions)
    np.testing.assert_array_equal(metrics.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert metrics.result() == scores([[0, 0, 0], [1, 1, 2]], [[0, 0, 1], [1, 2, 2]])


def test_other_ignore_labels():
    labels, predictions = [0, -1, 1, 1], [0, 1, 1, 0]
    by_minus_one = SegmentationMetrics(2, ignore_label=-1).update(labels, predictions)
    np.testing.assert_array_equal(by_minus_one.confusion, [[1, 0], [1, 1]])
    # An ignore label inside [0, N): that class's pixels are skipped (its row stays 0).
    in_range = SegmentationMetrics(3, ignore_label=2).update([0, 2, 1], [0, 0, 2])
    np.testing.assert_array_equal(in_range.confusion, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    # None: nothing ignored, so 255 is out of range.
    with pytest.raises(ValueError, match=r"`labels`.*\[0, 2\)\. .*255"):
        SegmentationMetrics(2, ignore_label=None).update([0, 255], [0, 1])
    none = SegmentationMetrics(2, ignore_label=None).update([0, 1], [0, 1])
    assert none.result()["pixel_accuracy"] == 1.0  # 2/2: exact


def test_absent_classes_are_excluded():
    # 4 classes: class 2 only predicted, class 3 nowhere. hist: (0,0), (0,2), (1,1); row sums
    # (2, 1, 0, 0), column sums (1, 1, 1, 0), diag (1, 1, 0, 0), unions (2, 1, 1, 0).
    result = scores([[0, 0, 1]], [[0, 2, 1]], num_classes=4)
    assert result["per_class_iou"][:3] == pytest.approx([1 / 2, 1, 0], **HOST)
    assert result["per_class_iou"][3] is None  # no ground truth, no prediction: left out
    assert result["mean_iou"] == pytest.approx((1 / 2 + 1 + 0) / 3, **HOST)  # class 2 in: 0
    assert result["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2, **HOST)  # 2, 3 out
    assert result["pixel_accuracy"] == pytest.approx(2 / 3, **HOST)
    assert result["fw_iou"] == pytest.approx(2 / 3 * 1 / 2 + 1 / 3 * 1, **HOST)


def test_inputs_of_any_rank_and_kind():
    labels, predictions = random_maps(0, (2, 5, 6), 3)
    expected = SegmentationMetrics(3).update(labels, predictions).confusion
    import tensorflow as tf

    for to in (np.asarray, lambda a: a.tolist(), tf.constant, lambda a: a.astype(np.uint8)):
        got = SegmentationMetrics(3).update(to(labels), to(predictions)).confusion
        np.testing.assert_array_equal(got, expected)
    two_d = SegmentationMetrics(3).update(labels[0], predictions[0])
    two_d.update(labels[1], predictions[1])
    np.testing.assert_array_equal(two_d.confusion, expected)
    flat = SegmentationMetrics(3).update(labels.ravel(), predictions.ravel().astype(np.uint64))
    np.testing.assert_array_equal(flat.confusion, expected)
    empty = SegmentationMetrics(3).update(np.zeros((0, 4, 4), int), np.zeros((0, 4, 4), int))
    np.testing.assert_array_equal(empty.confusion, np.zeros((3, 3)))


def test_matches_keras_mean_iou():
    import keras

    labels, predictions = random_maps(1, (3, 16, 16), 5)
    keras_metric = keras.metrics.MeanIoU(num_classes=5, ignore_class=255)
    keras_metric.update_state(labels, predictions)
    ours = scores(labels, predictions, num_classes=5)["mean_iou"]
    # Keras accumulates in float32 and adds epsilon (1e-7) to its denominators; ours is float64.
    assert ours == pytest.approx(float(keras_metric.result()), abs=1e-6)


def test_fast_on_a_voc_sized_batch():
    labels, predictions = random_maps(2, (10, 500, 500), 21)
    metrics = SegmentationMetrics(21)
    start = time.perf_counter()
    metrics.update(labels, predictions)
    elapsed = time.perf_counter() - start
    assert metrics.confusion.sum() == (labels != 255).sum()
    assert elapsed < 1.0  # tens of milliseconds; a loose bound for loaded machines


# --- streaming, merge, reset ---


def test_two_updates_equal_one_of_the_concatenation():
    labels, predictions = random_maps(3, (4, 7, 9), 4)
    whole = SegmentationMetrics(4).update(labels, predictions)
    parts = SegmentationMetrics(4).update(labels[:1], predictions[:1])
    assert parts.update(labels[1:], predictions[1:]) is parts
    np.testing.assert_array_equal(parts.confusion, whole.confusion)  # integers: exact
    assert parts.result() == whole.result()  # same matrix: bit-identical


def test_merge():
    labels, predictions = random_maps(4, (4, 7, 9), 4)
    whole = SegmentationMetrics(4).update(labels, predictions)
    first = SegmentationMetrics(4).update(labels[:3], predictions[:3])
    second = SegmentationMetrics(4).update(labels[3:], predictions[3:])
    before = second.confusion
    assert first.merge(second) is first
    np.testing.assert_array_equal(first.confusion, whole.confusion)
    np.testing.assert_array_equal(second.confusion, before)  # `other` unchanged
    assert first.result() == whole.result()


def test_confusion_is_a_copy_and_reset_forgets():
    metrics = SegmentationMetrics(2).update([0, 1], [0, 0])
    metrics.confusion[:] = 7
    np.testing.assert_array_equal(metrics.confusion, [[1, 0], [1, 0]])
    metrics.reset()
    np.testing.assert_array_equal(metrics.confusion, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Nothing was counted"):
        metrics.result()
    assert metrics.update([1], [1]).result()["mean_iou"] == 1.0  # 1/1, one class: exact


# --- errors ---


@pytest.mark.parametrize("value", [1, 0, -3, 2.0, True, None, "3"])
def test_bad_num_classes(value):
    with pytest.raises(ValueError, match=r"`num_classes` must be an int >= 2\. Received: num"):
        SegmentationMetrics(value)


@pytest.mark.parametrize("value", [1.5, "255", True])
def test_bad_ignore_label(value):
    with pytest.raises(ValueError, match=r"`ignore_label` must be an int or None\. Received"):
        SegmentationMetrics(3, ignore_label=value)


@pytest.mark.parametrize(
    "labels, predictions, name",
    [
        ([0.0, 1.0], [0, 1], "labels"),
        ([0, 1], np.array([0.2, 0.8], np.float32), "predictions"),
        ([True, False], [0, 1], "labels"),
        ([0, 1], ["a", "b"], "predictions"),
    ],
)
def test_non_integer_maps(labels, predictions, name):
    with pytest.raises(TypeError, match=rf"`{name}` must hold integer class indices.*argmax"):
        SegmentationMetrics(3).update(labels, predictions)


def test_shapes_differ():
    with pytest.raises(ValueError, match=r"labels.shape=\(2, 3\), predictions.shape=\(3, 2\)"):
        SegmentationMetrics(3).update(np.zeros((2, 3), int), np.zeros((3, 2), int))


def test_out_of_range_values_name_the_argument():
    metrics = SegmentationMetrics(3)
    with pytest.raises(ValueError, match=r"`labels` .*\[0, 3\) or the ignore label 255.*: -1, 3"):
        metrics.update([0, 3, -1, 255, 3], [0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"`predictions` .*\[0, 3\)\. .*: 3, 255$"):
        metrics.update([0, 1, 2], [0, 3, 255])
    with pytest.raises(ValueError, match=r"`predictions`.*: 255"):  # ignored pixel: still checked
        metrics.update([0, 255], [0, 255])
    with pytest.raises(
        ValueError, match=r"`labels`.*12 distinct values out of range: 3, 4, 5, 6, 7, \.\.\."
    ):
        metrics.update(np.arange(15), np.zeros(15, int))
    np.testing.assert_array_equal(metrics.confusion, np.zeros((3, 3)))  # nothing counted


def test_nothing_counted():
    with pytest.raises(ValueError, match="Nothing was counted"):
        SegmentationMetrics(3).result()
    with pytest.raises(ValueError, match=r"Nothing was counted.*ignore_label=255"):
        SegmentationMetrics(3).update([[255, 255]], [[0, 1]]).result()


def test_merge_mismatch():
    metrics = SegmentationMetrics(3)
    for other in (SegmentationMetrics(4), SegmentationMetrics(3, ignore_label=None)):
        with pytest.raises(ValueError, match=r"`other` must have the same num_classes"):
            metrics.merge(other)
    with pytest.raises(TypeError, match=r"`other` must be a SegmentationMetrics.*ndarray"):
        metrics.merge(np.zeros((3, 3), np.int64))


# --- properties ---


@st.composite
def maps(draw):
    """(num_classes, labels with some 255, predictions); at least one pixel not ignored."""
    n = draw(st.integers(2, 6))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    labels = draw(hnp.arrays(np.int64, shape, elements=st.sampled_from([*range(n), 255])))
    labels.reshape(-1)[0] = draw(st.integers(0, n - 1))
    predictions = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, n - 1)))
    return n, labels, predictions


@given(maps())
def test_perfect_predictions_score_one(case):
    n, labels, _ = case
    result = scores(labels, np.where(labels == 255, 0, labels), n)
    # diag = row sums = column sums: every ratio is k / k and every mean of ones is exactly 1.
    for key in ("mean_iou", "pixel_accuracy", "mean_accuracy", "fw_iou"):
        assert result[key] == 1.0
    present = set(labels[labels != 255].tolist())
    assert result["per_class_iou"] == [1.0 if c in present else None for c in range(n)]


@given(maps())
def test_scores_are_fractions_and_ordered(case):
    n, labels, predictions = case
    result = scores(labels, predictions, n)
    values = [result[k] for k in KEYS - {"per_class_iou"}]
    values += [v for v in result["per_class_iou"] if v is not None]
    assert all(0.0 <= v <= 1.0 for v in values)
    # Per class with ground truth, union >= row sum, so iou <= accuracy; freq * iou <=
    # (row / total) * (diag / row) = diag / total, summed: fw_iou <= pixel_accuracy. The mean
    # IoU adds only classes without ground truth, whose IoU is 0, so mean_iou <= mean_accuracy.
    assert result["fw_iou"] <= result["pixel_accuracy"] + 1e-12  # float64 rounding
    assert result["mean_iou"] <= result["mean_accuracy"] + 1e-12  # float64 rounding


@given(maps(), st.randoms(use_true_random=False))
def test_permuting_pixels_changes_nothing(case, random):
    n, labels, predictions = case
    order = np.array(random.sample(range(labels.size), labels.size))
    shuffled = scores(labels.ravel()[order], predictions.ravel()[order], n)
    assert shuffled == scores(labels, predictions, n)  # same integer matrix: bit-identical


@given(maps(), st.integers(0, 100))
def test_counts_are_the_pixels_not_ignored(case, cut):
    n, labels, predictions = case
    metrics = SegmentationMetrics(n).update(labels, predictions)
    kept = labels != 255
    hist = metrics.confusion
    assert hist.sum() == kept.sum()
    np.testing.assert_array_equal(hist.sum(1), np.bincount(labels[kept], minlength=n))
    np.testing.assert_array_equal(hist.sum(0), np.bincount(predictions[kept], minlength=n))
    cut = cut % (labels.size + 1)  # streaming split anywhere: the same matrix
    flat_labels, flat_predictions = labels.ravel(), predictions.ravel()
    parts = SegmentationMetrics(n).update(flat_labels[:cut], flat_predictions[:cut])
    parts.update(flat_labels[cut:], flat_predictions[cut:])
    np.testing.assert_array_equal(parts.confusion, hist)

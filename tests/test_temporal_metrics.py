"""Temporal mAP (THUMOS14 / ActivityNet detection), against cases computed by hand."""

import numpy as np
import pytest

from keras_has.metrics.temporal import (
    average_precision,
    detection_map,
    interpolated_ap,
    segment_iou,
)

# Tolerances: tIoU, precision, recall and AP are float64 host arithmetic on a few small numbers
# (a handful of divisions, products and sums), values in [0, 1]; a hit turned miss changes them
# by 0.05 or more. An AP with no true positive is a sum of zero products: exactly 0.
HOST = {"abs": 1e-12}  # float64 host arithmetic (pytest.approx)


def test_segment_iou_by_hand():
    np.testing.assert_allclose(
        segment_iou((0, 10), [[5, 15], [0, 10], [10, 20], [2, 4], [-5, 20]]),
        [5 / 15, 1.0, 0.0, 2 / 10, 10 / 25],
        rtol=0,
        atol=1e-12,  # float64 host arithmetic
    )


def test_interpolated_ap_takes_the_precision_envelope():
    # Ranks: TP, FP, TP of 2 ground truths: precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
    # Envelope at recall 1/2 is max(1, 1/2, 2/3) = 1, at recall 1 it is 2/3.
    assert interpolated_ap([1, 0.5, 2 / 3], [0.5, 0.5, 1.0]) == pytest.approx(
        0.5 + 0.5 * 2 / 3, **HOST
    )
    assert interpolated_ap([], []) == 0.0  # no step: exactly 0


def test_average_precision_by_hand():
    truth = [("v1", 0, 10), ("v1", 20, 30), ("v2", 0, 10)]
    detections = [
        ("v1", 0, 9, 0.9),  # tIoU 0.9 with (0, 10): TP
        ("v1", 1, 10, 0.8),  # (0, 10) is taken; (20, 30) does not overlap: FP
        ("v2", 0, 4, 0.7),  # tIoU 0.4: TP at 0.3, FP at 0.5
        ("v3", 0, 10, 0.6),  # a video without ground truth: FP
        ("v1", 20, 30, 0.5),  # TP
    ]
    # tIoU 0.3: TP FP TP FP TP -> precision 1, 1/2, 2/3, 1/2, 3/5; recall 1/3, 1/3, 2/3, 2/3, 1.
    expected_03 = 1 / 3 * 1 + 1 / 3 * (2 / 3) + 1 / 3 * (3 / 5)
    assert average_precision(detections, truth, 0.3) == pytest.approx(expected_03, **HOST)
    # tIoU 0.5: TP FP FP FP TP -> precision 1, .5, 1/3, .25, .4; recall 1/3, 1/3, 1/3, 1/3, 2/3.
    expected_05 = 1 / 3 * 1 + 1 / 3 * 0.4
    assert average_precision(detections, truth, 0.5) == pytest.approx(expected_05, **HOST)


def test_a_detection_matches_the_best_unmatched_ground_truth():
    truth = [("v", 0, 10), ("v", 8, 18)]
    # The first detection overlaps (8, 18) best; the second then takes (0, 10).
    detections = [("v", 8, 17, 0.9), ("v", 0, 11, 0.8)]
    assert average_precision(detections, truth, 0.5) == pytest.approx(1.0, **HOST)
    # A threshold equal to the tIoU counts (>=), as ActivityNet's evaluation.
    assert average_precision([("v", 0, 5, 1.0)], [("v", 0, 10)], 0.5) == pytest.approx(1.0, **HOST)


def test_duplicates_are_false_positives():
    truth = [("v", 0, 10)]
    detections = [("v", 0, 10, 0.9), ("v", 0, 10, 0.8)]
    # Envelope: still 1.
    assert average_precision(detections, truth, 0.5) == pytest.approx(1.0, **HOST)
    detections = [("v", 0, 10, 0.8), ("v", 0, 10, 0.9), ("v", 50, 60, 0.95)]
    # FP (0.95), TP, FP -> precision 0, 1/2, 1/3 at recall 0, 1, 1: AP 1/2.
    assert average_precision(detections, truth, 0.5) == pytest.approx(0.5, **HOST)


def test_map_averages_classes_with_ground_truth_and_scores_missing_ones_zero():
    truth = [("a", 0, 0, 10), ("b", 1, 5, 10), ("c", 2, 0, 4)]
    detections = [
        ("a", 0, 0, 10, 0.9),  # class 0: AP 1
        ("b", 1, 5, 7, 0.9),  # class 1: tIoU 0.4 -> AP 1 at 0.1..0.4, 0 at 0.5
        ("a", 7, 0, 10, 0.99),  # a class without ground truth: ignored
    ]  # class 2: no detection -> AP 0
    result = detection_map(detections, truth)
    assert result["ap"][2] == [0.0] * 5  # no detection: exactly 0
    assert result["ap"][1] == pytest.approx([1, 1, 1, 1, 0], **HOST)
    assert [result[f"map@{t}"] for t in (0.1, 0.2, 0.3, 0.4)] == pytest.approx([2 / 3] * 4, **HOST)
    assert result["map@0.5"] == pytest.approx(1 / 3, **HOST)
    assert result["map_mean"] == pytest.approx((4 * 2 / 3 + 1 / 3) / 5, **HOST)


@pytest.mark.parametrize(
    "args, message",
    [
        (([], []), "`ground_truth` is empty"),
        (([], [("v", 0, 5, 5)]), "is empty"),
        (([], [("v", 0, 0, 5)], [0.0]), "`tiou_thresholds`"),
        (([], [("v", 0, 0, 5)], ["0.5"]), "`tiou_thresholds`"),
        (([], [("v", 0, 0, 5)], [True]), "`tiou_thresholds`"),
    ],
)
def test_bad_input_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        detection_map(*args)


def test_ties_in_score_keep_the_input_order():
    # Stable ranking: of two detections tied at 0.9, the first listed ranks first.
    # FP then TP: precision 0, 1/2 at recall 0, 1 -> AP 1/2; TP then FP: AP 1.
    # (ActivityNet's argsort()[::-1] would rank small tied inputs in reverse.)
    truth = [("v", 0, 10)]
    miss, hit = ("v", 50, 60, 0.9), ("v", 0, 10, 0.9)
    assert average_precision([miss, hit], truth, 0.5) == pytest.approx(0.5, **HOST)
    assert average_precision([hit, miss], truth, 0.5) == pytest.approx(1.0, **HOST)
    result = detection_map([("v", 0, *miss[1:]), ("v", 0, *hit[1:])], [("v", 0, 0, 10)], [0.5])
    assert result["map@0.5"] == pytest.approx(0.5, **HOST)  # same sums as above

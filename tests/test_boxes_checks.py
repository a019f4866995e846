"""Bad arguments of the box functions name the argument (checks of keras_has._arguments)."""

import numpy as np
import pytest

from keras_has.boxes import box_iou, cam_to_boxes, normalize_cams, threshold_sweep


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cam_to_boxes(np.zeros((2, 3, 4, 5))), "cams"),
        (lambda: cam_to_boxes(np.zeros(5)), "cams"),
        (lambda: cam_to_boxes(np.array([["a"]])), "cams"),
        (lambda: cam_to_boxes(np.zeros((2, 0, 4))), "cams"),
        (lambda: cam_to_boxes(np.full((3, 3), np.nan)), "cams"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold="high"), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold=np.inf), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold=1.5), r"threshold.*\[0, 1\]"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold=-0.1), r"threshold.*\[0, 1\]"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold=True), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold="0.5"), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), all_components="yes"), "all_components"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), num_workers=0), "num_workers"),
        (lambda: normalize_cams(np.zeros(4)), "cams"),
        (lambda: box_iou(np.zeros((2, 3)), np.zeros((1, 4))), "`a`"),
        (lambda: box_iou(np.zeros((2, 4)), np.zeros(4)), "`b`"),
        (lambda: threshold_sweep(np.zeros((2, 3, 3)), [np.zeros((1, 4))], [0.5]), "gt_boxes"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 3)), [0.5]), r"gt_boxes\[0\]"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 4)), []), "thresholds"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 4)), [0.5, 1.5]), "thresholds"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 4)), 0.5), "thresholds"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_an_image_without_ground_truth_boxes_matches_nothing():
    largest, every = threshold_sweep(np.ones((2, 3, 3)), [[[0, 0, 3, 3]], []], [0.0, 1.0])
    # Exact: IoU 1 of the whole-image box with itself at t=0, 0 at t=1 (a constant map
    # normalizes to zeros) and 0 without boxes.
    np.testing.assert_array_equal(largest, [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(every, largest)

"""Bad arguments of the box functions name the argument (keras_has.boxes.checks)."""

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
        (lambda: cam_to_boxes(np.zeros((3, 3)), all_components="yes"), "all_components"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), num_workers=0), "num_workers"),
        (lambda: normalize_cams(np.zeros(4)), "cams"),
        (lambda: box_iou(np.zeros((2, 3)), np.zeros((1, 4))), "`a`"),
        (lambda: box_iou(np.zeros((2, 4)), np.zeros(4)), "`b`"),
        (lambda: threshold_sweep(np.zeros((2, 3, 3)), [np.zeros((1, 4))], [0.5]), "gt_boxes"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 3)), [0.5]), r"gt_boxes\[0\]"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 4)), []), "thresholds"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()

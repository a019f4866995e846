"""The CAM threshold rule and min-max normalization (keras_has.boxes.threshold)."""

import numpy as np
from box_oracles import blank

from keras_has.boxes import cam_to_boxes, foreground, normalize_cams


def test_threshold_selects_pixels_and_is_inclusive():
    cam = blank()
    cam[1:7, 1:7] = 0.4  # halo
    cam[2:5, 3:6] = 1.0  # core, box (3, 2, 6, 5)
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.3), [1, 1, 7, 7])
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [3, 2, 6, 5])
    # >=: a threshold equal to the halo's normalized value keeps the halo.
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.4), [1, 1, 7, 7])
    # Threshold 0 keeps everything; 1 the maxima only.
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.0), [0, 0, 10, 8])
    np.testing.assert_array_equal(cam_to_boxes(cam, 1.0), [3, 2, 6, 5])


def test_normalization_is_min_max_per_map():
    cam = blank() + 10.0
    cam[1:7, 1:7] = 14.0  # normalizes to 0.4
    cam[2:5, 3:6] = 20.0  # normalizes to 1
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.3), [1, 1, 7, 7])
    np.testing.assert_array_equal(cam_to_boxes(-cam, 0.5), [0, 0, 10, 8])  # inverted


def test_constant_map_has_no_box_above_zero():
    cams = np.stack([np.full((6, 7), 3.0, np.float32), np.zeros((6, 7), np.float32)])
    np.testing.assert_array_equal(cam_to_boxes(cams, 0.2), np.zeros((2, 4)))
    assert [b.shape for b in cam_to_boxes(cams, 0.2, all_components=True)] == [(0, 4)] * 2
    np.testing.assert_array_equal(normalize_cams(cams), np.zeros((2, 6, 7)))  # selected fill
    # Normalized to zeros everywhere, so threshold 0 keeps the whole image.
    np.testing.assert_array_equal(cam_to_boxes(cams, 0.0), [[0, 0, 7, 6]] * 2)


def test_foreground_is_at_or_above_the_threshold_in_float32():
    normalized = np.array([[0.0, 0.5], [0.7, 1.0]], np.float32)
    # float32(0.7) is below the float64 0.7: compared in float64 the pixel would be left out.
    assert np.float64(normalized[1, 0]) < 0.7
    np.testing.assert_array_equal(foreground(normalized, 0.7), [[False, False], [True, True]])
    # Several thresholds at once, broadcast against the map.
    many = foreground(normalized, np.array([0.0, 0.5, 1.5])[:, None, None])
    np.testing.assert_array_equal(many.sum(axis=(1, 2)), [4, 3, 0])
    out = np.zeros((2, 2), bool)
    assert foreground(normalized, 0.5, out=out) is out
    np.testing.assert_array_equal(out, [[False, True], [True, True]])

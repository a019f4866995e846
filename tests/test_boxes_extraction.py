"""cam_to_boxes (keras_has.boxes.extraction): hand cases and the flood-fill oracle."""

import numpy as np
from box_oracles import blank, maps, oracle_components, thresholds
from hypothesis import given

from keras_has.boxes import cam_to_boxes, normalize_cams, threshold_sweep


def test_largest_of_two_blobs_and_all_components_by_area():
    cam = blank()
    cam[1:3, 1:3] = 1.0  # 4 pixels, box (1, 1, 3, 3)
    cam[4:7, 5:8] = 1.0  # 9 pixels, box (5, 4, 8, 7)
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 4, 8, 7])
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[5, 4, 8, 7], [1, 1, 3, 3]]
    )


def test_diagonal_neighbours_join():
    cam = blank()
    for i in range(4):
        cam[2 + i, 1 + i] = 1.0  # a diagonal line: one 8-connected component
    cam[0, 9] = 1.0
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[1, 2, 5, 6], [9, 0, 10, 1]]
    )


def test_half_open_coordinates():
    cam = blank()
    cam[3, 5] = 1.0  # pixel column 5, row 3
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 3, 6, 4])
    cam[3:5, 5:9] = 1.0  # columns 5..8, rows 3..4
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 3, 9, 5])
    cam[:] = 0
    cam[7, 9] = 1.0  # the bottom-right pixel
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [9, 7, 10, 8])


def test_ties_go_to_the_first_pixel_in_raster_order():
    cam = blank()
    cam[1, 0] = cam[2, 0] = 1.0  # first pixel (row 1, column 0)
    cam[0, 6] = cam[1, 6] = 1.0  # first pixel (row 0, column 6): first in raster order
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [6, 0, 7, 2])
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[6, 0, 7, 2], [0, 1, 1, 3]]
    )
    cam[0, 6] = 0.0  # now the left one is larger
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [0, 1, 1, 3])


def test_batch_shapes_and_dtypes():
    cams = np.random.default_rng(0).random((5, 9, 11)).astype(np.float64)
    out = cam_to_boxes(cams, 0.5)
    assert out.shape == (5, 4) and out.dtype == np.float32
    for i in range(5):
        np.testing.assert_array_equal(cam_to_boxes(cams[i], 0.5), out[i])
    every = cam_to_boxes(cams, 0.5, all_components=True)
    assert len(every) == 5 and all(b.dtype == np.float32 and b.shape[1] == 4 for b in every)
    np.testing.assert_array_equal([b[0] for b in every], out)
    norm = normalize_cams(cams.reshape(5, 1, 9, 11))
    assert norm.shape == (5, 1, 9, 11) and norm.dtype == np.float32
    # Exact: (low - low) / span is 0 and (high - low) / span is 1 in IEEE arithmetic.
    assert norm.min() == 0 and norm.max() == 1


@given(cams=maps, threshold=thresholds)
def test_cam_to_boxes_matches_the_flood_fill_oracle(cams, threshold):
    largest = cam_to_boxes(cams, threshold)
    every = cam_to_boxes(cams, threshold, all_components=True)
    for i, cam in enumerate(cams):
        expected = [box for _, box in oracle_components(cam, threshold)]
        np.testing.assert_array_equal(every[i], np.array(expected, np.float32).reshape(-1, 4))
        np.testing.assert_array_equal(largest[i], expected[0] if expected else [0, 0, 0, 0])


def test_empty_batches():
    assert cam_to_boxes(np.zeros((0, 5, 6))).shape == (0, 4)
    assert cam_to_boxes(np.zeros((0, 5, 6)), all_components=True) == []
    largest, every = threshold_sweep(np.zeros((0, 5, 6)), [], [0.2, 0.5])
    assert largest.shape == every.shape == (0, 2)

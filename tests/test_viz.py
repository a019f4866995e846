"""Pictures: heat maps, boxes in the right colours and places, Fig. 5 grids."""

import cv2
import numpy as np
import pytest

from keras_has import viz


def test_heatmap_is_jet_of_the_normalized_map():
    cam = np.array([[0.0, 2.0], [4.0, 4.0]], np.float32)
    colours = viz.heatmap(cam)
    assert colours.shape == (2, 2, 3) and colours.dtype == np.uint8
    # Jet: the max is dark red, the min dark blue, the middle green-ish.
    assert colours[1, 0, 0] > 100 and colours[1, 0, 2] == 0
    assert colours[0, 0, 2] > 100 and colours[0, 0, 0] == 0
    assert colours[0, 1, 1] == colours.max(axis=(0, 1))[1]
    np.testing.assert_array_equal(viz.heatmap(np.full((2, 2), 7.0)), viz.heatmap(np.zeros((2, 2))))


def test_overlay_draws_ground_truth_red_and_predictions_green_on_the_box_edges():
    image = np.full((20, 30, 3), 0.5, np.float32)
    picture = viz.overlay(
        image, None, [[2, 3, 12, 10]], [[15, 5, 30, 20], [0, 0, 0, 0]], thickness=1
    )
    assert picture.dtype == np.uint8 and picture.shape == (20, 30, 3)
    red, green, grey = (255, 0, 0), (0, 255, 0), (128, 128, 128)
    # Half-open boxes: the last covered pixel is x_max - 1.
    assert tuple(picture[3, 2]) == red and tuple(picture[9, 11]) == red
    assert tuple(picture[5, 15]) == green and tuple(picture[19, 29]) == green
    assert tuple(picture[6, 6]) == grey and tuple(picture[10, 12]) == grey
    assert tuple(picture[0, 0]) == grey  # the empty box is not drawn


def test_overlay_blends_the_resized_cam():
    image = np.zeros((8, 8, 3), np.uint8)
    cam = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
    picture = viz.overlay(image, cam, alpha=1.0)
    resized = cv2.resize(cam, (8, 8), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(picture, viz.heatmap(resized))


def test_comparison_grid_and_png_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 12, 3), dtype=np.uint8)
    gt = [np.array([[1, 1, 5, 5]])] * 3
    cams = np.random.default_rng(1).random((3, 4, 3))
    methods = {
        "GAP": (cams, np.zeros((3, 4))),
        "HaS": (cams, np.tile([[2, 2, 10, 14]], (3, 1))),
    }
    grid = viz.comparison(images, gt, methods)
    assert grid.shape == (28 + 3 * 16, 4 * 12, 3)
    panel = grid[28 + 16 : 28 + 32, 2 * 12 : 3 * 12]  # image 1, HaS boxes
    np.testing.assert_array_equal(panel, viz.overlay(images[1], None, gt[1], [[2, 2, 10, 14]]))
    path = viz.write_png(tmp_path / "sub" / "fig5.png", grid)
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), grid)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`image`"):
        viz.overlay(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`methods`"):
        viz.comparison(np.zeros((1, 4, 4, 3)), [[]], {})


def test_timelines_draw_ground_truth_cams_and_segments_in_their_rows():
    cams = np.zeros((1, 100))
    cams[0, 50:] = 1.0
    methods = {"A": (cams, [np.array([[25.0, 50.0, 0.9]])]), "B": (cams, [np.zeros((0, 3))])}
    picture = viz.timelines([("v", 100.0, [(0.0, 10.0)])], methods, width=200, bar=10)
    # Caption 16, ground truth 10, then per method a CAM strip 10 and its segments 10.
    assert picture.shape == (16 + 10 + 2 * 20, viz.LABEL_WIDTH + 200, 3)
    x = viz.LABEL_WIDTH
    truth, strip, segments, empty = picture[21], picture[31], picture[41], picture[61]
    assert tuple(truth[x + 10]) == viz.GROUND_TRUTH and tuple(truth[x + 30]) == (235,) * 3
    assert strip[x + 150, 0] > 100 and strip[x + 50, 2] > 100  # jet: red high, blue low
    assert tuple(segments[x + 75]) == viz.PREDICTED and tuple(segments[x + 25]) != viz.PREDICTED
    assert not (empty[x:] == viz.PREDICTED).all(-1).any()
    with pytest.raises(ValueError, match="duration"):
        viz.timelines([("v", 0.0, [])], methods)

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
    # Exact: the same OpenCV resize of the same map, and alpha 1 copies the uint8 heat map.
    np.testing.assert_array_equal(picture, viz.heatmap(resized))


def test_best_ious_take_the_best_matching_ground_truth_box():
    gt = [[[0, 0, 10, 10], [20, 20, 30, 30]], [[0, 0, 10, 10]], np.zeros((0, 4)), [[0, 0, 4, 4]]]
    pred = [[5, 0, 15, 10], [0, 0, 10, 10], [0, 0, 5, 5], [0, 0, 0, 0]]
    # Row 0: 50 / (100 + 100 - 50) with the first box, 0 with the second; row 2 has no GT.
    expected = [1 / 3, 1.0, np.nan, 0.0]
    # Ratios of small integer areas in float64: exact up to rounding.
    np.testing.assert_allclose(viz.best_ious(gt, pred), expected, rtol=0, atol=1e-12)


def _inked(region):
    """Pixels of text: clearly darker than the white background."""
    return (np.asarray(region) < 160).all(-1).sum()


def test_comparison_labels_every_column_and_writes_legend_and_ious(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 12, 3), dtype=np.uint8)
    gt = [np.array([[1, 1, 5, 5]]), np.array([[2, 2, 10, 14]]), np.zeros((0, 4))]
    cams = np.random.default_rng(1).random((3, 4, 3))
    has_boxes = np.tile([[2, 2, 10, 14]], (3, 1))
    methods = {"GAP": (cams, np.zeros((3, 4))), "HaS": (cams, has_boxes)}
    panel, width = 128, 96  # the 16 x 12 images upscaled 8 times
    grid = viz.comparison(images, gt, methods, panel=panel)
    top, row, step = viz.LEGEND + viz.HEADER, panel + viz.CAPTION, width + viz.GAP
    assert grid.shape == (top + 3 * row, 4 * step - viz.GAP, 3)
    legend = grid[: viz.LEGEND]
    swatch = (viz.LEGEND // 2) ** 2
    assert (legend == viz.GROUND_TRUTH).all(-1).sum() == swatch
    assert (legend == viz.PREDICTED).all(-1).sum() == swatch
    assert _inked(legend) > 100  # "ground truth", "prediction"
    for column in range(4):
        header = grid[viz.LEGEND : top, column * step : column * step + width]
        assert _inked(header) > 50, column
    bands = {}
    for i in range(3):
        for m, name in enumerate(methods):
            x, y = 2 * m * step, top + i * row + panel
            bands[name, i] = grid[y : y + viz.CAPTION, x : x + width]
            assert _inked(bands[name, i]) > 30, (name, i)  # "IoU ..." under the boxes
            cam_band = grid[y : y + viz.CAPTION, x + step : x + step + width]
            assert (cam_band == 255).all()
    # The labels follow the IoUs: same IoU, same label; another IoU or none, another label.
    np.testing.assert_array_equal(bands["GAP", 0], bands["GAP", 1])
    assert not np.array_equal(bands["GAP", 0], bands["HaS", 0])
    assert not np.array_equal(bands["HaS", 0], bands["HaS", 1])
    assert not np.array_equal(bands["GAP", 0], bands["GAP", 2])
    np.testing.assert_array_equal(bands["GAP", 2], bands["HaS", 2])  # both "IoU n/a"
    # Hand-computed: [2, 2, 10, 14] vs [1, 1, 5, 5] is 9 / (96 + 16 - 9), vs itself 1.
    ious = {"GAP": [0.0, 0.0, np.nan], "HaS": [9 / 103, 1.0, np.nan]}
    for name, (_, boxes) in methods.items():
        # Ratios of small integer areas in float64: exact up to rounding.
        np.testing.assert_allclose(viz.best_ious(gt, boxes), ious[name], rtol=0, atol=1e-12)
    path = viz.write_png(tmp_path / "sub" / "fig5.png", grid)
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), grid)


def test_comparison_panels_are_overlays_resized_with_their_boxes():
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 12, 3), dtype=np.uint8)
    gt = [np.array([[1, 1, 5, 5]])] * 2
    cams = np.random.default_rng(1).random((2, 4, 3))
    methods = {"GAP": (cams, np.zeros((2, 4))), "HaS": (cams, np.tile([[2, 2, 10, 14]], (2, 1)))}
    native = viz.comparison(images, gt, methods, panel=16)  # no resize
    y, x = viz.LEGEND + viz.HEADER + 16 + viz.CAPTION, 2 * (12 + viz.GAP)  # image 1, HaS
    np.testing.assert_array_equal(
        native[y : y + 16, x : x + 12], viz.overlay(images[1], None, gt[1], [[2, 2, 10, 14]])
    )
    np.testing.assert_array_equal(
        native[y : y + 16, x + 12 + viz.GAP : x + 24 + viz.GAP],
        viz.overlay(images[1], cams[1], alpha=0.5),
    )
    big = viz.comparison(images, gt, methods, panel=64)  # 4 times: 64 x 48 panels
    y, x = viz.LEGEND + viz.HEADER + 64 + viz.CAPTION, 2 * (48 + viz.GAP)
    panel = big[y : y + 64, x : x + 48]
    # Boxes scale with the image: [1, 1, 5, 5] -> [4, 4, 20, 20], [2, 2, 10, 14] -> [8, 8, 40, 56].
    assert tuple(panel[4, 4]) == viz.GROUND_TRUTH and tuple(panel[19, 19]) == viz.GROUND_TRUTH
    assert tuple(panel[8, 30]) == viz.PREDICTED and tuple(panel[55, 39]) == viz.PREDICTED


def test_bad_inputs():
    with pytest.raises(ValueError, match="`image`"):
        viz.overlay(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`methods`"):
        viz.comparison(np.zeros((1, 4, 4, 3)), [[]], {})


def _runs(flags):
    """[start, stop) of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def test_timelines_draw_ground_truth_cams_and_segments_in_their_rows():
    cams = np.zeros((1, 100))
    cams[0, 50:] = 1.0
    methods = {"A": (cams, [np.array([[25.0, 50.0, 0.9]])]), "B": (cams, [np.zeros((0, 3))])}
    picture = viz.timelines([("v", 100.0, [(0.0, 10.0)])], methods, width=200, bar=20)
    # Caption 28, ground truth 20, then per method a CAM strip 20 and its segments 20, axis.
    assert picture.shape == (28 + 20 + 2 * 40 + viz.AXIS, viz.LABEL_WIDTH + 200, 3)
    x = viz.LABEL_WIDTH
    truth, strip, segments, empty = picture[38], picture[58], picture[78], picture[118]
    assert tuple(truth[x + 10]) == viz.GROUND_TRUTH and tuple(truth[x + 30]) == (235,) * 3
    assert strip[x + 150, 0] > 100 and strip[x + 50, 2] > 100  # jet: red high, blue low
    assert tuple(segments[x + 75]) == viz.PREDICTED and tuple(segments[x + 25]) != viz.PREDICTED
    assert not (empty[x:] == viz.PREDICTED).all(-1).any()
    with pytest.raises(ValueError, match="duration"):
        viz.timelines([("v", 0.0, [])], methods)


def test_timelines_name_each_cam_strip_beside_it():
    cams = np.linspace(0.0, 1.0, 50)[None]
    methods = {"Video-full": (cams, [np.zeros((0, 2))]), "Video-HaS": (cams, [np.zeros((0, 2))])}
    picture = viz.timelines([("v", 30.0, [])], methods, width=300)
    data, labels = picture[:, viz.LABEL_WIDTH :], picture[:, : viz.LABEL_WIDTH]
    strips = _runs(((data[..., 2] > 100) & (data[..., 0] < 60)).any(1))  # jet blue at t = 0
    assert [b - a for a, b in strips] == [20, 20]  # one strip per method, default bar 20
    texts = _runs((labels < 160).all(-1).any(1))
    for a, b in strips:
        assert sum(a <= lo and hi <= b for lo, hi in texts) == 1, (a, b, texts)
    # No label straddles a strip edge.
    assert all(hi <= a or lo >= b or (a <= lo and hi <= b) for lo, hi in texts for a, b in strips)


def test_timelines_time_axis_has_ticks_with_labels_in_seconds():
    methods = {"A": (np.zeros((1, 10)), [np.zeros((0, 2))])}
    width, duration = 400, 100.0
    picture = viz.timelines([("v", duration, [])], methods, width=width)
    axis = picture[-viz.AXIS :]
    assert (axis[0, viz.LABEL_WIDTH :] == 0).all()  # the base line
    assert _inked(axis[:, : viz.LABEL_WIDTH]) > 20  # "time (s)"
    ticks = (axis[1:6, viz.LABEL_WIDTH :] == 0).all(-1).all(0)
    # 100 s on 400 px: at most 400 // 60 = 6 intervals of 1, 2 or 5 * 10^k s: 20 s.
    expected = [0, 80, 160, 240, 320, width - 1]
    np.testing.assert_array_equal(np.flatnonzero(ticks), expected)
    for x in expected:
        x = viz.LABEL_WIDTH + min(max(x, 15), width - 15)
        assert _inked(axis[7:, x - 15 : x + 15]) > 5, x  # its number below it


def test_voc_palette_is_the_devkits():
    palette = viz.voc_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    # The VOC devkit's colours (VOClabelcolormap): background, aeroplane, person, void.
    assert palette[[0, 1, 15, 255]].tolist() == [
        [0, 0, 0], [128, 0, 0], [192, 128, 128], [224, 224, 192]
    ]  # fmt: skip
    assert len({tuple(c) for c in palette[:21]}) == 21


def test_segmentation_rows_layout_and_colours():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    truth = np.zeros((2, 8, 8), np.uint8)
    truth[:, :4] = 1
    truth[1, 7, 7] = 255
    picture = viz.segmentation_rows(images, {"truth": truth, "model": truth * 0 + 15}, panel=16)
    step = 16 + viz.GAP
    assert picture.shape == (viz.HEADER + 2 * step - viz.GAP, 3 * step - viz.GAP, 3)
    first = picture[viz.HEADER : viz.HEADER + 16]
    # Nearest-neighbour scaling by 2: exact colours.
    assert first[0, step].tolist() == [128, 0, 0] and first[15, step].tolist() == [0, 0, 0]
    assert first[0, 2 * step].tolist() == [192, 128, 128]
    second = picture[viz.HEADER + step : viz.HEADER + step + 16]
    assert second[15, step + 15].tolist() == [224, 224, 192]  # void

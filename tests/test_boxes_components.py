"""Connected components (keras_has.boxes.components): border following against OpenCV's
labelling and a flood fill, and the choice of labelling for noisy maps."""

from unittest import mock

import cv2
import numpy as np
import pytest
from box_oracles import checker_noise, maps, oracle_components, smooth_maps, thresholds
from hypothesis import given

from keras_has.boxes import cam_to_boxes, component_stats, components, threshold_sweep


@pytest.mark.parametrize("density", [0.1, 0.4, 0.6, 0.8, 0.95])
def test_component_stats_match_opencv_labelling(density):
    """Border following + Pick's theorem against connectedComponentsWithStats.

    Noise masks have many holes, spurs and pinches, and touch the borders.
    """
    rng = np.random.default_rng(int(density * 100))
    for _ in range(20):
        rows, cols = rng.integers(1, 40, 2)
        mask = (rng.random((rows, cols)) < density).astype(np.uint8)
        boxes, area, first = component_stats(mask)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        expected = {}
        for label in range(1, count):
            x, y, w, h, pixels = stats[label]
            ys, xs = np.nonzero(labels == label)
            expected[(ys[0], xs[0])] = (x, y, x + w, y + h, pixels)
        got = {
            (r, c): (*b, a) for (r, c), b, a in zip(first.tolist(), boxes.tolist(), area.tolist())
        }
        assert got == expected


@pytest.mark.parametrize("density", [0.05, 0.5, 0.97])
def test_labelling_gives_the_components_of_border_following(monkeypatch, density):
    # Stacked noise bands: thousands of components, many of equal size (ties).
    rng = np.random.default_rng(int(100 * density))
    heights = rng.integers(1, 60, 12)
    canvas, starts = components.stack_masks([rng.random((h, 70)) < density for h in heights], 70)
    row0 = rng.integers(0, 9, len(heights))
    found = {}
    for labelled in (False, True):
        monkeypatch.setattr(components, "_use_labelling", lambda _, labelled=labelled: labelled)
        comps = components.Components(canvas, starts, row0, 5)
        found[labelled] = [comps.band, comps.boxes, comps.area, comps.starts, comps.present]
    assert len(found[True][0]) >= len(heights)
    for a, b in zip(found[False], found[True]):
        np.testing.assert_array_equal(a, b)


@given(cams=maps, threshold=thresholds)
def test_labelling_matches_the_flood_fill_oracle(cams, threshold):
    with mock.patch.object(components, "_use_labelling", lambda _: True):
        every = cam_to_boxes(cams, threshold, all_components=True)
    for i, cam in enumerate(cams):
        expected = [box for _, box in oracle_components(cam, threshold)]
        np.testing.assert_array_equal(every[i], np.array(expected, np.float32).reshape(-1, 4))


def test_noisy_maps_are_labelled_and_smooth_maps_traced(monkeypatch):
    chosen = []
    choose = components._use_labelling
    monkeypatch.setattr(
        components, "_use_labelling", lambda c: chosen.append(choose(c)) or chosen[-1]
    )
    gt = [np.array([[10.0, 10, 60, 50]])] * 3
    threshold_sweep(smooth_maps(3, seed=4), gt, np.arange(0, 1, 0.01), num_workers=1)
    assert chosen == [False] * 3
    chosen.clear()
    noisy = np.stack([checker_noise(80, 96, 0), np.random.default_rng(1).random((80, 96))])
    threshold_sweep(noisy, gt[:2], np.arange(0, 1, 0.01), num_workers=1)
    assert chosen == [True] * 2
    chosen.clear()
    cam_to_boxes(noisy, 0.3, num_workers=1)
    assert chosen == [True]


def test_no_border_following_call_meets_a_noisy_stack(monkeypatch):
    # Border following slows down per contour as one call's contours grow:
    # 44 s for this map's sweep with all 100 masks in one call.
    calls = []
    trace = cv2.findContours

    def spy(mask, *args):
        contours, hierarchy = trace(mask, *args)
        calls.append((len(contours), mask.size))
        return contours, hierarchy

    monkeypatch.setattr(cv2, "findContours", spy)
    cams = np.stack([checker_noise(48, 64, 2), smooth_maps(1, seed=5, size=(48, 64))[0]])
    gt = [np.array([[4.0, 4, 40, 30]])] * 2
    threshold_sweep(cams, gt, np.arange(0, 1, 0.01), num_workers=1)
    cam_to_boxes(np.repeat(cams[:1], 8, axis=0), 0.5, num_workers=1)
    assert calls  # the smooth map is traced
    assert all(contours <= pixels / 50 for contours, pixels in calls), calls

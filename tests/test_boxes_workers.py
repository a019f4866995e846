"""Threads and chunks (keras_has.boxes.workers) change no box."""

import numpy as np

from keras_has.boxes import cam_to_boxes, components, threshold_sweep


def test_threads_and_chunks_give_the_same_boxes(monkeypatch):
    cams = np.random.default_rng(1).random((7, 12, 9)).astype(np.float32)
    gt = [[[0, 0, 4, 4], [3, 2, 9, 12]]] * 7
    thresholds = np.linspace(0, 1, 30)
    expected = cam_to_boxes(cams, 0.6, num_workers=1)
    expected_all = cam_to_boxes(cams, 0.6, all_components=True, num_workers=1)
    expected_sweep = threshold_sweep(cams, gt, thresholds, num_workers=1)
    # Two maps per call in cam_to_boxes, a few bands per call in the sweep.
    monkeypatch.setattr(components, "MAX_CANVAS_PIXELS", 2 * 13 * 9)
    for workers in (1, 2, 3):
        np.testing.assert_array_equal(cam_to_boxes(cams, 0.6, num_workers=workers), expected)
        got = cam_to_boxes(cams, 0.6, all_components=True, num_workers=workers)
        for a, b in zip(got, expected_all):
            np.testing.assert_array_equal(a, b)
        sweep = threshold_sweep(cams, gt, thresholds, num_workers=workers)
        np.testing.assert_array_equal(sweep, expected_sweep)  # same boxes, same float64 IoUs

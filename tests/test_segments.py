"""1-D CAMs to action segments: runs above a fraction of the max, in seconds."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_has.segments import above_threshold, cam_to_segments, runs

# Tolerances: segment times are run indices times the step and scores a float64 mean divided
# by the max, host arithmetic on a few numbers; a step more or less changes them by far more.
HOST = {"rtol": 0, "atol": 1e-12}  # float64 host arithmetic


def test_runs_are_half_open_and_cover_the_edges():
    mask = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool)
    np.testing.assert_array_equal(runs(mask), [[0, 2], [4, 5], [6, 9]])
    assert runs(np.zeros(5, bool)).shape == (0, 2)
    np.testing.assert_array_equal(runs(np.ones(3, bool)), [[0, 3]])


def test_segments_by_hand():
    cam = np.array([0.0, 1.0, 3.0, 4.0, 1.0, -2.0, 5.0, 5.0, 0.0])
    # max 5, threshold 0.5 -> steps >= 2.5: [2, 4) and [6, 8); 2 s per step.
    got = cam_to_segments(cam, threshold=0.5, step_seconds=2.0)
    np.testing.assert_allclose(got, [[4.0, 8.0, (3 + 4) / 2 / 5], [12.0, 16.0, 1.0]], **HOST)


def test_threshold_is_a_fraction_of_the_raw_max_not_of_the_range():
    # Min-max normalization would put the zeros at 0.5 of the range and keep them.
    cam = np.array([-10.0, 0.0, 0.0, 10.0, 0.0])
    np.testing.assert_allclose(cam_to_segments(cam, 0.5), [[3.0, 4.0, 1.0]], **HOST)


def test_a_batch_gives_one_array_per_video_with_its_own_step():
    cams = np.array([[0, 1, 1, 0], [1, 0, 0, 1]], np.float32)
    first, second = cam_to_segments(cams, 0.5, step_seconds=[1.0, 0.5])
    np.testing.assert_allclose(first, [[1.0, 3.0, 1.0]], **HOST)
    np.testing.assert_allclose(second, [[0.0, 0.5, 1.0], [1.5, 2.0, 1.0]], **HOST)


def test_segments_threshold_in_the_cams_own_precision_as_above_threshold():
    cam = np.array([1.0, 0.7], np.float32)
    # float32(0.7) is below the float64 0.7: compared in float64, step 1 would be left out.
    assert np.float64(cam[1]) < 0.7
    np.testing.assert_array_equal(above_threshold(cam, 0.7), [True, True])
    # Exact: run indices times a step of 1.0.
    np.testing.assert_array_equal(cam_to_segments(cam, 0.7)[:, :2], [[0.0, 2.0]])


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(1, 30), elements=st.floats(-5, 5, width=32)),
    st.floats(0, 1),
)
def test_segments_are_the_runs_of_the_one_1d_rule(cam, threshold):
    # One rule for `cam_to_segments` and the temporal recipe's coverage (`above_threshold`).
    found = cam_to_segments(cam, threshold)
    # Exact: run indices times a step of 1.0.
    np.testing.assert_array_equal(found[:, :2], runs(above_threshold(cam, threshold)))


def test_a_cam_without_a_positive_max_has_no_detections():
    assert cam_to_segments(np.array([-1.0, -2.0, -0.5]), 0.5).shape == (0, 3)
    assert cam_to_segments(np.zeros(4), 0.5).shape == (0, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cams": np.zeros((2, 2, 2))}, r"`cams` must have shape \(T,\) or \(B, T\)"),
        ({"cams": np.zeros(0)}, "`cams` has an empty map"),
        ({"cams": np.array(["a"])}, "`cams` must hold real numbers"),
        ({"cams": np.ones(3), "threshold": 1.5}, "`threshold`"),
        ({"cams": np.ones(3), "threshold": "0.5"}, "`threshold`"),
        ({"cams": np.ones(3), "step_seconds": 0.0}, "`step_seconds`"),
        ({"cams": np.ones((2, 3)), "step_seconds": [1.0, -1.0]}, "`step_seconds`"),
        ({"cams": np.array([1.0, np.nan])}, "finite"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cam_to_segments(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=40),
    st.floats(0.05, 1.0),
    st.floats(0.1, 3.0),
)
def test_segments_are_exactly_the_steps_above_the_threshold(values, threshold, step):
    cam = np.array(values)
    found = cam_to_segments(cam, threshold, step)
    covered = np.zeros(len(cam), bool)
    for start, end, score in found:
        a, b = round(start / step), round(end / step)
        assert not covered[a:b].any()  # disjoint
        covered[a:b] = True
        # float64 host arithmetic: a mean of values >= threshold * max, divided by the max.
        assert threshold - 1e-9 <= score <= 1 + 1e-9
        # The same float64 mean and division; scores are >= 0.05, so relative 1e-12.
        np.testing.assert_allclose(score, np.mean(cam[a:b]) / cam.max(), rtol=1e-12, atol=0)
    expected = cam >= threshold * cam.max() if cam.max() > 0 else np.zeros(len(cam), bool)
    np.testing.assert_array_equal(covered, expected)
    # Runs are maximal: two detections never touch.
    assert all(found[i, 1] < found[i + 1, 0] for i in range(len(found) - 1))

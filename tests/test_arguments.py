"""The package's argument checks (keras_has._arguments): each accepts exactly its kind."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_has._arguments import (
    as_bool,
    as_box_lists,
    as_boxes,
    as_choice,
    as_fraction,
    as_fractions,
    as_int,
    as_maps,
    as_positive,
    check_finite,
)

INTERVALS = {  # the fraction intervals, written independently of the module
    "[]": lambda x: 0 <= x <= 1,
    "[)": lambda x: 0 <= x < 1,
    "(]": lambda x: 0 < x <= 1,
    "()": lambda x: 0 < x < 1,
}
EDGES = [0.0, -0.0, 1.0, np.nextafter(0.0, -1.0), np.nextafter(1.0, 2.0), 5e-324, np.nan]
reals = st.one_of(st.floats(), st.sampled_from(EDGES), st.integers(-3, 3))
NUMPY_INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
NOT_NUMBERS = [True, False, np.bool_(True), "0.5", None, [0.5], np.array(0.5)]


@given(value=reals, ends=st.sampled_from(sorted(INTERVALS)), numpy=st.booleans())
def test_a_fraction_is_exactly_a_number_in_its_interval(value, ends, numpy):
    value = np.float64(value) if numpy else value
    if INTERVALS[ends](value):
        got = as_fraction(value, "p", ends)
        # Exact: the value itself, as a Python float.
        assert type(got) is float and got == float(value)
    else:
        with pytest.raises(ValueError, match=rf"`p` must be a number in \{ends[0]}0, 1\{ends[1]}"):
            as_fraction(value, "p", ends)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_a_fraction_is_never_a_bool_a_string_or_an_array(value):
    with pytest.raises(ValueError, match="`p` must be a number in"):
        as_fraction(value, "p")


@given(
    values=st.lists(reals, max_size=5),
    ends=st.sampled_from(sorted(INTERVALS)),
)
def test_fractions_are_a_non_empty_sequence_of_fractions_in_order(values, ends):
    if values and all(INTERVALS[ends](v) for v in values):
        got = as_fractions(values, "ts", ends)
        # Exact: the values themselves, as float64, in the given order.
        np.testing.assert_array_equal(got, np.asarray(values, np.float64))
        assert got.dtype == np.float64
    else:
        with pytest.raises(ValueError, match="`ts` must be a non-empty 1-D sequence of numbers"):
            as_fractions(values, "ts", ends)


@pytest.mark.parametrize(
    "values", [0.5, [[0.5]], [True], ["0.5"], "abc", [[0.1], [0.2, 0.3]], [0.5, None]]
)
def test_fractions_refuse_scalars_nesting_bools_and_strings(values):
    with pytest.raises(ValueError, match="`ts` must be a non-empty 1-D sequence"):
        as_fractions(values, "ts")


@given(
    value=st.integers(-(2**40), 2**40),
    minimum=st.none() | st.integers(-5, 5),
    maximum=st.none() | st.integers(-5, 5),
    numpy=st.sampled_from([None, np.int64, np.int32]),
)
def test_an_int_is_exactly_an_integer_within_its_bounds(value, minimum, maximum, numpy):
    if numpy is not None:
        value = numpy(np.clip(value, -(2**31), 2**31 - 1))
    inside = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if inside:
        got = as_int(value, "n", minimum, maximum)
        assert type(got) is int and got == value
    else:
        with pytest.raises(ValueError, match="`n` must be an int"):
            as_int(value, "n", minimum, maximum)


@pytest.mark.parametrize("kind", NUMPY_INTS)
def test_numpy_integers_are_ints(kind):
    got = as_int(kind(3), "n", minimum=1)
    assert type(got) is int and got == 3


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 3.0, np.float32(3), "3", [3]])
def test_bools_floats_and_strings_are_not_ints(value):
    with pytest.raises(ValueError, match="`n` must be an int"):
        as_int(value, "n")


def test_none_is_an_int_only_where_allowed():
    assert as_int(None, "seed", none=True) is None
    with pytest.raises(ValueError, match=r"`seed` must be an int\. Received: seed=None"):
        as_int(None, "seed")


@given(value=reals)
def test_a_positive_number_is_finite_and_above_zero(value):
    if np.isfinite(value) and value > 0:
        # Exact: the value itself.
        assert as_positive(value, "rate") == float(value)
    else:
        with pytest.raises(ValueError, match="`rate` must be a finite number > 0"):
            as_positive(value, "rate")


def test_bools_choices_and_finite_values():
    assert as_bool(np.bool_(True), "flag") is True
    for value in (1, "yes", None):
        with pytest.raises(ValueError, match="`flag` must be a bool"):
            as_bool(value, "flag")
    assert as_choice("skip", "on_missing", ("error", "skip")) == "skip"
    for value in ("Skip", None, ["skip"]):
        with pytest.raises(ValueError, match="`on_missing` must be one of 'error', 'skip'"):
            as_choice(value, "on_missing", ("error", "skip"))
    check_finite([np.zeros(2), np.ones(2)], "cams")
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="`cams` must hold finite values"):
            check_finite([np.zeros(2), np.array([0.0, bad])], "cams")


@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
    axes=st.sampled_from([1, 2]),
)
def test_maps_have_one_of_their_ranks_and_no_empty_map(shape, axes):
    ranks = (axes, axes + 1)
    values = np.zeros(shape, np.float32)
    if len(shape) in ranks and 0 not in shape[len(shape) - axes :]:
        assert as_maps(values, "cams", ranks, axes) is values
    else:
        with pytest.raises(ValueError, match="`cams` (must have shape|has an empty map)"):
            as_maps(values, "cams", ranks, axes)


def test_box_lists_from_lists_arrays_and_ragged_tensors():
    class Ragged:  # the one method of tf.RaggedTensor used
        def to_list(self):
            return [[[0, 0, 2, 2]], []]

    for values in ([[[0, 0, 2, 2]], []], ([[0, 0, 2, 2]], np.zeros((0, 4))), Ragged()):
        first, second = as_box_lists(values, 2)
        # Exact: integer coordinates as float64.
        np.testing.assert_array_equal(first, [[0, 0, 2, 2]])
        assert second.shape == (0, 4) and first.dtype == second.dtype == np.float64
    padded = as_box_lists(np.zeros((2, 3, 4)), 2)
    assert [b.shape for b in padded] == [(3, 4), (3, 4)]


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: as_int(0, "num_workers", minimum=1, none=True),
            r"^`num_workers` must be an int >= 1 or None\. Received: num_workers=0$",
        ),
        (
            lambda: as_int(9, "num_classes", 2, 8),
            r"^`num_classes` must be an int in \[2, 8\]\. Received: num_classes=9$",
        ),
        (lambda: as_int(9, "k", maximum=8), r"^`k` must be an int <= 8\. Received: k=9$"),
        (
            lambda: as_fraction(1.0, "momentum", "[)"),
            r"^`momentum` must be a number in \[0, 1\)\. Received: momentum=1\.0$",
        ),
        (
            lambda: as_fractions([0.0], "iou_thresholds", "(]"),
            (
                r"^`iou_thresholds` must be a non-empty 1-D sequence of numbers in \(0, 1\]\. "
                r"Received: iou_thresholds=\[0\.0\]$"
            ),
        ),
        (
            lambda: as_positive(0, "features_per_second"),
            r"^`features_per_second` must be a finite number > 0\. Received: features_per_second=0$",
        ),
        (
            lambda: as_maps(np.zeros(3), "cams"),
            r"^`cams` must have shape \(H, W\) or \(B, H, W\)\. Received: shape=\(3,\)$",
        ),
        (
            lambda: as_maps(np.zeros((2, 2, 2)), "cams", (1, 2), axes=1),
            r"^`cams` must have shape \(T,\) or \(B, T\)\. Received: shape=\(2, 2, 2\)$",
        ),
        (lambda: as_maps(np.zeros((2, 0, 3)), "cams"), r"^`cams` has an empty map\."),
        (lambda: as_maps([["a"]], "cams"), r"^`cams` must hold real numbers\."),
        (lambda: as_boxes(np.zeros((2, 3)), "a"), r"^`a` must have shape \(N, 4\)"),
        (lambda: as_boxes([[0, 0, np.inf, 1]], "b"), r"^`b` must hold finite coordinates\.$"),
        (
            lambda: as_box_lists([[[0, 0, 1, 1]]], 2),
            r"^`gt_boxes` must hold one \(M_i, 4\) array of boxes per map: 2\. Received: 1$",
        ),
        (
            lambda: as_box_lists(np.zeros((3, 1, 4)), 2),
            r"^`gt_boxes` as an array must have shape \(B, M, 4\) with B = 2",
        ),
        (lambda: as_box_lists([[[0, 0, 1]], []], 2), r"^`gt_boxes\[0\]` must have shape \(N, 4\)"),
    ],
)
def test_messages_name_the_argument_and_what_it_expects(call, message):
    with pytest.raises(ValueError, match=message):
        call()

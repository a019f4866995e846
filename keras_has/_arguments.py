"""Argument checks shared by the package: one function per kind of argument.

Each `as_*` returns the argument in the form its callers use, or raises
ValueError naming the argument and what it expects (the package raises
ValueError for every bad argument, wrong types included). Numbers are Python
or NumPy numbers and ints Python or NumPy integers; bools are neither.
Fractions lie between 0 and 1, with the ends written as intervals are:
"[]" both ends in, "[)", "(]", "()".
"""

import numbers

import numpy as np

_MAP_SHAPES = {1: ("(T,)", "(B, T)"), 2: ("(H, W)", "(B, H, W)")}  # by map axes: one, batch


def is_int(value):
    """Whether `value` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a Python or NumPy real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_int(value, name, minimum=None, maximum=None, none=False):
    """`value` as an int in [minimum, maximum] (either bound optional); None if `none`."""
    if value is None and none:
        return None
    if (
        is_int(value)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    ):
        return int(value)
    if maximum is None:
        bounds = "" if minimum is None else f" >= {minimum}"
    else:
        bounds = f" <= {maximum}" if minimum is None else f" in [{minimum}, {maximum}]"
    alternative = " or None" if none else ""
    raise ValueError(f"`{name}` must be an int{bounds}{alternative}. Received: {name}={value!r}")


def as_bool(value, name):
    """`value`, a Python or NumPy bool, as a bool."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")


def as_choice(value, name, choices):
    """`value`, one of the strings `choices`."""
    if isinstance(value, str) and value in choices:
        return value
    listed = ", ".join(repr(c) for c in choices)
    raise ValueError(f"`{name}` must be one of {listed}. Received: {name}={value!r}")


def as_positive(value, name):
    """`value`, a finite number > 0, as a float."""
    if is_number(value) and 0 < value < np.inf:
        return float(value)
    raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")


def as_fraction(value, name, ends="[]"):
    """`value`, a number between 0 and 1 with `ends` (a CAM threshold: "[]"), as a float."""
    if is_number(value) and _in_unit_interval(float(value), ends):
        return float(value)
    interval = f"{ends[0]}0, 1{ends[1]}"
    raise ValueError(f"`{name}` must be a number in {interval}. Received: {name}={value!r}")


def as_fractions(values, name, ends="[]"):
    """`values`, a non-empty 1-D sequence of fractions with `ends`, as float64 (T,), in order.

    CAM thresholds ("[]") and IoU thresholds ("(]").
    """
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nested sequences
        array = np.asarray(())
    if not (
        array.dtype.kind in "iuf"
        and array.ndim == 1
        and array.size > 0
        and _in_unit_interval(array, ends).all()
    ):
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence of numbers in "
            f"{ends[0]}0, 1{ends[1]}. Received: {name}={values!r}"
        )
    return array.astype(np.float64)


def _in_unit_interval(values, ends):
    """Elementwise, whether `values` lie between 0 and 1 with `ends` (NaN does not)."""
    above = values > 0 if ends[0] == "(" else values >= 0
    below = values < 1 if ends[1] == ")" else values <= 1
    return above & below


def as_maps(values, name="cams", ranks=(2, 3), axes=2):
    """`values` as a NumPy array of real numbers of one of `ranks`.

    A map has `axes` axes ((H, W) or, with `axes=1`, (T,)), none of them empty;
    the axes before are the batch. Values are not checked: see `check_finite`.
    """
    try:
        array = np.asarray(values)
    except Exception as error:  # any failure is a bad argument
        raise ValueError(f"`{name}` must be an array. Received: {values!r}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold real numbers. Received: dtype={array.dtype}")
    if array.ndim not in ranks:
        named = _MAP_SHAPES[axes]
        shapes = " or ".join(
            named[r - axes] if 0 <= r - axes < len(named) else f"rank {r}" for r in ranks
        )
        raise ValueError(f"`{name}` must have shape {shapes}. Received: shape={array.shape}")
    if 0 in array.shape[array.ndim - axes :]:
        raise ValueError(f"`{name}` has an empty map. Received: shape={array.shape}")
    return array


def check_finite(values, name):
    """Raises unless all of `values` (an array, or a list of equal-shaped ones) is finite."""
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` must hold finite values (found NaN or inf).")


def as_boxes(values, name="boxes"):
    """`values` as a float64 (N, 4) array of finite (x_min, y_min, x_max, y_max) boxes."""
    array = _float64(values, name, "an (N, 4) array of boxes")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"`{name}` must have shape (N, 4) (x_min, y_min, x_max, y_max). "
            f"Received: shape={array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite coordinates.")
    return array


def as_box_lists(values, count, name="gt_boxes"):
    """`values` as a list of `count` float64 (M_i, 4) arrays (`as_boxes`), one per map.

    Takes a list or tuple of (M_i, 4) array-likes (an empty one: no boxes), a
    (count, M, 4) array or a `tf.RaggedTensor`.
    """
    if hasattr(values, "to_list"):  # tf.RaggedTensor
        values = values.to_list()
    if isinstance(values, (list, tuple)):
        if len(values) != count:
            raise ValueError(
                f"`{name}` must hold one (M_i, 4) array of boxes per map: {count}. "
                f"Received: {len(values)}"
            )
        items = [np.zeros((0, 4)) if np.size(item) == 0 else item for item in values]
    else:
        array = _float64(values, name, "a list of (M_i, 4) arrays or a (B, M, 4) array")
        if array.shape[:1] != (count,) or array.shape[2:] != (4,):
            raise ValueError(
                f"`{name}` as an array must have shape (B, M, 4) with B = {count}, one "
                f"entry per map. Received: shape={array.shape}"
            )
        items = list(array)
    return [as_boxes(item, f"{name}[{i}]") for i, item in enumerate(items)]


def _float64(values, name, what):
    """`values` as a float64 array; ValueError "`name` must be `what`" if they are not numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be {what}. Received: {values!r}") from error

"""Argument checks of the box functions: maps, thresholds and boxes.

Each raises ValueError naming the argument.
"""

import numpy as np


def as_maps(cams, name="cams", ranks=(2, 3)):
    """`cams` as a NumPy array of one of `ranks`, with a clear error if not."""
    try:
        array = np.asarray(cams)
    except Exception as error:  # any failure is a bad argument
        raise ValueError(f"`{name}` must be an array. Received: {cams!r}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold real numbers. Received: dtype={array.dtype}")
    if array.ndim not in ranks:
        shapes = " or ".join({2: "(H, W)", 3: "(B, H, W)"}.get(r, f"rank {r}") for r in ranks)
        raise ValueError(f"`{name}` must have shape {shapes}. Received: shape={array.shape}")
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"`{name}` has an empty map. Received: shape={array.shape}")
    return array


def as_threshold(threshold, name="threshold"):
    """`threshold` as a finite float."""
    try:
        value = float(threshold)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be a number. Received: {name}={threshold!r}") from error
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={threshold!r}")
    return value


def as_thresholds(thresholds, name="thresholds"):
    """`thresholds` as a non-empty finite float64 (T,) array."""
    values = _float64(thresholds, name, "a 1-D sequence of numbers")
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence of numbers. Received: shape={values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` must be finite. Received: {thresholds!r}")
    return values


def as_boxes(boxes, name="boxes"):
    """`boxes` as a float64 (N, 4) array; raises ValueError naming `name`."""
    array = _float64(boxes, name, "an (N, 4) array of boxes")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"`{name}` must have shape (N, 4) (x_min, y_min, x_max, y_max). "
            f"Received: shape={array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite coordinates.")
    return array


def _float64(values, name, what):
    """`values` as a float64 array; ValueError "`name` must be `what`" if they are not numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be {what}. Received: {values!r}") from error

"""What `patch_size` and `num_segments` mean: cell lengths along a hidden axis.

A *cell* is one patch of the Hide-and-Seek grid (or one temporal segment).
The grid starts at index 0 of the axis; a last cell that does not fit is
partial. Each size option becomes a cell length once the axis length is known.

The type of a `patch_size` value decides its unit: ints (Python or NumPy)
are pixels or steps (>= 1; 0 = no hiding), floats are fractions of the
side, strictly in (0, 1). `16.0` or `1.0` is an error, not 16 or 1 pixels.
"""

import math
import numbers
from typing import NamedTuple

from keras_has._arguments import is_int, is_number


class CellSize(NamedTuple):
    """One size option.

    kind: "pixels" (value = cell length in pixels or steps), "fraction"
        (value = cell length / axis length, in (0, 1)), "count" (value = number
        of cells along the axis) or "none" (this option hides nothing).
    """

    kind: str
    value: float

    def length(self, axis_length, backend):
        """Cell length along an axis of `axis_length` (0 for "none").

        Python ints in, Python int out; a length known only at run time (a
        tensor) is computed with `backend`, the Keras backend module.
        """
        static = isinstance(axis_length, numbers.Integral)
        if self.kind == "none":
            return 0
        if self.kind == "pixels":
            return int(self.value)
        if self.kind == "fraction":
            if static:
                return max(1, math.floor(self.value * axis_length + 0.5))
            scaled = backend.numpy.floor(self.value * backend.cast(axis_length, "float32") + 0.5)
            return backend.numpy.maximum(1, backend.cast(scaled, "int32"))
        # "count": ceil(axis_length / value), at least 1 (an axis known only
        # at run time may be empty)
        count = int(self.value)
        if static:
            return (axis_length + count - 1) // count
        return backend.numpy.maximum(1, (axis_length + count - 1) // count)


def parse_cell_sizes(patch_size, num_segments, mode):
    """Validates `patch_size` / `num_segments` into a tuple of `CellSize`.

    Raises:
        ValueError: naming the argument and what it accepts.
    """
    if mode == "temporal":
        if (patch_size is None) == (num_segments is None):
            raise ValueError(
                "mode='temporal' takes exactly one of `patch_size` (segment "
                "length in steps, e.g. 100) or `num_segments` (segments per "
                f"sequence, e.g. 20). Received: patch_size={patch_size!r}, "
                f"num_segments={num_segments!r}"
            )
    elif num_segments is not None:
        raise ValueError(
            "`num_segments` only applies to mode='temporal'; use `patch_size` "
            f"for mode={mode!r}. Received: num_segments={num_segments!r}"
        )
    elif patch_size is None:
        raise ValueError(
            f"`patch_size` is required for mode={mode!r}: a cell size in "
            "pixels (an int, e.g. 56), a fraction of the image side (a float "
            "in (0, 1)), or a list of these (0 = no hiding), e.g. "
            "[0, 16, 32, 44, 56]."
        )
    if num_segments is not None:
        return tuple(
            _parse_one(v, "num_segments", _parse_count)
            for v in _as_list(num_segments, "num_segments")
        )
    return tuple(
        _parse_one(v, "patch_size", _parse_patch) for v in _as_list(patch_size, "patch_size")
    )


def _as_list(value, name):
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"`{name}` must not be an empty list.")
        return list(value)
    return [value]


def _parse_one(value, name, parse):
    cell = parse(value)
    if cell is None:
        expected = (
            "a positive int (segments per sequence)"
            if name == "num_segments"
            else "an int >= 1 (cell size in pixels or steps), 0 (no "
            "hiding), or a float in (0, 1) (fraction of the side): ints are "
            "pixels, floats in (0, 1) are fractions"
        )
        raise ValueError(f"Each `{name}` value must be {expected}. Received: {value!r}")
    return cell


def _parse_count(value):
    return CellSize("count", int(value)) if is_int(value) and value > 0 else None


def _parse_patch(value):
    """Ints are pixels (0: none); floats are fractions in (0, 1)."""
    if not is_number(value):
        return None
    if is_int(value):
        if value == 0:
            return CellSize("none", 0)
        return CellSize("pixels", int(value)) if value > 0 else None
    if 0 < value < 1:
        return CellSize("fraction", float(value))
    return None

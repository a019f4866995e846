"""The kernels behind HideAndSeek, against NumPy references on fixed masks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from keras_has._keras_private import DynamicBackend
from keras_has.layers.cells import CellSize, parse_cell_sizes
from keras_has.layers.hiding import block_mask, draw_cells, hide_blocks, make_plan

BACKEND = DynamicBackend()


def reference(x, hidden, choice, fill, cells, grid):
    """NumPy: image b hides pixel p iff its option hides and its cell is hidden."""
    out = x.copy()
    for b in range(x.shape[0]):
        option = cells[choice[b]]
        if all(c == 0 for c in option):
            continue
        index = np.zeros(x.shape[1:-1], int)
        for axis, (n, c) in enumerate(zip(x.shape[1:-1], option)):
            coord = np.arange(n) // c
            shape = [1] * len(option)
            shape[axis] = n
            index = index * grid[axis] + coord.reshape(shape)
        out[b][hidden[b][index]] = fill
    return out


@given(
    data=st.data(),
    batch=st.integers(1, 3),
    lengths=st.one_of(
        st.tuples(st.integers(1, 14), st.integers(1, 30)), st.tuples(st.integers(1, 60))
    ),
    channels=st.integers(1, 5),
    dtype=st.sampled_from(["float32", "uint8", "float16", "int32", "int8", "bfloat16"]),
    channels_first=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_hide_blocks_matches_numpy_reference(
    data, batch, lengths, channels, dtype, channels_first, seed
):
    rng = np.random.default_rng(seed)
    n_options = data.draw(st.integers(1, 3))
    sizes = st.sampled_from([1, 2, 3, 5, 8, 40])
    cells = [
        (0,) * len(lengths)
        if data.draw(st.booleans()) and n_options > 1
        else tuple(data.draw(sizes) for _ in lengths)
        for _ in range(n_options)
    ]
    channels_first = channels_first and len(lengths) == 2
    plan = make_plan(BACKEND, lengths, cells, channels_first)
    hidden = rng.random((batch, int(np.prod(plan.grid)))) < 0.5
    choice = rng.integers(0, n_options, batch).astype("int32")
    x = keras.ops.convert_to_numpy(
        keras.ops.cast(rng.normal(0, 50, (batch, *lengths, channels)), dtype)
    )
    if "float" in dtype and x.size > 2:
        x.reshape(-1)[:3] = [np.nan, -0.0, np.inf]  # bit-exact, not just equal
    fill = keras.ops.convert_to_numpy(keras.ops.cast(rng.normal(0, 50, channels), dtype))
    expected = reference(x, hidden, choice, fill, cells, plan.grid)
    if channels_first:
        x, expected = np.moveaxis(x, -1, 1), np.moveaxis(expected, -1, 1)
    args = [keras.ops.convert_to_tensor(a) for a in (x, hidden, choice, fill)]
    xla_hide_blocks = tf.function(
        lambda *a: hide_blocks(BACKEND, *a, plan), jit_compile=True, autograph=False
    )
    for out in (hide_blocks(BACKEND, *args, plan), xla_hide_blocks(*args)):
        out = keras.ops.convert_to_numpy(out)
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out.view(f"u{x.itemsize}"), expected.view(f"u{x.itemsize}"))


@given(
    height_cells=st.integers(1, 4),
    width_cells=st.integers(1, 6),
    patch=st.lists(st.sampled_from([0, 2, 4, 6, 12, 0.5]), min_size=1, max_size=3),
    seed=st.integers(0, 1000),
)
def test_blocks_are_the_pixel_mask_subsampled(height_cells, width_cells, patch, seed):
    """Expanding cells to blocks of units[a] pixels equals expanding to pixels."""
    lengths = (12 * height_cells, 12 * width_cells)
    cells = [
        [c.length(n, BACKEND) for n in lengths] for c in parse_cell_sizes(patch, None, "image")
    ]
    plan = make_plan(BACKEND, lengths, cells, False)
    for axis, (n, u) in enumerate(zip(lengths, plan.units)):
        assert n % u == 0 and all(c[axis] % u == 0 for c in plan.cells)
    hidden, choice = draw_cells(BACKEND, keras.random.SeedGenerator(seed), 4, plan, 0.5)
    pixels, blocks = (
        keras.ops.convert_to_numpy(block_mask(BACKEND, hidden, choice, p)) == -1
        for p in (plan._replace(units=(1, 1)), plan)
    )
    (u0, u1), (h, w) = plan.units, lengths
    blocks = blocks.reshape(4, h // u0, 1, w // u1, 1)
    np.testing.assert_array_equal(
        pixels.reshape(4, h // u0, u0, w // u1, u1),
        np.broadcast_to(blocks, (4, h // u0, u0, w // u1, u1)),
    )


@given(
    grid=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    n_options=st.integers(1, 4),
    hide_prob=st.floats(0, 1),
    image_prob=st.floats(0, 1, exclude_min=True),
    seed=st.integers(0, 1000),
)
def test_image_prob_leaves_images_whole_and_keeps_the_others_cells(
    grid, n_options, hide_prob, image_prob, seed
):
    """The same seed draws the same cells at any image_prob: an image keeps the
    cells drawn at image_prob=1 or is left whole."""
    plan = make_plan(BACKEND, (4 * grid[0], 4 * grid[1]), [(4, 4)] * n_options, False)
    (hidden, _), (some, choice) = (
        (
            keras.ops.convert_to_numpy(a)
            for a in draw_cells(BACKEND, keras.random.SeedGenerator(seed), 64, plan, hide_prob, p)
        )
        for p in (1.0, image_prob)
    )
    assert ((some == hidden).all(1) | ~some.any(1)).all()
    assert ((0 <= choice) & (choice < n_options)).all()


def test_plan_units_and_grid():
    plan = make_plan(BACKEND, (224, 224), [(0, 0), (16, 16), (32, 32), (44, 44), (56, 56)], False)
    assert plan.units == (4, 4) and plan.grid == (14, 14) and plan.is_static
    assert make_plan(BACKEND, (224, 112), [(56, 56)], False).units == (56, 56)
    assert make_plan(BACKEND, (30, 32), [(4, 4)], False)[2:4] == ((8, 8), (2, 4))
    assert make_plan(BACKEND, (2000,), [(100,)], False)[2:4] == ((20,), (100,))
    dynamic = make_plan(BACKEND, (keras.ops.convert_to_tensor(30), 32), [(4, 4)], False)
    assert dynamic.units == (1, 4) and not dynamic.is_static


@pytest.mark.parametrize(
    "patch_size,num_segments,mode,expected",
    [
        (56, None, "image", [CellSize("pixels", 56)]),
        (
            [0, 16, 0.5],
            None,
            "image",
            [CellSize("none", 0), CellSize("pixels", 16), CellSize("fraction", 0.5)],
        ),
        (np.int64(32), None, "image", [CellSize("pixels", 32)]),
        (
            [np.uint8(0), np.float32(0.25)],
            None,
            "image",
            [CellSize("none", 0), CellSize("fraction", 0.25)],
        ),
        (None, 20, "temporal", [CellSize("count", 20)]),
        (None, [10, 20], "temporal", [CellSize("count", 10), CellSize("count", 20)]),
        (100, None, "temporal", [CellSize("pixels", 100)]),
    ],
)
def test_parse_cell_sizes(patch_size, num_segments, mode, expected):
    assert list(parse_cell_sizes(patch_size, num_segments, mode)) == expected


@pytest.mark.parametrize(
    "cell,length,expected",
    [
        (CellSize("pixels", 56), 224, 56),
        (CellSize("fraction", 1 / 3), 224, 75),
        (CellSize("fraction", 0.5), 7, 4),
        (CellSize("fraction", 0.01), 10, 1),
        (CellSize("count", 20), 2000, 100),
        (CellSize("count", 20), 2001, 101),
        (CellSize("count", 3), 2, 1),
        (CellSize("none", 0), 224, 0),
    ],
)
def test_cell_lengths(cell, length, expected):
    assert cell.length(length, BACKEND) == expected
    dynamic = cell.length(keras.ops.convert_to_tensor(length), BACKEND)
    assert int(keras.ops.convert_to_numpy(dynamic)) == expected


@given(
    value=st.one_of(
        st.floats(min_value=1.0),  # 1.0, 16.0, 1e300, inf: look like pixels, are not
        st.floats(max_value=0.0),  # 0.0, -0.0, -0.5, -inf
        st.just(float("nan")),
        st.builds(np.float32, st.sampled_from([1.0, 16.0, 0.0])),
        st.builds(np.float64, st.sampled_from([2.0, 56.0])),
    ),
    in_list=st.booleans(),
)
def test_float_patch_sizes_outside_0_1_are_refused(value, in_list):
    """ints are pixels, floats are fractions: no float that looks like pixels."""
    patch_size = [0, 16, value] if in_list else value
    message = r"`patch_size`.*ints are pixels, floats in \(0, 1\) are fractions"
    with pytest.raises(ValueError, match=message):
        parse_cell_sizes(patch_size, None, "image")
    with pytest.raises(ValueError, match="ints are pixels"):
        parse_cell_sizes(patch_size, None, "temporal")


@given(
    pixels=st.one_of(st.integers(1, 10**6), st.builds(np.int32, st.integers(1, 2**31 - 1))),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True),
)
def test_ints_are_pixels_and_floats_in_0_1_are_fractions(pixels, fraction):
    cells = parse_cell_sizes([0, pixels, fraction], None, "image")
    assert cells == (
        CellSize("none", 0),
        CellSize("pixels", int(pixels)),
        CellSize("fraction", fraction),
    )
    assert isinstance(cells[1].value, int)

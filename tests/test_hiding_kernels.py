"""The kernels behind HideAndSeek, against NumPy references on fixed masks."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keras.src.utils.backend_utils import DynamicBackend

from keras_has.layers.cells import CellSize
from keras_has.layers.cells import parse_cell_sizes
from keras_has.layers.hiding import block_unit
from keras_has.layers.hiding import draw_hidden_blocks
from keras_has.layers.hiding import fill_hidden_blocks
from keras_has.layers.hiding import word_bytes

BACKEND = DynamicBackend()


@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 12),
    blocks=st.integers(1, 6),
    unit=st.integers(1, 8),
    channels=st.integers(1, 5),
    dtype=st.sampled_from(["float32", "uint8", "float16", "int32", "int8"]),
    channels_first=st.booleans(),
    use_word=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_fill_matches_numpy_reference(
    batch, height, blocks, unit, channels, dtype, channels_first, use_word, seed
):
    rng = np.random.default_rng(seed)
    width = blocks * unit
    x = rng.integers(0, 100, (batch, height, width, channels)).astype(dtype)
    fill = rng.integers(100, 127, channels).astype(dtype)
    hidden = rng.random((batch, height * blocks)) < 0.5
    pixel_hidden = np.repeat(hidden.reshape(batch, height, blocks), unit, axis=2)
    expected = np.where(pixel_hidden[..., None], fill, x)
    row = unit * (1 if channels_first else channels)
    word = word_bytes(row * x.itemsize, x.itemsize) if use_word else 0
    if channels_first:
        x, expected = np.moveaxis(x, -1, 1), np.moveaxis(expected, -1, 1)
    out = fill_hidden_blocks(
        BACKEND, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(hidden),
        keras.ops.convert_to_tensor(fill), channels_first, unit, word,
    )
    out = keras.ops.convert_to_numpy(out)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, expected)


@given(
    height=st.integers(1, 30),
    width_cells=st.integers(1, 6),
    patch=st.lists(st.sampled_from([0, 2, 4, 6, 12]), min_size=1, max_size=3),
    seed=st.integers(0, 1000),
)
def test_blocks_are_the_pixel_mask_subsampled(height, width_cells, patch, seed):
    """Drawing at block resolution equals drawing per pixel, block-repeated."""
    width = 12 * width_cells
    cells = [
        tuple(c.length(n, BACKEND) for n in (height, width))
        for c in parse_cell_sizes(patch, None, "image")
    ]
    unit = block_unit(width, [c[-1] for c in cells])
    assert width % unit == 0 and all(c[-1] % unit == 0 for c in cells)

    def draw(u):
        generator = keras.random.SeedGenerator(seed)
        return keras.ops.convert_to_numpy(
            draw_hidden_blocks(BACKEND, generator, 4, (height, width), cells, 0.5, u)
        )

    pixels, blocks = draw(1), draw(unit)
    assert blocks.shape == (4, height * width // unit)
    np.testing.assert_array_equal(pixels[:, ::unit], blocks)
    np.testing.assert_array_equal(
        pixels.reshape(4, -1, unit), np.repeat(blocks[..., None], unit, axis=2)
    )


def test_block_unit_and_word():
    assert block_unit(224, [16, 32, 44, 56]) == 4
    assert block_unit(224, [56]) == 56
    assert block_unit(224, [0, 56, 0]) == 56
    assert block_unit(30, [4]) == 2
    assert block_unit(keras.ops.convert_to_tensor(224), [56]) == 1
    assert word_bytes(56 * 3 * 4, 4) == 0  # float32 rows stay float32
    assert word_bytes(56 * 3, 1) == 4  # uint8 rows become uint32 words
    assert word_bytes(6, 1) == 2 and word_bytes(3, 1) == 0
    assert word_bytes(4 * 2, 2) == 4


@pytest.mark.parametrize(
    "patch_size,num_segments,mode,expected",
    [
        (56, None, "image", [CellSize("pixels", 56)]),
        ([0, 16, 0.5], None, "image", [CellSize("none", 0), CellSize("pixels", 16), CellSize("fraction", 0.5)]),
        (32.0, None, "image", [CellSize("pixels", 32)]),
        (None, 20, "temporal", [CellSize("count", 20)]),
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

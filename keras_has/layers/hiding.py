"""Vectorized Hide-and-Seek kernels.

Both functions take `backend`: the Keras backend module that `keras.ops` and
`keras.random` dispatch to (a layer passes its `self.backend`, so the same code
runs on TensorFlow ops inside `tf.data` whatever the Keras backend is).

The input is viewed as *blocks*: runs of `unit` consecutive positions along the
last hidden axis (W for images, T for sequences), where `unit` divides that
axis and every cell length, so a block lies inside one cell. One random draw
per cell and image is expanded to one flag per block, and the fill is written
with a single `where` over rows of `unit * channels` contiguous values. Long
rows, bit-cast to 32-bit words, let TensorFlow's CPU `select` run near copy
speed; a per-pixel broadcast `where` runs at a fraction of it (see
`benchmarks/`).
"""

import math

import keras

# 32-bit words run as fast as 64-bit ones and avoid 64-bit types, which
# Keras narrows to 32 bits under the JAX backend.
WORD_DTYPES = {4: "uint32", 2: "uint16"}


def block_unit(last_length, cell_lengths):
    """Largest block length dividing `last_length` and each non-zero cell.

    Returns 1 when a length is only known at run time (a tensor).
    """
    lengths = [last_length, *[c for c in cell_lengths if c != 0]]
    if not all(isinstance(v, int) for v in lengths):
        return 1
    return math.gcd(*lengths)


def word_bytes(row_bytes, itemsize):
    """Widest word (<= 4 bytes) that tiles a row and is wider than an item.

    Returns 0 when no such word exists (the row is used as is).
    """
    for size in (4, 2):
        if size > itemsize and row_bytes % size == 0:
            return size
    return 0


def draw_hidden_blocks(
    backend, seed, batch, lengths, cells, hide_prob, unit, replica=(0, 1)
):
    """Draws which blocks are hidden: a new pattern per image and call.

    Args:
        backend: Keras backend module.
        seed: `keras.random.SeedGenerator`.
        batch: number of images B (int or scalar tensor).
        lengths: lengths of the hidden axes: (H, W) or (T,).
        cells: one tuple per size option, holding that option's cell length
            along each hidden axis; 0 means the option hides nothing. Each
            image draws an option uniformly.
        hide_prob: probability that a cell is hidden.
        unit: block length along the last hidden axis.
        replica: (replica index, number of replicas); each replica of a
            `tf.distribute` strategy takes its own slice of the draws.

    Returns:
        bool tensor (B, R), R = prod(lengths) / unit, in row-major block order.
    """
    np_ = backend.numpy
    active = [any(c != 0 for c in option) for option in cells]
    # An option that hides nothing gets one cell spanning each axis, so that
    # every option divides its axes the same way.
    cells = [
        [c if on else n for c, n in zip(option, lengths)]
        for option, on in zip(cells, active)
    ]
    per_image = len(cells) > 1
    grid = [
        _max([_ceil_div(n, option[a]) for option in cells], np_)
        for a, n in enumerate(lengths)
    ]
    if per_image:
        choice = _draw(
            backend, backend.random.randint, (batch,), seed, replica,
            minval=0, maxval=len(cells), dtype="int32",
        )
    n_cells = grid[0] if len(grid) == 1 else grid[0] * grid[1]
    hidden_cells = (
        _draw(backend, backend.random.uniform, (batch, n_cells), seed, replica)
        < hide_prob
    )

    # Flat cell index of each block: (R,), or (B, R) when sizes vary per image.
    index = None
    for a, n in enumerate(lengths):
        step = unit if a == len(lengths) - 1 else 1
        positions = np_.arange(0, n, step, dtype="int32")
        if per_image:
            cell = np_.take(
                np_.stack([backend.cast(o[a], "int32") for o in cells]), choice
            )
            axis_index = positions[None, :] // cell[:, None]
        else:
            axis_index = positions // cells[0][a]
        if index is None:
            index = axis_index
        else:
            index = index[..., :, None] * grid[a] + axis_index[..., None, :]
    if per_image:
        index = np_.reshape(index, (batch, -1))
        hidden = np_.take_along_axis(hidden_cells, index, axis=1)
    else:
        hidden = np_.take(hidden_cells, np_.reshape(index, (-1,)), axis=1)
    if not all(active):
        on = np_.take(np_.array(active), choice)[:, None] if per_image else False
        hidden = np_.logical_and(hidden, on)
    return hidden


def _draw(backend, fn, shape, seed, replica, **kwargs):
    """`fn(shape)`, with each replica of a strategy taking its own draws."""
    replica_id, num_replicas = replica
    if num_replicas == 1:
        return fn(shape, seed=seed, **kwargs)
    draws = fn((num_replicas, *shape), seed=seed, **kwargs)
    return backend.numpy.take(draws, replica_id, axis=0)


def fill_hidden_blocks(
    backend, x, hidden, fill, channels_first, unit, word=0
):
    """Returns `x` with every hidden block set to `fill`.

    Args:
        backend: Keras backend module.
        x: batched input (B, H, W, C), (B, C, H, W) or (B, T, D).
        hidden: bool (B, R) from `draw_hidden_blocks`.
        fill: (C,) fill values, already in `x.dtype`.
        channels_first: True for (B, C, H, W).
        unit: block length along the last hidden axis.
        word: if non-zero, bit-cast rows to words of this many bytes for the
            `where` (exact: values are moved, never converted).

    Returns:
        Tensor of the shape and dtype of `x`.
    """
    np_ = backend.numpy
    shape = backend.core.shape(x)
    if channels_first:
        channels = shape[1]
        rows = (-1, channels, _blocks(shape[2:], unit), unit)
        fill_row = np_.broadcast_to(fill[:, None], (channels, unit))
    else:
        channels = shape[-1]
        rows = (-1, 1, _blocks(shape[1:-1], unit), unit * channels)
        fill_row = np_.tile(fill, (unit,))[None, :]
    x_rows = np_.reshape(x, rows)
    fill_row = np_.reshape(fill_row, (1, *rows[1:2], 1, rows[3]))
    if word:
        x_rows = np_.view(x_rows, WORD_DTYPES[word])
        fill_row = np_.view(fill_row, WORD_DTYPES[word])
    out = np_.where(hidden[:, None, :, None], fill_row, x_rows)
    if word:
        out = np_.view(out, keras.backend.standardize_dtype(x.dtype))
    return np_.reshape(out, shape)


def _blocks(lengths, unit):
    """Number of blocks: prod(lengths) / unit."""
    total = lengths[0]
    for n in lengths[1:]:
        total = total * n
    return total // unit


def _ceil_div(a, b):
    return (a + b - 1) // b


def _max(values, np_):
    if all(isinstance(v, int) for v in values):
        return max(values)
    result = values[0]
    for v in values[1:]:
        result = np_.maximum(result, v)
    return result

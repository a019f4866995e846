"""Vectorized Hide-and-Seek kernels.

A call is split in two:
- `draw_cells`: the random part, small tensors: each image's size option and
  one hidden flag per cell of the finest grid in use (all off for an image
  left whole).
- `hide_blocks`: a pure function that expands those flags to *blocks*
  (`units[a]` positions along each hidden axis a, `units[a]` dividing the
  axis and every cell length along it, so that a block lies in one cell) and
  writes the fill with an exact bit select, `x ^ ((x ^ fill) & mask)`, on
  same-size integer views of x as [B, n0/u0, u0, n1/u1, u1 * C] (channels
  last; the long inner run is what XLA's loops vectorize).
  Under XLA this fuses into one pass at about the speed of a copy, where a
  broadcast `where` (a select) does not; see `benchmarks/`.
`hide` runs both; `xla_hide` is `hide` compiled with XLA, for TensorFlow
calls made outside XLA (eager, graph, `tf.data`), whose own kernels are
slower.

Functions take `backend`: the Keras backend module that `keras.ops` and
`keras.random` dispatch to (a layer passes its `self.backend`, so the same
code runs on TensorFlow ops inside `tf.data` whatever the Keras backend).
"""

import functools
import math
from typing import NamedTuple

import keras
import numpy as np

from keras_has._keras_private import DynamicBackend, view

INT_VIEWS = {1: "int8", 2: "int16", 4: "int32", 8: "int64"}


class Plan(NamedTuple):
    """The static geometry of a call.

    lengths: lengths of the hidden axes, (H, W) or (T,).
    cells: per size option, its cell length along each hidden axis (0: the
        option hides nothing).
    grid: cells per hidden axis of the finest grid in use.
    units: block length along each hidden axis.
    channels_first: True for (B, C, H, W) inputs.
    """

    lengths: tuple
    cells: tuple
    grid: tuple
    units: tuple
    channels_first: bool

    @property
    def is_static(self):
        return all(isinstance(v, int) for v in (*self.lengths, *self.grid, *sum(self.cells, ())))


def make_plan(backend, lengths, cells, channels_first):
    """Plan for hidden-axis `lengths` and per-option `cells` (see `Plan`).

    Lengths known only at run time are tensors, computed with `backend`.
    """
    lengths, cells = tuple(lengths), tuple(tuple(c) for c in cells)
    grid = tuple(
        _max(backend, [_ceil_div(n, _or_length(backend, c[a], n)) for c in cells])
        for a, n in enumerate(lengths)
    )
    units = tuple(_gcd(n, *[c[a] for c in cells if _hides(c[a])]) for a, n in enumerate(lengths))
    return Plan(lengths, cells, grid, units, channels_first)


def draw_cells(backend, seed, batch, plan, hide_prob, image_prob=1.0, replica=(0, 1)):
    """Draws each image's size option and its hidden cells.

    Args:
        backend: Keras backend module.
        seed: `keras.random.SeedGenerator` (or, on TensorFlow, a (2,) seed
            tensor from one).
        batch: number of images B (int or scalar tensor).
        plan: `Plan`.
        hide_prob: probability that a cell is hidden.
        image_prob: probability, in (0, 1], that an image is hidden at all;
            the others keep no hidden cell.
        replica: (replica index, number of replicas); each replica of a
            `tf.distribute` strategy takes its own slice of the draws.

    Returns:
        (hidden, choice): bool (B, prod(grid)) and int32 (B,).
    """
    np_ = backend.numpy
    n_cells = plan.grid[0] if len(plan.grid) == 1 else plan.grid[0] * plan.grid[1]
    # One draw: a uniform per cell, and one more per image for its option.
    draws = _uniform(backend, (batch, n_cells + 1), seed, replica)
    hidden = draws[:, :-1] < hide_prob
    option = draws[:, -1]
    if image_prob < 1:
        # The option's uniform also decides whether the image is hidden at
        # all: below image_prob it is, and u / image_prob is again uniform in
        # [0, 1) for the option. At 1 the draws are those of image_prob-less
        # calls, bit for bit.
        hidden = np_.logical_and(hidden, (option < image_prob)[:, None])
        option = option / image_prob
    n_options = len(plan.cells)
    choice = np_.minimum(np_.floor(option * n_options), n_options - 1)
    return hidden, backend.cast(choice, "int32")


def hide_blocks(backend, x, hidden, choice, fill, plan):
    """Returns `x` with the hidden cells of each image set to `fill`.

    Args:
        backend: Keras backend module.
        x: batched input (B, H, W, C), (B, C, H, W) or (B, T, D).
        hidden, choice: from `draw_cells`.
        fill: (C,) fill values in `x.dtype`.
        plan: `Plan`.

    Returns:
        Tensor of the shape and dtype of `x`, bit-identical to `x` outside
        hidden cells and to `fill` inside them.
    """
    np_ = backend.numpy
    shape = backend.core.shape(x)
    blocks, mask_dims = [], []
    for n, u in zip(plan.lengths, plan.units):
        blocks += [n // u, u]
        mask_dims += [n // u, 1]
    # The batch is explicit: a -1 cannot be inferred for an empty input.
    if plan.channels_first:  # [B, C, n0/u0, u0, n1/u1, u1]
        blocked = (shape[0], shape[1], *blocks)
        mask_shape = (shape[0], 1, *mask_dims)
        fill_row = np_.reshape(fill, (1, -1, *[1] * len(blocks)))
    else:  # [B, n0/u0, u0, ..., n/u, u * C]: long contiguous inner runs
        blocked = (shape[0], *blocks[:-1], blocks[-1] * shape[-1])
        mask_shape = (shape[0], *mask_dims)
        fill_row = np_.reshape(np_.tile(fill, (plan.units[-1],)), (1, *[1] * (len(blocks) - 1), -1))
    dtype = keras.backend.standardize_dtype(x.dtype)
    int_view = INT_VIEWS[np.dtype(dtype).itemsize]
    # Reshaped before the view: the view needs a static last axis, and the
    # blocked last axis is one (u * C, or u) even when x's is not.
    bits = view(backend, np_.reshape(x, blocked), int_view)
    fill_bits = view(backend, fill_row, int_view)
    # -1 (all bits set) in hidden blocks, 0 elsewhere.
    mask = backend.cast(block_mask(backend, hidden, choice, plan), int_view)
    mask = np_.reshape(mask, mask_shape)
    bits = np_.bitwise_xor(bits, np_.bitwise_and(np_.bitwise_xor(bits, fill_bits), mask))
    return np_.reshape(view(backend, bits, dtype), shape)


def hide(backend, x, seed, fill, plan, hide_prob, image_prob=1.0, replica=(0, 1)):
    """`x` with fresh random cells hidden: `draw_cells` then `hide_blocks`.

    Float inputs get a gradient: the upstream gradient with the hidden cells
    zeroed (the bit operations of the fill have none), so layers below a
    feature-map HideAndSeek train.
    """
    batch = backend.core.shape(x)[0]
    hidden, choice = draw_cells(backend, seed, batch, plan, hide_prob, image_prob, replica)
    if not keras.backend.is_float_dtype(keras.backend.standardize_dtype(x.dtype)):
        return hide_blocks(backend, x, hidden, choice, fill, plan)

    def forward(x):
        def backward(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream  # torch passes a keyword
            zeros = backend.numpy.zeros_like(fill)
            return hide_blocks(backend, upstream, hidden, choice, zeros, plan)

        return hide_blocks(backend, x, hidden, choice, fill, plan), backward

    return backend.core.custom_gradient(forward)(x)


@functools.lru_cache(maxsize=64)
def xla_hide(plan, hide_prob, image_prob, num_replicas):
    """`hide` for TensorFlow, compiled with XLA, for a static `plan`.

    Returns `kernel(x, seed, replica_id, fill)`, `seed` being a (2,) seed
    tensor such as `keras.random.SeedGenerator.next()` returns.
    """
    import tensorflow as tf

    # A partial, not a closure: TensorFlow counts traces per Python function
    # (a closure's code is shared by all kernels) and would warn of
    # "retracing" after 5 shapes, though each kernel is traced once.
    kernel = functools.partial(
        _kernel, DynamicBackend("tensorflow"), plan, hide_prob, image_prob, num_replicas
    )
    return tf.function(kernel, jit_compile=True, autograph=False)


def _kernel(backend, plan, hide_prob, image_prob, num_replicas, x, seed, replica_id, fill):
    replica = (replica_id, num_replicas)
    return hide(backend, x, seed, fill, plan, hide_prob, image_prob, replica)


def block_mask(backend, hidden, choice, plan):
    """float32 (B, R): -1 where a block is hidden, else 0, in row-major order.

    Cell flags are expanded with one-hot matrix products rather than a
    gather: XLA fuses a random draw into a gather that reads it, re-running
    the generator for every block, but materializes a matmul's operands.
    The product is already -1/0, which converts to an all-ones/zero bit mask:
    a comparison there would run per value in the fused fill loop and slow
    it down by half.
    """
    np_ = backend.numpy
    active = [any(_hides(c) for c in option) for option in plan.cells]
    hiding_cells = [c for c, on in zip(plan.cells, active) if on]
    # When all options that hide share one grid (e.g. [0, 8]), so do all
    # images: one-hot matrices without a batch axis, one large matmul each.
    shared = all(isinstance(v, int) for c in hiding_cells for v in c) and (
        len(set(hiding_cells)) <= 1
    )
    pick = backend.cast(
        choice[:, None] == np_.arange(len(plan.cells), dtype="int32")[None, :],
        "float32",
    )  # (B, options)
    one_hots = []
    for axis, (n, step) in enumerate(zip(plan.lengths, plan.units)):
        options = (hiding_cells or plan.cells)[:1] if shared else plan.cells
        table = np_.stack(
            [backend.cast(_or_length(backend, c[axis], n), "float32") for c in options]
        )
        cell = table[:1] if shared else np_.matmul(pick, table)  # (1,) or (B,)
        index = (
            np_.arange(0, n, step, dtype="int32")[None, :] // backend.cast(cell, "int32")[:, None]
        )
        grid = np_.arange(plan.grid[axis], dtype="int32")
        one_hot = backend.cast(index[:, :, None] == grid, "float32")  # (B|1, P, G)
        one_hots.append(one_hot[0] if shared else one_hot)
    batch = backend.core.shape(choice)[0]
    flags = -np_.reshape(backend.cast(hidden, "float32"), (batch, *plan.grid))
    b = "" if shared else "b"
    if len(one_hots) == 1:
        blocks = np_.einsum(f"{b}pg,bg->bp", one_hots[0], flags)
    else:
        rows = np_.einsum(f"{b}pg,bgk->bpk", one_hots[0], flags)
        blocks = np_.einsum(f"bpk,{b}qk->bpq", rows, one_hots[1])
        (n0, n1), (u0, u1) = plan.lengths, plan.units
        blocks = np_.reshape(blocks, (batch, (n0 // u0) * (n1 // u1)))
    if not all(active):
        on = np_.matmul(pick, np_.array(active, dtype="float32"))
        blocks = blocks * on[:, None]
    return blocks


def _uniform(backend, shape, seed, replica):
    """Uniform floats in [0, 1) of `shape`.

    Each replica of a `tf.distribute` strategy takes its own slice of the
    draws. TensorFlow draws with Philox: Keras's default algorithm becomes
    ThreeFry under XLA on CPU, about 25 times slower (outside XLA both are
    Philox, so the numbers are Keras's own).
    """
    replica_id, num_replicas = replica
    full_shape = shape if num_replicas == 1 else (num_replicas, *shape)
    if backend.name == "tensorflow":
        import tensorflow as tf

        if isinstance(seed, keras.random.SeedGenerator):
            seed = seed.next()
        key = tf.cast(tf.math.floormod(seed, 2**31 - 1), tf.int32)
        draws = tf.random.stateless_uniform(full_shape, key, alg="philox")
    else:
        draws = backend.random.uniform(full_shape, seed=seed)
    if num_replicas == 1:
        return draws
    return backend.numpy.take(draws, replica_id, axis=0)


def _gcd(*values):
    """gcd of static lengths; 1 when any is known only at run time."""
    return math.gcd(*values) if all(isinstance(v, int) for v in values) else 1


def _ceil_div(a, b):
    return (a + b - 1) // b


def _hides(cell_length):
    """False only for an option's 0 (no hiding); run-time lengths hide."""
    return not (isinstance(cell_length, int) and cell_length == 0)


def _or_length(backend, cell_length, axis_length):
    """The cell length, or one cell spanning the axis for "no hiding".

    At least 1: an axis known only at run time may be empty.
    """
    if _hides(cell_length):
        return cell_length
    if isinstance(axis_length, int):
        return axis_length
    return backend.numpy.maximum(axis_length, 1)


def _max(backend, values):
    if all(isinstance(v, int) for v in values):
        return max(values)
    return functools.reduce(backend.numpy.maximum, values)

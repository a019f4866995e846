"""Reference implementations the layer is measured against (TensorFlow).

- `copy`: the bandwidth floor, `x + 0`.
- `naive_where`: `where(mask, fill, x)` with a full-size mask made beforehand.
- `per_image_loop`: the paper's algorithm one image at a time (`tf.map_fn`):
  pick a patch size, draw the image's grid, expand it, fill.
- `random_erasing`: `keras.layers.RandomErasing` erasing one rectangle of
  the same expected area as Hide-and-Seek with p = 0.5.
"""

import keras
import numpy as np
import tensorflow as tf


def copy(x):
    return x + tf.zeros((), x.dtype)


def full_mask(shape, cell, hide_prob=0.5, seed=0):
    """A (B, *spatial, C) bool mask of hidden cells, made with NumPy."""
    rng = np.random.default_rng(seed)
    batch, *spatial, _ = shape
    grid = rng.random((batch, *[-(-n // cell) for n in spatial])) < hide_prob
    for axis, n in enumerate(spatial, start=1):
        grid = np.repeat(grid, cell, axis=axis).take(np.arange(n), axis=axis)
    return tf.constant(np.broadcast_to(grid[..., None], shape))


def naive_where(x, mask, fill):
    return tf.where(mask, fill, x)


def per_image_loop(x, patch_sizes, fill, hide_prob=0.5, seed=0):
    """Hides cells of each image of x (B, H, W, C) or (B, T, D) in turn."""
    sizes = tf.constant(patch_sizes, tf.int32)
    spatial = x.shape[1:-1]
    finest = min(s for s in patch_sizes if s > 0)
    grid_shape = [-(-n // finest) for n in spatial]  # static, for XLA
    seeds = tf.random.stateless_uniform(
        (tf.shape(x)[0], 2), (seed, 0), maxval=2**30, dtype=tf.int32
    )

    def hide_one(args):
        image, image_seed = args
        pick = tf.random.stateless_uniform((), image_seed, maxval=len(patch_sizes), dtype=tf.int32)
        size = tf.gather(sizes, pick)
        grid = tf.random.stateless_uniform(grid_shape, image_seed + 1) < hide_prob
        grid = tf.logical_and(grid, size > 0)
        cell = tf.where(size > 0, size, finest)
        for axis, n in enumerate(spatial):
            grid = tf.gather(grid, tf.range(n) // cell, axis=axis)
        return tf.where(grid[..., None], fill, image)

    return tf.map_fn(hide_one, (x, seeds), fn_output_signature=x.dtype)


def random_erasing(seed=0):
    """One rectangle of area 1/2 (HaS with p = 0.5 hides 1/2 on average).

    `factor=(1, 1)`: a single 1.0 would draw the probability of erasing
    uniformly in [0, 1], erasing only half of the images.
    """
    return keras.layers.RandomErasing(
        factor=(1.0, 1.0),
        scale=(0.5, 0.5),
        fill_value=0.0,
        value_range=(0, 255),
        seed=seed,
    )

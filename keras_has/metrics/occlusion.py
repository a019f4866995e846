"""Occlusion robustness (Sec. 4.6, Fig. 7): which pixels of test images to hide, and filling them.

Two kinds of masks, both hiding a given fraction of every image:
- `grid_masks`: random cells of a grid (each image draws its grid from `grids`), as the
  occlusions a HaS model was trained on, at 10-50% of the area: a curve of accuracy.
- `cam_masks`: the top of a model's own CAM (its "most discriminative part"): the pixels
  where the CAM is highest, so the model must classify from the rest.

`occlude` fills the masked pixels with the training-set mean, as HaS hides.
"""

import numpy as np

from keras_has._arguments import as_fraction, as_int, check_finite


def grid_masks(num_images, height, width, fraction, grids=(8, 4), seed=0):
    """(N, H, W) bool: in each image, round(fraction * g * g) random cells of a g x g grid
    hidden, g drawn per image from `grids` (cells of ceil(H / g) x ceil(W / g) pixels; the
    last row and column may be partial). Deterministic in `seed`."""
    num_images = as_int(num_images, "num_images", minimum=0)
    height, width = as_int(height, "height", minimum=1), as_int(width, "width", minimum=1)
    fraction = as_fraction(fraction, "fraction")
    grids = [as_int(g, "grids", minimum=1) for g in grids]
    if not grids:
        raise ValueError("`grids` must name at least one grid side.")
    rng = np.random.default_rng(seed)
    masks = np.zeros((num_images, height, width), bool)
    sides = rng.choice(grids, size=num_images)
    for g in sorted(set(grids)):
        which = np.flatnonzero(sides == g)
        cells = g * g
        hidden = np.argsort(rng.random((len(which), cells)), axis=1) < round(fraction * cells)
        cell_h, cell_w = -(-height // g), -(-width // g)
        grid = hidden.reshape(-1, g, g).repeat(cell_h, axis=1).repeat(cell_w, axis=2)
        masks[which] = grid[:, :height, :width]
    return masks


def cam_masks(cams, fraction):
    """(N, H, W) bool: the round(fraction * H * W) pixels of each CAM (N, H, W) with the
    highest values (ties broken by position, first first)."""
    cams = np.asarray(cams, np.float64)
    if cams.ndim != 3:
        raise ValueError(f"`cams` must be (N, H, W). Received: shape={cams.shape}")
    check_finite(cams, "cams")
    fraction = as_fraction(fraction, "fraction")
    num, height, width = cams.shape
    count = round(fraction * height * width)
    flat = cams.reshape(num, -1)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :count]
    masks = np.zeros_like(flat, bool)
    np.put_along_axis(masks, order, True, axis=1)
    return masks.reshape(cams.shape)


def occlude(pixels, masks, fill):
    """`pixels` (N, H, W, C) with the `masks` (N, H, W) pixels set to `fill` (C,) rounded to
    the pixels' dtype (uint8 images get the rounded mean)."""
    pixels = np.asarray(pixels)
    fill = np.broadcast_to(np.asarray(fill, np.float64), (pixels.shape[-1],))
    if np.issubdtype(pixels.dtype, np.integer):
        fill = np.rint(fill)
    return np.where(np.asarray(masks, bool)[..., None], fill.astype(pixels.dtype), pixels)

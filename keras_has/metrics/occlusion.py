"""Occlusion robustness (Sec. 4.6, Fig. 7): which pixels of test images to hide, and filling them.

Two kinds of masks, both hiding a given fraction of every image:
- `grid_masks`: random cells of a grid (each image draws its grid from `grids`), as the
  occlusions a HaS model was trained on, at 10-50% of the area: a curve of accuracy.
- `cam_masks`: the top of a model's own CAM (its "most discriminative part"): the pixels
  where the CAM is highest, so the model must classify from the rest.

`occlude` fills the masked pixels with the training-set mean, as HaS hides; `curves` measures
a classifier's accuracy along both. `sensitivity` maps what a classifier without CAMs attends
to (Zeiler & Fergus's occlusion sensitivity).
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


def curves(model, pixels, labels, fractions, fill, normalize, batch_size=200, seed=0):
    """A classifier's accuracy with each fraction of every image hidden.

    Args:
        model: a CAM classifier (`keras_has.CAMModel` finds its CAM layers) on normalized images.
        pixels: (N, H, W, C) test images before normalization; labels: (N,) class ids.
        fractions: the hidden fractions, in (0, 1).
        fill: (C,) the training-set mean, in pixels.
        normalize: pixels -> the model's inputs.
        seed: the grid cells' seed (the same cells for every model).

    Returns:
        {"occluded_accuracy": {"0": clean accuracy, "0.1": ..., ...} (random grid cells,
        `grid_masks`), "cam_occluded_accuracy": {...} (the top of the model's own CAM of its
        top-1 class, `cam_masks`)}; keys are the fractions written with "%g".
    """
    from keras_has import CAMModel

    labels = np.asarray(labels)

    def accuracy(images):
        predicted = model.predict(normalize(images), batch_size=batch_size, verbose=0)
        return float(np.mean(np.argmax(predicted, axis=1) == labels))

    cam_model = CAMModel(model, classes=1)
    cams = np.concatenate(
        [
            np.asarray(cam_model(normalize(pixels[i : i + batch_size]))["cams"])[..., 0]
            for i in range(0, len(pixels), batch_size)
        ]
    )
    clean = accuracy(pixels)
    out = {"occluded_accuracy": {"0": clean}, "cam_occluded_accuracy": {"0": clean}}
    for f in fractions:
        grid = grid_masks(len(pixels), *pixels.shape[1:3], f, seed=seed)
        out["occluded_accuracy"][f"{f:g}"] = accuracy(occlude(pixels, grid, fill))
        out["cam_occluded_accuracy"][f"{f:g}"] = accuracy(occlude(pixels, cam_masks(cams, f), fill))
    return out


def sensitivity(model, pixels, labels, patch, fill, normalize, stride=None, batch_size=200):
    """Occlusion sensitivity (Zeiler & Fergus 2014): for each position of a `patch` x `patch`
    square (filled with `fill`) moved by `stride` (default patch / 2), the drop of the
    probability of each image's class `labels` (N,). For models without a CAM.

    Args:
        model: a classifier (softmax outputs) of normalized images; `normalize`: pixels -> its
            inputs; pixels: (N, H, W, C); fill: (C,) pixels (the training-set mean).

    Returns:
        (N, rows, cols) float32: clean probability minus occluded probability at each position
        (rows = (H - patch) / stride + 1, likewise cols); larger: the model relies more there.
    """
    pixels = np.asarray(pixels)
    labels = np.asarray(labels)
    num, height, width = pixels.shape[:3]
    patch = as_int(patch, "patch", minimum=1, maximum=min(height, width))
    stride = as_int(stride or max(1, patch // 2), "stride", minimum=1)
    tops, lefts = range(0, height - patch + 1, stride), range(0, width - patch + 1, stride)

    def probability(images):  # eager calls: no tf.function traced per model and position
        inputs = normalize(images)
        out = [
            np.asarray(model(inputs[i : i + batch_size], training=False))
            for i in range(0, num, batch_size)
        ]
        return np.concatenate(out)[np.arange(num), labels]

    clean = probability(pixels)
    maps = np.empty((num, len(tops), len(lefts)), np.float32)
    for i, top in enumerate(tops):
        for j, left in enumerate(lefts):
            masks = np.zeros((num, height, width), bool)
            masks[:, top : top + patch, left : left + patch] = True
            maps[:, i, j] = clean - probability(occlude(pixels, masks, fill))
    return maps

"""Demo of the HideAndSeek layer: writes a picture of augmented images.

    python -m keras_has.recipes.demo [--out runs/demo] [--images 4] [--seed 0]

Makes a few 224x224 scenes (no download), computes the training-set mean
fill with `adapt`, and hides patches as in the paper (Sec. 3.1.1; Table II
sizes 16, 32, 44, 56 and the mixed setting) in a `tf.data` pipeline. Each row
of the picture is one setting, each column one image.
"""

import argparse
import os
import sys

from keras_has import HideAndSeek, viz  # first: it imports Keras (and TensorFlow) quietly

# isort: split
import cv2
import numpy as np
import tensorflow as tf

from keras_has.training import flags

SETTINGS = {
    "original": None,
    "HaS-16": 16,
    "HaS-32": 32,
    "HaS-56": 56,
    "HaS-Mixed": [0, 16, 32, 44, 56],
}
SIZE = 224


def scenes(count, seed):
    """uint8 (count, 224, 224, 3): an animal-like object on a textured field."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    images = []
    for _ in range(count):
        background = rng.uniform(60, 200, 3)
        texture = 25 * np.sin(2 * np.pi * (rng.uniform(2, 6) * xx + rng.uniform(2, 6) * yy))
        image = background + texture[..., None]
        cx, cy = rng.uniform(0.35, 0.65, 2)
        body = ((xx - cx) / 0.22) ** 2 + ((yy - cy) / 0.12) ** 2 < 1
        head = (xx - cx - 0.24) ** 2 + (yy - cy + 0.08) ** 2 < 0.07**2
        legs = (np.abs((xx - cx) % 0.1 - 0.05) < 0.012) & (yy > cy) & (yy < cy + 0.25)
        legs &= np.abs(xx - cx) < 0.18
        image[body | legs] = rng.uniform(0, 255, 3)
        image[head] = rng.uniform(0, 255, 3)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(images)


def augment(images, patch_size, seed):
    """`images` through a tf.data pipeline with HaS; returns the results."""
    layer = HideAndSeek(patch_size=patch_size, seed=seed)
    layer.adapt(images)  # per-channel training-set mean: the paper's fill
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(len(images)).map(layer)
    return next(iter(dataset)).numpy(), layer


def picture(rows):
    """Rows of images with their labels, as one RGB image."""
    pad, label_width = 4, 120
    lines = []
    for label, images in rows.items():
        cells = [np.pad(im, ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for im in images]
        line = np.concatenate(cells, axis=1)
        tag = np.full((line.shape[0], label_width, 3), 255, np.uint8)
        cv2.putText(
            tag,
            label,
            (6, line.shape[0] // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
        )
        lines.append(np.concatenate([tag, line], axis=1))
    return np.concatenate(lines, axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_has.recipes.demo",
        description=__doc__.split("\n")[0],
        formatter_class=flags.HelpFormatter,
    )
    parser.add_argument("--out", default="runs/demo", help="Output folder.")
    parser.add_argument("--images", type=flags.positive(int), default=4, help="Images per row.")
    parser.add_argument(
        "--seed", type=flags.non_negative(int), default=0, help="Seed for scenes and patterns."
    )
    args = parser.parse_args(argv)

    images = scenes(args.images, args.seed)
    rows = {}
    for label, patch_size in SETTINGS.items():
        if patch_size is None:
            rows[label] = images
            continue
        rows[label], layer = augment(images, patch_size, args.seed)
        hidden = np.all(rows[label] == np.rint(layer.mean.numpy()).astype(np.uint8), axis=-1)
        print(
            f"{label:10s} patch_size={patch_size}: hidden fraction {hidden.mean():.2f} "
            f"(per image: {', '.join(f'{h:.2f}' for h in hidden.mean((1, 2)))})"
        )
    print(f"fill (training-set mean RGB): {[round(float(v), 1) for v in layer.mean.numpy()]}")
    path = viz.write_png(os.path.join(args.out, "hide_and_seek.png"), picture(rows))
    print(f"wrote {path}")
    return path


def console():
    """The keras-has-demo command."""
    main()
    return 0


if __name__ == "__main__":
    sys.exit(console())

"""Semantic segmentation data: joint transforms of images and masks, and tf.data pipelines.

Sources are `tf.data.Dataset`s of dicts {"image": uint8 (H, W, 3), "mask": uint8 (H, W) class
ids (0 background, 255 void: scored by no one), "labels": float32 (C,) multi-hot of the object
classes present}: `from_arrays` (the built-in scenes, `keras_has.data.synthetic_scenes`) and
the PASCAL VOC / SBD readers (`keras_has.data.voc`).

Training (`train_dataset`): a random crop of `crop_size` (images smaller than the crop padded
with the training-set mean, masks with 255) and a random horizontal flip, applied to image and
mask together; then Hide-and-Seek on the image only (the layer's dict inputs carry the mask
through untouched), with the training-set mean as the fill; then per-channel normalization.
The target is the mask (a segmentation network) or the image-level labels (the multi-label
classifier of weakly-supervised segmentation).
"""

import numpy as np
import tensorflow as tf

from keras_has.data import pipeline
from keras_has.data.classification import normalize
from keras_has.layers import HideAndSeek

AUTOTUNE = tf.data.AUTOTUNE
IGNORE_LABEL = 255
TARGETS = ("mask", "labels")


def from_arrays(images, masks, labels):
    """A source from images (N, H, W, 3) uint8, masks (N, H, W) and labels (N, C)."""
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": np.asarray(images, np.uint8),
            "mask": np.asarray(masks, np.uint8),
            "labels": np.asarray(labels, np.float32),
        }
    )


def joint_crop_and_flip(image, mask, size, seed, fill):
    """The same random `size` x `size` crop and horizontal flip of an image (H, W, 3) uint8 and
    its mask (H, W) uint8; a side shorter than `size` is padded (bottom, right) with `fill`
    (image, (3,) pixels) and IGNORE_LABEL (mask). `seed`: a stateless seed pair."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pad = [[0, tf.maximum(size - height, 0)], [0, tf.maximum(size - width, 0)]]
    fill = tf.constant(np.round(fill), tf.int32)
    channels = [
        tf.pad(tf.cast(image[..., c], tf.int32), pad, constant_values=fill[c]) for c in range(3)
    ]
    padded_mask = tf.pad(tf.cast(mask, tf.int32), pad, constant_values=IGNORE_LABEL)
    stacked = tf.stack([*channels, padded_mask], axis=-1)
    stacked = tf.image.stateless_random_crop(stacked, (size, size, 4), seed)
    stacked = tf.image.stateless_random_flip_left_right(stacked, seed + 1)
    return tf.cast(stacked[..., :3], tf.uint8), tf.cast(stacked[..., 3], tf.uint8)


def train_dataset(
    source,
    batch_size,
    stats,
    crop_size,
    target="mask",
    has=None,
    seed=None,
    shuffle_buffer=10_000,
):
    """Training batches (images (B, S, S, 3) float32 normalized, targets): masks (B, S, S)
    int32 (255 void) or labels (B, C) float32, S = `crop_size`.

    Args:
        source: a source (dicts as above).
        stats: (mean, std) of the training set in pixels (`classification.channel_stats`).
        crop_size: S.
        target: "mask" or "labels" (`TARGETS`).
        has: None, or a dict of `HideAndSeek` arguments (patch_size, hide_prob, image_prob);
            the fill is the mean.
        seed: int for a reproducible order, crops, flips and hidden patches.
    """
    if target not in TARGETS:
        raise ValueError(f"`target` must be one of {TARGETS}. Received: target={target!r}")
    mean = np.asarray(stats[0], np.float64).reshape(-1)
    layer = None
    if has is not None:
        layer = HideAndSeek(**has, fill_value=[float(v) for v in mean], seed=seed)

    def augment(example, crop_seed):
        image, mask = joint_crop_and_flip(
            example["image"], example["mask"], crop_size, crop_seed, mean
        )
        return {"images": image, "segmentation_masks": mask, "labels": example["labels"]}

    def hide_and_normalize(batch):
        if layer is not None:
            batch = layer(batch, training=True)  # hides "images", passes the rest through
        goal = (
            tf.cast(batch["segmentation_masks"], tf.int32) if target == "mask" else batch["labels"]
        )
        return normalize(batch["images"], stats), goal

    return pipeline.augmented_batches(
        source, augment, hide_and_normalize, batch_size, seed, shuffle_buffer
    )


def eval_dataset(source, batch_size, stats, size):
    """Test batches of dicts, in order: "image" (B, S, S, 3) float32 normalized, "pixels" uint8
    (the image before normalization), "mask" (B, S, S) int32 and "labels" (B, C), S = `size`:
    each image padded (bottom, right) to S x S, with the mean (0 after normalization) and the
    mask with 255, so that the padding is scored by no one. An image larger than S is an error
    (ValueError, or InvalidArgumentError for sizes known only at run time), never a silently
    cropped score."""

    known = [d for d in source.element_spec["image"].shape[:2] if d is not None]
    if known and max(known) > size:
        raise ValueError(
            f"`size` must be at least the images' sides (they are padded to size x size). "
            f"Received: size={size} for images of shape {source.element_spec['image'].shape}"
        )

    def prepare(example):
        image, mask = example["image"], tf.cast(example["mask"], tf.int32)
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        tf.debugging.assert_less_equal(
            tf.maximum(height, width), size, message=f"an image is larger than size={size}"
        )
        pad = [[0, size - height], [0, size - width]]
        pixels = tf.pad(image, [*pad, [0, 0]])
        image = tf.pad(normalize(image, stats), [*pad, [0, 0]])
        mask = tf.pad(mask, pad, constant_values=IGNORE_LABEL)
        return {
            "image": tf.ensure_shape(image, (size, size, 3)),
            "pixels": tf.ensure_shape(pixels, (size, size, 3)),
            "mask": tf.ensure_shape(mask, (size, size)),
            "labels": example["labels"],
        }

    dataset = source.map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)

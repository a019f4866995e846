"""tf.data input pipelines with the paper's training and test transforms.

Every source yields dicts {"image": uint8 (H, W, 3), "label": int64,
"boxes": float32 (M, 4) half-open pixels, "mask": uint8 (H, W) (optional)}.

- Training (`train_dataset`): resize to `resize_size`, random crop of
  `crop_size`, random horizontal flip, then Hide-and-Seek on the raw pixels
  with the training-set mean as the fill (Sec. 3.1.2: the fill is the mean
  before any normalization, so that hidden pixels look like the data's
  expectation), then `normalize`. Shuffled, batched, AUTOTUNE, prefetched.
- Test (`eval_dataset`): resize to `resize_size` (boxes and masks follow),
  `normalize`; the 10 crops of `crop_size` are taken by
  `keras_has.CAMModel(crop_size=...)`, which maps CAMs back to the resized
  image, where the boxes are.

With `seed=` the order, crops, flips and hidden patches are the same on
every run.
"""

import numpy as np
import tensorflow as tf

from keras_has.layers import HideAndSeek

AUTOTUNE = tf.data.AUTOTUNE


def from_arrays(images, labels, boxes, masks=None):
    """A source from arrays: images (N, H, W, 3) uint8, labels (N,), boxes (N, M, 4)."""
    features = {
        "image": np.asarray(images, np.uint8),
        "label": np.asarray(labels, np.int64),
        "boxes": np.asarray(boxes, np.float32),
    }
    if masks is not None:
        features["mask"] = np.asarray(masks, np.uint8)
    return tf.data.Dataset.from_tensor_slices(features)


def normalize(images):
    """uint8-range pixels -> float32 in [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def resize(example, size):
    """Resize an example's image (bilinear), boxes and mask (nearest) to `size`."""
    shape = tf.shape(example["image"])
    scale = tf.cast([size / shape[1], size / shape[0]] * 2, tf.float32)
    out = dict(example)
    image = tf.image.resize(example["image"], (size, size), antialias=True)
    out["image"] = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    out["boxes"] = example["boxes"] * scale
    if "mask" in example:
        mask = tf.image.resize(example["mask"][..., None], (size, size), method="nearest")
        out["mask"] = mask[..., 0]
    return out


def fill_mean(dataset, resize_size, batch_size=256):
    """The per-channel training-set mean at `resize_size` (HideAndSeek.adapt).

    Returns the adapted (3,) float mean; give it to the training pipeline.
    """
    images = dataset.map(lambda e: resize(e, resize_size)["image"], num_parallel_calls=AUTOTUNE)
    layer = HideAndSeek(patch_size=0)
    layer.adapt(images.batch(batch_size))
    return np.asarray(layer.mean.numpy(), np.float64)


def train_dataset(
    dataset,
    batch_size,
    resize_size,
    crop_size,
    patch_size=None,
    hide_prob=0.5,
    mean=None,
    seed=None,
    shuffle_buffer=10_000,
):
    """Training batches (images (B, crop, crop, 3) float32, labels (B,)).

    Args:
        dataset: a source (dicts as above).
        patch_size: HideAndSeek `patch_size` (e.g. [0, 16, 32, 44, 56]), or
            None for the baseline.
        mean: the (3,) training-set mean (`fill_mean`), needed with HaS.
        seed: int for a reproducible order, crops, flips and patterns.
    """
    if patch_size is not None and mean is None:
        raise ValueError("`mean` (see `fill_mean`) is needed to hide with `patch_size`.")
    has = None
    if patch_size is not None:
        has = HideAndSeek(patch_size, hide_prob, fill_value=[float(v) for v in mean], seed=seed)

    def transform(example, crop_seed):
        image = resize(example, resize_size)["image"]
        image = tf.image.stateless_random_crop(image, (crop_size, crop_size, 3), crop_seed)
        image = tf.image.stateless_random_flip_left_right(image, crop_seed + 1)
        return image, example["label"]

    def hide_and_normalize(images, labels):
        if has is not None:
            images = has(images, training=True)
        return normalize(images), labels

    return augmented_batches(
        dataset, transform, hide_and_normalize, batch_size, seed, shuffle_buffer
    )


def augmented_batches(dataset, augment, after_batch, batch_size, seed, shuffle_buffer):
    """The training pipelines' skeleton: shuffled (reshuffled each epoch), `augment(example,
    seed pair)` per example in parallel (deterministic order), batched without the remainder,
    then `after_batch(images, labels)` run sequentially (seeded layers such as HideAndSeek keep
    state), prefetched. With `seed` the whole stream repeats."""
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = tf.data.Dataset.zip(dataset, seeds)
    dataset = dataset.map(augment, num_parallel_calls=AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.map(after_batch).prefetch(AUTOTUNE)


def eval_dataset(dataset, batch_size, resize_size, max_boxes=None):
    """Test batches of dicts: "image" (B, S, S, 3) float32 normalized,
    "label" (B,), "boxes" (B, M, 4) zero-padded, "mask" (B, S, S) if any,
    at S = `resize_size`, in order.
    """

    def transform(example):
        out = resize(example, resize_size)
        out["pixels"] = out["image"]
        out["image"] = normalize(out["image"])
        return out

    dataset = dataset.map(transform, num_parallel_calls=AUTOTUNE, deterministic=True)
    shapes = {k: v.shape for k, v in dataset.element_spec.items()}
    if max_boxes is not None:
        shapes["boxes"] = tf.TensorShape([max_boxes, 4])
    dataset = dataset.padded_batch(batch_size, padded_shapes=shapes)
    return dataset.prefetch(AUTOTUNE)

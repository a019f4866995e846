"""Image classification data: TFDS sources, the standard transforms and tf.data pipelines.

Sources are `tf.data.Dataset`s of dicts {"image": uint8 (H, W, C), "label": int64}:
`tfds_source` (cifar10, cifar100, imagenet2012 through TFDS; never downloaded) and
`from_arrays` (Fashion-MNIST from `keras_has.data.idx`, the built-in animals).

Transforms (`TRANSFORMS`):
- "cifar" (He et al. 2016): pad 4 pixels of zeros, random crop back to the size, random
  horizontal flip; test images as they are.
- "none": the images as they are (aligned faces: HaS alone, without crops and flips).
- "imagenet": random-resized crop (8-100% of the area, aspect 3/4-4/3) to `image_size`, flip;
  test: shorter side resized to 256 / 224 * image_size, the centre square (`eval_dataset`);
  the centre crop or 10 crops of `image_size` are taken by the evaluation.

Hide-and-Seek (or Random Erasing) runs on the raw pixels after the crop and flip with the
training-set mean as fill (Sec. 3.1.2), then the per-channel normalization (x - mean) / std.
"""

import numpy as np
import tensorflow as tf

from keras_has.data import pipeline, tfds_access
from keras_has.layers import HideAndSeek, RandomErasing

AUTOTUNE = tf.data.AUTOTUNE
TRANSFORMS = ("cifar", "imagenet", "none")
TFDS_NAMES = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet": "imagenet2012"}
# ImageNet's published training-set statistics (RGB, 0-255): a pass over 1.28M images to
# compute them again would take longer than an epoch.
IMAGENET_STATS = (np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375]))
_HOW = (
    "Prepare it once with `tfds build {name}` (ImageNet: with its archives in TFDS's manual_dir)."
)


def tfds_source(dataset, split, data_dir=None, version=None, shuffle_files=False):
    """(source, SourceInfo) of `dataset` ("cifar10", "cifar100", "imagenet") in TFDS.

    Raises `tfds_access.DataNotPreparedError` (saying how to prepare it) when it is not there.
    """
    if dataset not in TFDS_NAMES:
        raise ValueError(f"`dataset` must be one of {sorted(TFDS_NAMES)}. Received: {dataset!r}")
    name = TFDS_NAMES[dataset]
    builder = tfds_access.builder(name, data_dir, version)
    ds = tfds_access.as_dataset(builder, split, shuffle_files, _HOW.format(name=name))
    ds = ds.map(
        lambda ex: {"image": ex["image"], "label": tf.cast(ex["label"], tf.int64)},
        num_parallel_calls=AUTOTUNE,
    )
    names = tfds_access.class_names(builder)
    info = tfds_access.SourceInfo(
        name=name,
        num_classes=len(names),
        class_names=names,
        num_examples=tfds_access.num_examples(builder, split),
        has_masks=False,
        split=split,
        has_boxes=False,
    )
    return ds, info


def from_arrays(images, labels):
    """A source from uint8 images (N, H, W, C) and labels (N,) int, or a dict of targets by
    output name ({"gender": (N,), "age": (N,)}: "label" is then that dict)."""
    if isinstance(labels, dict):
        label = {name: np.asarray(values) for name, values in labels.items()}
    else:
        label = np.asarray(labels, np.int64)
    return tf.data.Dataset.from_tensor_slices(
        {"image": np.asarray(images, np.uint8), "label": label}
    )


def channel_stats(images):
    """Per-channel (mean, std) in pixels (float64 (C,)) of uint8 images (N, H, W, C), an array
    or a source: the fill of hidden pixels and the normalization. A std below one pixel level
    is 1 (a constant channel is centred, not divided by zero)."""
    total = squares = None
    count = 0
    batches = (
        [np.asarray(images)]
        if isinstance(images, np.ndarray)
        else (b["image"] for b in images.batch(1024).as_numpy_iterator())
    )
    for batch in batches:
        flat = batch.reshape(-1, batch.shape[-1]).astype(np.float64)
        total = flat.sum(0) if total is None else total + flat.sum(0)
        squares = (flat**2).sum(0) if squares is None else squares + (flat**2).sum(0)
        count += len(flat)
    if not count:
        raise ValueError("channel_stats: no images")
    mean = total / count
    # A channel that never varies (flat test images) is not scaled: std 1, not 0 (no NaN).
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean, np.where(std < 1.0, 1.0, std)


def normalize(images, stats):
    """Pixels -> float32 (x - mean) / std per channel; `stats` = (mean, std)."""
    mean, std = (tf.constant(np.asarray(s, np.float32)) for s in stats)
    return (tf.cast(images, tf.float32) - mean) / std


def _augment(image, seed, transform, size):
    """One training image's random crop and flip (uint8 (size, size, C)); "none": as it is."""
    if transform == "none":  # aligned faces: crops and flips would break the alignment
        return image
    if transform == "cifar":
        height, width = image.shape[0], image.shape[1]
        padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]])
        image = tf.image.stateless_random_crop(padded, (height, width, image.shape[2]), seed)
    else:
        begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            tf.zeros((0, 0, 4)),
            seed,
            min_object_covered=0.0,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        channels = image.shape[-1]
        image = tf.slice(image, begin, extent)
        image = tf.image.resize(image, (size, size), antialias=True)
        image = tf.ensure_shape(image, (size, size, channels))  # the slice lost the channels
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return tf.image.stateless_random_flip_left_right(image, seed + 1)


def train_dataset(
    source,
    batch_size,
    stats,
    transform="cifar",
    image_size=224,
    has=None,
    erasing=None,
    seed=None,
    shuffle_buffer=10_000,
):
    """Training batches (images (B, S, S, C) float32 normalized, labels (B,)).

    Args:
        source: a source (dicts as above).
        stats: (mean, std) of the training set in pixels (`channel_stats`); the mean fills.
        transform: "cifar", "imagenet" or "none" (`TRANSFORMS`).
        image_size: the imagenet transform's crop side S (cifar keeps the size).
        has: None, or a dict of `HideAndSeek` arguments (patch_size, hide_prob,
            image_prob); the fill is the mean.
        erasing: None, or a dict of `RandomErasing` arguments; the fill is the mean.
        seed: int for a reproducible order, crops, flips and hidden patches.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"`transform` must be one of {TRANSFORMS}. Received: {transform!r}")
    fill = [float(v) for v in np.asarray(stats[0]).reshape(-1)]
    layers = []
    if has is not None:
        layers.append(HideAndSeek(**has, fill_value=fill, seed=seed))
    if erasing is not None:
        layers.append(RandomErasing(**erasing, fill_value=fill, seed=seed))

    def augment(example, crop_seed):
        return _augment(example["image"], crop_seed, transform, image_size), example["label"]

    def hide_and_normalize(images, labels):
        for layer in layers:
            images = layer(images, training=True)
        return normalize(images, stats), labels

    return pipeline.augmented_batches(
        source, augment, hide_and_normalize, batch_size, seed, shuffle_buffer
    )


def eval_dataset(source, batch_size, stats, transform="cifar", image_size=224):
    """Test batches of dicts, in order: "image" float32 normalized, "pixels" uint8 (the same
    image before normalization), "label" (B,). cifar: the images as they are; imagenet: the
    centre square of the image resized to a shorter side of 256 / 224 * `image_size`."""

    def prepare(example):
        image = example["image"]
        if transform == "imagenet":
            side = round(image_size * 256 / 224)
            shape = tf.cast(tf.shape(image)[:2], tf.float32)
            scale = side / tf.reduce_min(shape)
            new = tf.cast(tf.round(shape * scale), tf.int32)
            image = tf.image.resize(image, tf.maximum(new, side), antialias=True)
            image = tf.image.resize_with_crop_or_pad(image, side, side)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return {"image": normalize(image, stats), "pixels": image, "label": example["label"]}

    dataset = source.map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)

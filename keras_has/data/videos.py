"""Untrimmed videos as feature sequences, and their tf.data pipelines (Sec. 3.2, 4.2.3).

A `VideoSet` holds a video source and its ground-truth segments. Its
examples (`VideoSet.examples()`) are dicts {"features": float32 (T, D) (the
video's features, uniformly sampled to T steps), "label": float32 (C,)
multi-hot video classes, "video": string, "step_seconds": float32 (seconds
per sampled step)}. Videos read from files are read lazily, after shuffling,
so that a shuffle buffer holds file names, not features.

- `uniform_indices`: the paper's uniform sampling of F_total features.
- `from_arrays`: a `VideoSet` source from in-memory arrays (the built-in data).
- `fill_mean`: the dataset's mean feature, the Video-HaS fill.
- `train_dataset`: shuffled batches with Hide-and-Seek on fixed-length
  segments (F_segment steps, hidden with probability p, mean-feature fill).
- `eval_dataset`: batches in order, with the video names and step lengths.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_has._arguments import as_int
from keras_has.layers import HideAndSeek

AUTOTUNE = tf.data.AUTOTUNE


class VideoSet(NamedTuple):
    """A video source and what evaluation needs beside it.

    Attributes:
        source: `tf.data.Dataset` of the examples in a fixed order, or, with
            `load`, of what `load` turns into them (file names).
        ground_truth: list of (video, class_id, start_seconds, end_seconds).
        classes: class names; `label[i]` is `classes[i]`.
        num_videos: videos in `source`.
        skipped: (path, reason) of every file that could not be used.
        load: None, or a tf.data map function that reads an example.
    """

    source: tf.data.Dataset
    ground_truth: list
    classes: list
    num_videos: int
    skipped: tuple = ()
    load: object = None

    def examples(self, dataset=None):
        """`dataset` (default: `source`) with `load` applied: the examples."""
        dataset = self.source if dataset is None else dataset
        if self.load is None:
            return dataset
        return dataset.map(self.load, num_parallel_calls=AUTOTUNE, deterministic=True)


def uniform_indices(num_features, num_steps):
    """Indices of `num_steps` features sampled uniformly from `num_features`.

    Step i takes feature floor(i * num_features / num_steps), so step i covers
    the time [i, i + 1) * num_features / (fps * num_steps); shorter videos
    repeat features. Returns int64 (num_steps,).
    """
    num_features = as_int(num_features, "num_features", minimum=1)
    num_steps = as_int(num_steps, "num_steps", minimum=1)
    return np.arange(num_steps, dtype=np.int64) * num_features // num_steps


def from_arrays(features, labels, names, step_seconds):
    """A `VideoSet` source from features (N, T, D), multi-hot labels (N, C), names (N,), steps (N,)."""
    return tf.data.Dataset.from_tensor_slices(
        {
            "features": np.asarray(features, np.float32),
            "label": np.asarray(labels, np.float32),
            "video": np.asarray(names, str),
            "step_seconds": np.asarray(step_seconds, np.float32),
        }
    )


def fill_mean(video_set, batch_size=64):
    """The mean feature (D,) float64 of a `VideoSet`: HideAndSeek.adapt over every step."""
    layer = HideAndSeek(patch_size=0, mode="temporal")
    layer.adapt(video_set.examples().map(lambda e: e["features"]).batch(batch_size))
    return np.asarray(layer.mean.numpy(), np.float64)


def train_dataset(
    video_set, batch_size, segment_length=None, hide_prob=0.5, mean=None, seed=None, shuffle=10_000
):
    """Training batches (features (B, T, D) float32, targets (B, C)).

    Targets are the multi-hot labels divided by their sum (a softmax target).

    Args:
        video_set: a `VideoSet`.
        segment_length: F_segment steps (paper: 100), a list to draw from, or
            None for the baseline (Video-full).
        mean: the (D,) fill (`fill_mean`), needed with hiding.
        seed: int for a reproducible order and hiding pattern.
    """
    has = None
    if segment_length is not None:
        if mean is None:
            raise ValueError("`mean` (see `fill_mean`) is needed to hide with `segment_length`.")
        has = HideAndSeek(
            segment_length,
            hide_prob,
            fill_value=[float(v) for v in mean],
            mode="temporal",
            seed=seed,
        )

    def targets(example):
        label = example["label"]
        return example["features"], label / tf.maximum(tf.reduce_sum(label), 1e-12)

    def hide(features, target):
        return (features if has is None else has(features, training=True)), target

    dataset = video_set.source.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    dataset = video_set.examples(dataset).map(
        targets, num_parallel_calls=AUTOTUNE, deterministic=True
    )
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(hide)  # sequential: the seeded layer keeps state
    return dataset.prefetch(AUTOTUNE)


def eval_dataset(video_set, batch_size):
    """A `VideoSet`'s examples in order, batched; prefetched."""
    return video_set.examples().batch(batch_size).prefetch(AUTOTUNE)

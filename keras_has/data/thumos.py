"""THUMOS14-style untrimmed-video features from local files (Sec. 4.1.3, 4.2.3).

Layout (what the user gives):

    features_dir/<video>.npy       one float array (N, D) per video: its
                                   per-snippet features (C3D fc7: D = 4096)
                                   at `features_per_second` (paper: 10)
    annotations_dir/<Class>_val.txt   one line per action instance:
                                   "<video> <start seconds> <end seconds>"

A video's classes are the annotation files that list it, plus, with
`labels_file`, lines "<video> <Class>" (video-level labels of videos without
temporal annotations, e.g. the 81 THUMOS14 classes without boxes in time).
"Ambiguous_val.txt" marks spans THUMOS14 scores as neither right nor wrong;
it is not a class and is left out. Every video is sampled to `num_steps`
features (`videos.uniform_indices`). A feature file that cannot be read, is
not 2-D, or has another D than the first is reported and counted in
`VideoSet.skipped`, as is a labelled video without a feature file. A missing
or unusable folder or file is a `ThumosFilesError` naming the argument.
"""

import glob
import os
import warnings

import numpy as np
import tensorflow as tf

from keras_has._arguments import as_positive
from keras_has.data import videos

IGNORED_CLASSES = ("Ambiguous",)


class ThumosFilesError(ValueError):
    """The folder or file of `argument` ("features_dir", "annotations_dir", "labels_file") is
    missing or unusable; `problem` says how."""

    def __init__(self, argument, problem):
        super().__init__(f"`{argument}`: {problem}")
        self.argument, self.problem = argument, problem


def read_annotations(annotations_dir, split="val"):
    """{class: [(video, start, end), ...]} from the `<Class>_<split>.txt` files."""
    suffix = f"_{split}.txt"
    paths = sorted(glob.glob(os.path.join(annotations_dir, f"*{suffix}")))
    if not paths:
        raise ThumosFilesError(
            "annotations_dir", f"no '<Class>{suffix}' files in {os.fspath(annotations_dir)!r}."
        )
    out = {}
    for path in paths:
        name = os.path.basename(path)[: -len(suffix)]
        if name in IGNORED_CLASSES:
            continue
        out[name] = [_instance(path, n, line) for n, line in _lines(path)]
    return out


def _lines(path):
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line


def _instance(path, number, line):
    parts = line.split()
    try:
        video, start, end = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        start = end = None
    if start is None or len(parts) != 3 or not 0 <= start < end:
        raise ThumosFilesError(
            "annotations_dir",
            f"{path}:{number}: expected '<video> <start seconds> <end seconds>' with "
            f"0 <= start < end, got {line.strip()!r}.",
        )
    return video, start, end


def read_labels(labels_file):
    """[(video, class)] from lines "<video> <Class>"."""
    out = []
    for number, line in _lines(labels_file):
        parts = line.split()
        if len(parts) != 2:
            raise ThumosFilesError(
                "labels_file",
                f"{labels_file}:{number}: expected '<video> <Class>', got {line.strip()!r}.",
            )
        out.append((parts[0], parts[1]))
    return out


def thumos(
    features_dir,
    annotations_dir,
    features_per_second=10.0,
    num_steps=2000,
    split="val",
    labels_file=None,
    classes=None,
):
    """The `videos.VideoSet` of the videos that have features and labels.

    Args:
        features_dir: folder of `<video>.npy` feature arrays (N, D).
        annotations_dir: folder of `<Class>_<split>.txt` annotation files.
        features_per_second: the features' rate (paper: 10).
        num_steps: F_total, the sampled length (paper: 2000).
        labels_file: optional "<video> <Class>" video-level labels.
        classes: the class list (to share a training set's indices); by
            default the sorted names found.

    Returns:
        A `VideoSet` whose `load` reads a video's file (`examples()`).
    """
    features_per_second = as_positive(features_per_second, "features_per_second")
    if not os.path.isdir(features_dir):
        raise ThumosFilesError("features_dir", f"{os.fspath(features_dir)!r} is not a folder.")
    annotations = read_annotations(annotations_dir, split)
    video_classes = {}
    for name, instances in annotations.items():
        for video, _, _ in instances:
            video_classes.setdefault(video, set()).add(name)
    for video, name in read_labels(labels_file) if labels_file else ():
        video_classes.setdefault(video, set()).add(name)
    found = sorted({c for names in video_classes.values() for c in names})
    classes = list(found if classes is None else classes)
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ThumosFilesError(
            "annotations_dir", f"classes {unknown} are not in `classes` (the training set's)."
        )
    index = {name: i for i, name in enumerate(classes)}

    names, paths, lengths, skipped, dim = _readable_files(features_dir, sorted(video_classes))

    labels = np.zeros((len(names), len(classes)), np.float32)
    for row, video in enumerate(names):
        labels[row, [index[c] for c in video_classes[video]]] = 1
    steps = np.asarray(lengths, np.float64) / features_per_second / num_steps
    kept = set(names)
    truth = [
        (video, index[name], start, end)
        for name, instances in annotations.items()
        for video, start, end in instances
        if video in kept
    ]

    def load(path):
        array = np.load(path.decode(), mmap_mode="r")
        return np.asarray(array[videos.uniform_indices(len(array), num_steps)], np.float32)

    def read(example):
        features = tf.numpy_function(load, [example["path"]], tf.float32)
        out = {k: v for k, v in example.items() if k != "path"}
        out["features"] = tf.ensure_shape(features, (num_steps, dim))
        return out

    source = tf.data.Dataset.from_tensor_slices(
        {
            "path": paths,
            "label": labels,
            "video": names,
            "step_seconds": steps.astype(np.float32),
        }
    )
    return videos.VideoSet(source, truth, classes, len(names), tuple(skipped), load=read)


def _readable_files(features_dir, video_names):
    """(names, paths, lengths, skipped, dim) of the videos whose feature file is readable and
    has the first readable file's feature size; the others are warned about and skipped."""
    names, paths, lengths, skipped, dim = [], [], [], [], None
    for video in video_names:
        path = os.path.join(features_dir, f"{video}.npy")
        shape, problem = _shape(path)
        if problem is None and dim is not None and shape[1] != dim:
            problem = f"feature size {shape[1]}, expected {dim} (as the first video's)"
        if problem is not None:
            skipped.append((path, problem))
            continue
        dim = shape[1]
        names.append(video)
        paths.append(path)
        lengths.append(shape[0])
    for path, problem in skipped:
        warnings.warn(f"thumos: skipping {path}: {problem}", stacklevel=3)
    if not names:
        raise ThumosFilesError(
            "features_dir",
            f"no usable feature files in {os.fspath(features_dir)!r} ({len(skipped)} skipped).",
        )
    return names, paths, lengths, skipped, dim


def _shape(path):
    """((N, D), None) of a readable 2-D feature file, else (None, the reason)."""
    if not os.path.exists(path):
        return None, "no feature file"
    try:
        array = np.load(path, mmap_mode="r")  # reads the header; a short file fails here
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not raised
        return None, f"unreadable ({type(error).__name__}: {error})"
    if array.ndim != 2 or 0 in array.shape:
        return None, f"shape {array.shape}, expected (N, D) with N, D >= 1"
    return array.shape, None

"""Person re-identification data from local folders: `market1501`, `duke`, and the IDE baseline's
training batches (`train_labels`, `identity_batches`) and images (`to_dataset`).

Official layouts, never downloaded. Both have the three folders ``bounding_box_train/`` (train),
``query/`` and ``bounding_box_test/`` (gallery) of JPEGs:

- Market-1501 (Zheng et al. 2015), ``Market-1501-v15.09.15/``: names like
  ``0002_c1s1_000451_03.jpg``: person 0002, camera 1 (c1; s1 the camera's sequence), frame
  000451, detected box 03. Cameras 1-6. In the gallery, person ``-1`` (``-1_c1s1_...``) is junk
  and person ``0000`` a distractor.
- DukeMTMC-reID (Zheng et al. 2017), ``DukeMTMC-reID/``: names like ``0005_c2_f0046985.jpg``:
  person 0005, camera 2, frame 0046985. Cameras 1-8. Its distractors are ordinary person ids
  that occur only in the gallery; it has no ``-1`` / ``0000`` names, which are read as for
  Market if present.

`Split.ids` are the person numbers, with -1 for junk and 0 for distractors. Junk gallery images
are KEPT, with id -1: the evaluation protocol, not the reader, drops them (together with the
same-person same-camera gallery images of each query), so an evaluator must exclude ids -1.
Distractors (id 0) are kept and match no query. The train and query splits must be real persons:
a -1 / 0 name there is reported as malformed and skipped (the official data have none).

Only a folder's own ``*.jpg`` files are read (``Thumbs.db``, other files and subfolders are
ignored), in sorted path order. A name that does not match its data set's pattern, or whose
camera is outside the data set's range, is malformed: reported in `Report` as (path, reason),
skipped, and warned about (one line per file up to 5, then one "and N more").
"""

import dataclasses
import os
import re
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_has._arguments import as_int
from keras_has.data.reports import Report

__all__ = [
    "Report",
    "Split",
    "duke",
    "identity_batches",
    "market1501",
    "to_dataset",
    "train_labels",
]

SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
JUNK, DISTRACTOR = -1, 0

_MAX_WARNINGS = 5  # one line per malformed file up to this many, then one "and N more"
_MARKET = ("Market-1501", "Market-1501-v15.09.15", 6, "0002_c1s1_000451_03.jpg")
_DUKE = ("DukeMTMC-reID", "DukeMTMC-reID", 8, "0005_c2_f0046985.jpg")
_PATTERNS = {
    "Market-1501": re.compile(r"(-1|\d{4})_c(\d+)s\d+_\d{6}_\d{2}\.jpg", re.IGNORECASE),
    "DukeMTMC-reID": re.compile(r"(-1|\d{4})_c(\d+)_f\d{7}\.jpg", re.IGNORECASE),
}


@dataclasses.dataclass
class Split:
    """N images in sorted path order: ``paths`` (N,) str; ``ids`` (N,) int64 person numbers
    (-1 junk, 0 distractor, else the person); ``cams`` (N,) int64 cameras from 1."""

    paths: np.ndarray
    ids: np.ndarray
    cams: np.ndarray

    def __len__(self):
        return len(self.paths)


def market1501(root):
    """Market-1501 under `root` (the ``Market-1501-v15.09.15`` folder or one holding it).

    Returns:
        ({"train": `Split`, "query": `Split`, "gallery": `Split`}, `Report`).

    Raises:
        ValueError: `root` is not a path.
        FileNotFoundError: a missing folder, named with the expected layout.
    """
    return _read(root, *_MARKET)


def duke(root):
    """DukeMTMC-reID under `root` (the ``DukeMTMC-reID`` folder or one holding it); as
    `market1501`."""
    return _read(root, *_DUKE)


def train_labels(split):
    """The identity classifier's classes: (labels (N,) int64 in 0..P-1, P), the persons of
    `split` relabelled in sorted order of their ids.

    Raises:
        ValueError: `split` is not a `Split`, or holds junk (-1) / distractor (0) ids.
    """
    _check_split(split)
    ids = np.asarray(split.ids, np.int64)
    if np.any(ids <= 0):
        raise ValueError("`split` must hold persons only (ids > 0), not junk -1 / distractors 0")
    persons = np.unique(ids)
    return np.searchsorted(persons, ids).astype(np.int64), len(persons)


def identity_batches(labels, batch_size, images_per_identity=4, seed=0, epoch=0):
    """One epoch of P x K "random identity sampling" batches of indices into `labels`.

    The rule, with K = `images_per_identity` and P = `batch_size` // K:
    ``rng = np.random.default_rng([seed, epoch])``; the distinct labels, sorted, are put in the
    order ``rng.permutation``; consecutive runs of P of them make the batches, so each identity
    is in at most one batch of an epoch and exactly one except the last (number of identities
    % P) identities of the permutation, which are left out of this epoch (no incomplete or
    padded batch; the permutation changes with the epoch). Then, batch by batch and identity by
    identity, the identity's K indices are ``rng.choice(its, K, replace=False)`` when it has at
    least K images, else all its images plus ``rng.choice(its, K - n)`` drawn with replacement,
    in the order ``rng.permutation``. A batch is its P runs of K indices, in permutation order.

    Returns:
        A list of (number of identities // P) int64 arrays of shape (batch_size,).

    Raises:
        ValueError: a bad argument (named); `batch_size` not a multiple of K, or more than K
        times the number of identities (no batch).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (labels.dtype.kind in "iu" or labels.size == 0):
        raise ValueError(f"`labels` must be a 1-D int array. Received: shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"`labels` must be >= 0. Received: a label {labels.min()}")
    k = as_int(images_per_identity, "images_per_identity", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    seed = as_int(seed, "seed", minimum=0)
    epoch = as_int(epoch, "epoch", minimum=0)
    persons, inverse = np.unique(labels, return_inverse=True)
    if batch_size % k or batch_size > k * len(persons):
        raise ValueError(
            f"`batch_size` must be a multiple of images_per_identity={k} and at most "
            f"{k} x {len(persons)} identities. Received: batch_size={batch_size}"
        )
    per_batch = batch_size // k
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse))[:-1])
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(persons))
    batches = []
    for start in range(0, len(order) - per_batch + 1, per_batch):
        runs = []
        for person in order[start : start + per_batch]:
            its = members[person]
            if len(its) >= k:
                run = rng.choice(its, k, replace=False)
            else:
                run = rng.permutation(np.concatenate([its, rng.choice(its, k - len(its))]))
            runs.append(run)
        batches.append(np.concatenate(runs).astype(np.int64))
    return batches


def to_dataset(split, image_size=(256, 128), labels=None):
    """tf.data.Dataset of {"image": uint8 (H, W, 3), "id": int64, "cam": int64, and "label":
    int64 if `labels` (N,) is given} in `split` order, each image read when iterated
    (``tf.io.decode_jpeg``, antialiased bilinear ``tf.image.resize`` to `image_size` (H, W),
    rounded). An unreadable image fails the iteration.

    Raises:
        ValueError: a bad argument (named).
    """
    _check_split(split)
    if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2):
        raise ValueError(f"`image_size` must be (H, W). Received: image_size={image_size!r}")
    size = tuple(as_int(s, "image_size", minimum=1) for s in image_size)
    source = {
        "path": np.asarray(split.paths, str),
        "id": np.asarray(split.ids, np.int64),
        "cam": np.asarray(split.cams, np.int64),
    }
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(split),) or not (labels.dtype.kind in "iu" or labels.size == 0):
            raise ValueError(
                f"`labels` must be None or ({len(split)},) ints. Received: shape {labels.shape}"
            )
        source["label"] = labels.astype(np.int64)

    def load(element):
        image = tf.io.decode_jpeg(tf.io.read_file(element.pop("path")), channels=3)
        image = tf.image.resize(image, size, antialias=True)
        image = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
        return {"image": tf.ensure_shape(image, (*size, 3)), **element}

    ds = tf.data.Dataset.from_tensor_slices(source)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _read(root, name, folder, cameras, example):
    layout = (
        f"expected {folder}/ (or a folder holding it) with bounding_box_train/, query/ and "
        f"bounding_box_test/ of {name} JPEGs named like {example}"
    )
    if not (isinstance(root, (str, os.PathLike)) and os.fspath(root)):
        raise ValueError(f"`root` must be a path (str or os.PathLike). Received: root={root!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"`root`: {root}: no such folder ({layout})")
    if (root / folder).is_dir():
        root = root / folder
    for sub in SPLITS.values():
        if not (root / sub).is_dir():
            raise FileNotFoundError(f"{root / sub}: no such folder ({layout})")
    report, splits = Report(), {}
    for split, sub in SPLITS.items():
        paths, ids, cams = [], [], []
        for entry in sorted(os.scandir(root / sub), key=lambda e: e.name):
            if not (entry.is_file() and entry.name.lower().endswith(".jpg")):
                continue
            path = str(root / sub / entry.name)
            parsed = _parse(entry.name, name, cameras, example, split)
            if isinstance(parsed, str):
                report.malformed.append((path, parsed))
            else:
                paths.append(path)
                ids.append(parsed[0])
                cams.append(parsed[1])
        splits[split] = Split(
            np.array(paths, str), np.array(ids, np.int64), np.array(cams, np.int64)
        )
    _warn(f"{name} {root}", report)
    return splits, report


def _parse(file_name, name, cameras, example, split):
    """(person, camera) from a file name, else the reason it is malformed."""
    match = _PATTERNS[name].fullmatch(file_name)
    if match is None:
        return f"name does not match the {name} pattern (e.g. {example})"
    person, camera = int(match.group(1)), int(match.group(2))
    if not 1 <= camera <= cameras:
        return f"camera {camera} outside {name}'s 1..{cameras}"
    if split != "gallery" and person in (JUNK, DISTRACTOR):
        return f"{'junk' if person == JUNK else 'distractor'} id {person} in the {split} split"
    return person, camera


def _warn(what, report):
    for path, reason in report.malformed[:_MAX_WARNINGS]:
        warnings.warn(f"{what}: skipping {path}: {reason}", stacklevel=4)
    if report.count > _MAX_WARNINGS:
        more = report.count - _MAX_WARNINGS
        warnings.warn(f"{what}: and {more} more malformed files skipped", stacklevel=4)


def _check_split(split):
    if isinstance(split, Split):
        return
    raise ValueError(f"`split` must be a Split. Received: split={type(split).__name__}")

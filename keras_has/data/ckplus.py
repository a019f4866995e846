"""The extended Cohn-Kanade data set (CK+, Lucey et al. 2010) for facial-emotion recognition.

Layout: the distributed archives unpacked in one root folder,

- ``<root>/cohn-kanade-images/S005/001/S005_001_00000001.png ...``: the frames of a sequence,
  ordered by the 8-digit frame number (grayscale or RGB PNGs, 640x490 or 640x480);
- ``<root>/Emotion/S005/001/S005_001_00000011_emotion.txt``: the sequence's label, one number
  in scientific notation ("   3.0000000e+00"), 0-7 as in `LABELS`. Only 327 of the 593
  sequences have one; the others are unlabelled: not used, listed in `Report.unlabelled`.

Protocol (Khorrami et al. 2015, as in the Hide-and-Seek paper): a labelled sequence gives its
first frame as "neutral" (label 0) and its last `peak_frames` frames as its emotion; only
these frames are read. The face is the largest detection of OpenCV's frontal-face Haar cascade
(`_detect`), cropped, in grayscale, resized (INTER_AREA) to `image_size` squared. A frame
without a detected face gets the centred square of the image's shorter side instead, and is
listed in `Report.no_face`. Folds are subject-independent: the subjects with a labelled
sequence, sorted, go round-robin to `num_folds` folds (subject i to fold i % num_folds).

A corrupt file is an error naming it (`CKPlusError`), never skipped: an emotion file that is
not one number in 0..7, an unreadable image, a labelled sequence with too few frames.
"""

import dataclasses
import functools
import os
import re

import cv2
import numpy as np

from keras_has._arguments import as_bool, as_int

__all__ = ["LABELS", "CKPlusError", "Faces", "Report", "fold_split", "load"]

LABELS = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
IMAGES, EMOTION = "cohn-kanade-images", "Emotion"
_LAYOUT = (
    f"expected <root>/{IMAGES}/S005/001/S005_001_00000001.png ... and "
    f"<root>/{EMOTION}/S005/001/S005_001_00000011_emotion.txt (the CK+ archives unpacked)"
)
_FRAME = re.compile(r"_(\d+)\.png$", re.IGNORECASE)


class CKPlusError(ValueError):
    """A CK+ file that cannot be used; the message names the file and what is wrong."""


@dataclasses.dataclass
class Report:
    """What `load` found: sequence ids ("S005/001") and frame paths."""

    labelled: list = dataclasses.field(default_factory=list)  # sequences used
    unlabelled: list = dataclasses.field(default_factory=list)  # without an Emotion file
    no_face: list = dataclasses.field(default_factory=list)  # frames centre-cropped


@dataclasses.dataclass
class Faces:
    """N face crops: images uint8 (N, S, S, 1); labels int64 (N,) indexing `LABELS`;
    subjects str (N,); folds int64 (N,) in [0, num_folds); sources str (N,) frame paths."""

    images: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    folds: np.ndarray
    sources: np.ndarray
    num_folds: int
    report: Report


def load(root, image_size=96, peak_frames=3, num_folds=10, detect_faces=True):
    """`Faces` of the CK+ tree at `root` (module docstring: layout and protocol).

    Raises ValueError for a bad argument, FileNotFoundError when `root` lacks the layout,
    CKPlusError for a corrupt file.
    """
    root = _as_root(root)
    size = as_int(image_size, "image_size", minimum=1)
    peak_frames = as_int(peak_frames, "peak_frames", minimum=1)
    num_folds = as_int(num_folds, "num_folds", minimum=2)
    detect_faces = as_bool(detect_faces, "detect_faces")
    for folder in (root, os.path.join(root, IMAGES), os.path.join(root, EMOTION)):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"No CK+ folder {folder!r}: {_LAYOUT}.")

    report, samples = Report(), []  # samples: (subject, label, frame path)
    sequences = {  # from both trees: an emotion file without frames is an error
        (subject, sequence)
        for tree in (IMAGES, EMOTION)
        for subject in _folders(os.path.join(root, tree))
        for sequence in _folders(os.path.join(root, tree, subject))
    }
    for subject, sequence in sorted(sequences):
        label = _label(os.path.join(root, EMOTION, subject, sequence))
        if label is None:
            report.unlabelled.append(f"{subject}/{sequence}")
            continue
        folder = os.path.join(root, IMAGES, subject, sequence)
        frames = _frames(folder)
        if len(frames) < peak_frames + 1:
            raise CKPlusError(
                f"{folder!r}: {len(frames)} frames for a labelled sequence; it needs at least "
                f"peak_frames + 1 = {peak_frames + 1}."
            )
        report.labelled.append(f"{subject}/{sequence}")
        samples.append((subject, 0, frames[0]))
        samples.extend((subject, label, path) for path in frames[-peak_frames:])

    subjects = sorted({s for s, _, _ in samples})
    if len(subjects) < num_folds:
        raise ValueError(
            f"`num_folds` must be at most the number of subjects with a labelled sequence "
            f"({len(subjects)} in {root!r}). Received: num_folds={num_folds}"
        )
    fold_of = {s: i % num_folds for i, s in enumerate(subjects)}
    images = np.zeros((len(samples), size, size, 1), np.uint8)
    for i, (_, _, path) in enumerate(samples):
        images[i, :, :, 0] = _face(path, size, detect_faces, report)
    return Faces(
        images=images,
        labels=np.array([label for _, label, _ in samples], np.int64),
        subjects=np.array([s for s, _, _ in samples], str),
        folds=np.array([fold_of[s] for s, _, _ in samples], np.int64),
        sources=np.array([path for _, _, path in samples], str),
        num_folds=num_folds,
        report=report,
    )


def fold_split(faces, fold):
    """(train, test) int64 index arrays of `faces`: test is fold `fold`, train the others."""
    if isinstance(faces, Faces):
        fold = as_int(fold, "fold", minimum=0, maximum=faces.num_folds - 1)
        in_fold = faces.folds == fold
        return np.flatnonzero(~in_fold).astype(np.int64), np.flatnonzero(in_fold).astype(np.int64)
    raise ValueError(f"`faces` must be a Faces from `load`. Received: {type(faces)!r}")


def _as_root(value):
    """`value`, a non-empty str or path, as a str (ValueError otherwise)."""
    if isinstance(value, (str, os.PathLike)) and os.fspath(value):
        return os.fspath(value)
    raise ValueError(f"`root` must be a path. Received: root={value!r}")


def _folders(path):
    """Names of the visible sub-folders of `path` ([] if no folder)."""
    return _entries(path, lambda e: e.is_dir())


def _files(path, suffix):
    """Names of the visible files of `path` ending with `suffix`, any case ([] if no folder)."""
    return _entries(path, lambda e: e.is_file() and e.name.lower().endswith(suffix))


def _entries(path, keep):
    if not os.path.isdir(path):
        return []
    return [e.name for e in os.scandir(path) if keep(e) and not e.name.startswith(".")]


def _frames(folder):
    """The PNG frame paths of a sequence folder, by frame number ([] if no folder)."""
    numbered = []
    for name in _files(folder, ".png"):
        match = _FRAME.search(name)
        if match is None:
            raise CKPlusError(f"{os.path.join(folder, name)!r}: no frame number in the name.")
        numbered.append((int(match.group(1)), name))
    return [os.path.join(folder, name) for _, name in sorted(numbered)]


def _label(folder):
    """The label (int 0..7) in the emotion file of an Emotion sequence folder, None if none."""
    names = _files(folder, "_emotion.txt")
    if not names:
        return None
    if len(names) > 1:
        raise CKPlusError(f"{folder!r}: {len(names)} emotion files {sorted(names)}; expected one.")
    path = os.path.join(folder, names[0])
    try:
        with open(path, encoding="ascii") as file:
            tokens = file.read().split()
        value = float(tokens[0]) if len(tokens) == 1 else None
    except (UnicodeDecodeError, ValueError):
        value = None
    if value is None or value not in range(len(LABELS)):
        raise CKPlusError(f"{path!r}: not one label number in 0..{len(LABELS) - 1}.")
    return int(value)


def _face(path, size, detect_faces, report):
    """The (size, size) uint8 grayscale face crop of the frame at `path`."""
    gray = _read_gray(path)
    box = _detect(gray) if detect_faces else None
    if box is not None:
        x, y, w, h = (int(v) for v in box)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, gray.shape[1]), min(y + h, gray.shape[0])
        box = (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
    if box is None:
        if detect_faces:
            report.no_face.append(path)
        side = min(gray.shape)
        y0, x0 = (gray.shape[0] - side) // 2, (gray.shape[1] - side) // 2
        box = (x0, y0, x0 + side, y0 + side)
    x0, y0, x1, y1 = box
    return cv2.resize(gray[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)


def _read_gray(path):
    """The 8-bit PNG at `path` as uint8 (H, W) grayscale (BGR weights of cv2.cvtColor)."""
    data = np.fromfile(path, np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:
        image = None
    if image is None or image.dtype != np.uint8 or image.size == 0:
        raise CKPlusError(f"{path!r}: not a readable 8-bit image.")
    if image.ndim == 3 and image.shape[2] <= 2:  # gray (with alpha)
        image = image[:, :, 0]
    elif image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    return image


@functools.lru_cache(maxsize=1)
def _cascade():
    """OpenCV's bundled frontal-face Haar cascade, loaded once (RuntimeError if missing)."""
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    # OpenCV 5 moved it to opencv-contrib's xobjdetect, and its wheels ship no cascade files.
    classifier = getattr(cv2, "CascadeClassifier", None)
    classifier = classifier or getattr(getattr(cv2, "xobjdetect", None), "CascadeClassifier", None)
    cascade = classifier(path) if classifier and os.path.isfile(path) else None
    if cascade is None or cascade.empty():
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no frontal-face Haar cascade {path!r} (OpenCV 5 moved "
            "it to opencv-contrib, without the files): install opencv-python-headless<5, or "
            "pass detect_faces=False (centred crops)."
        )
    return cascade


def _detect(gray):
    """(x, y, w, h) of the largest face the cascade finds in uint8 (H, W) `gray`, or None.

    Faces smaller than a quarter of the shorter side are not searched (CK+ faces fill about
    half the frame), which keeps detection fast.
    """
    smallest = max(min(gray.shape) // 4, 24)
    found = _cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
    )
    if len(found) == 0:
        return None
    x, y, w, h = max(found, key=lambda b: int(b[2]) * int(b[3]))
    return int(x), int(y), int(w), int(h)

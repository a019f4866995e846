"""Age and gender data from local folders: `utkface`, `appa_real`, `load_images`, `to_dataset`.

From the official layouts, never downloaded:

- UTKFace (Zhang et al. 2017): one folder of JPEGs named
  ``[age]_[gender]_[race]_[date&time].jpg``: ``.jpg.chip.jpg`` in the aligned
  and cropped sets ("UTKFace/", "crop_part1/"), e.g.
  ``26_0_2_20170104023102422.jpg.chip.jpg``; plain ``.jpg`` in the in-the-wild
  parts. age an integer 0..116, gender 0 male / 1 female, race 0..4, date&time
  digits. Only the folder's own ``*.jpg`` files are read (not subfolders;
  hidden and other files are ignored). A name that does not parse exactly
  (a missing or extra field, a non-numeric field, gender not 0/1, race not
  0..4, age outside 0..116; the release has a few, e.g.
  ``39_1_20170116174525125.jpg.chip.jpg`` with no race) is reported in
  `Report`, warned about and skipped: never guessed.
- APPA-REAL (Agustsson et al. 2017): ``<root>/{train,valid,test}/`` holding
  ``000000.jpg`` (original) and ``000000.jpg_face.jpg`` (aligned face crop),
  and ``<root>/gt_avg_{split}.csv`` with the header
  ``file_name,num_ratings,apparent_age_avg,apparent_age_std,real_age``
  (file_name like ``000000.jpg``). Gender, optional, from APPA-REAL extended's
  ``<root>/allcategories_{split}.csv`` (``file,gender,race,makeup,time,happiness``,
  gender "male" / "female") when that file exists. A row whose image is missing,
  with a missing or non-numeric value (or a negative age), repeated, or (with
  allcategories) without a male/female gender there, is reported and skipped.

Ages are kept as given (UTKFace up to 116, APPA-REAL's apparent age a mean of
votes): for the 101-way age softmax over 0..100 the caller clips, e.g.
``np.minimum(np.round(records.ages), 100)``.
"""

import csv
import dataclasses
import math
import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from keras_has._arguments import as_bool, as_choice, as_int
from keras_has.data.reports import Report

__all__ = [
    "APPA_SPLITS", "AgeGenderError", "Records", "Report", "appa_real", "load_images",
    "to_dataset", "utkface",
]  # fmt: skip

APPA_SPLITS = ("train", "valid", "test")
UTKFACE_MAX_AGE = 116

_MAX_WARNINGS = 5  # one line per malformed file up to this many, then one "and N more"
_UTK_LAYOUT = (
    "expected one folder of [age]_[gender]_[race]_[date&time].jpg files "
    "(.jpg.chip.jpg in the aligned & cropped UTKFace/ and crop_part1/)"
)
_APPA_LAYOUT = (
    "expected <root>/{train,valid,test}/ with 000000.jpg and 000000.jpg_face.jpg, "
    "<root>/gt_avg_{split}.csv, optionally <root>/allcategories_{split}.csv"
)
_UTK_NAME = re.compile(r"(.*?)\.jpg(?:\.chip\.jpg)?", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_UTK_FIELDS = (("age", UTKFACE_MAX_AGE), ("gender", 1), ("race", 4))  # integers 0..top
_GT_COLUMNS = ("file_name", "num_ratings", "apparent_age_avg", "apparent_age_std", "real_age")
_GENDERS = {"male": 0, "female": 1}


class AgeGenderError(ValueError):
    """An age / gender file that cannot be used; the message names the file."""


@dataclasses.dataclass
class Records:
    """N labelled face images.

    - ``paths``: (N,) str image paths.
    - ``ages``: (N,) float32: UTKFace's integer age, APPA-REAL's ``apparent_age_avg``;
      not clipped (see the module docstring).
    - ``real_ages``: (N,) float32 APPA-REAL ``real_age``, or None (UTKFace: ``ages`` is real).
    - ``genders``: (N,) int64 0 male / 1 female, or None when the source has none.
    """

    paths: np.ndarray
    ages: np.ndarray
    real_ages: np.ndarray = None
    genders: np.ndarray = None

    def __len__(self):
        return len(self.paths)


def utkface(folder):
    """UTKFace images of `folder` (the module docstring gives the layout), sorted by path.

    Returns:
        (`Records` with integer ``ages`` 0..116, ``genders``, ``real_ages`` None, `Report`).

    Raises:
        ValueError: `folder` is not a path.
        FileNotFoundError: `folder` is not a folder.
        AgeGenderError: no usable image in `folder`.
    """
    folder = _dir(_as_path(folder, "folder"), "folder", _UTK_LAYOUT)
    report, paths, ages, genders = Report(), [], [], []
    for name in sorted(e.name for e in os.scandir(folder) if e.is_file()):
        if name.startswith(".") or not name.lower().endswith(".jpg"):
            continue
        label, reason = _utk_label(name)
        if label is None:
            report.malformed.append((str(folder / name), reason))
        else:
            paths.append(str(folder / name))
            ages.append(label[0])
            genders.append(label[1])
    _warn(f"UTKFace {folder}", report)
    if not paths:
        raise AgeGenderError(f"{folder}: no usable image ({report.count} malformed; {_UTK_LAYOUT})")
    records = Records(
        np.array(paths, str), np.array(ages, np.float32), None, np.array(genders, np.int64)
    )
    return records, report


def appa_real(root, split, faces=True):
    """APPA-REAL `split` ("train", "valid", "test") under `root`, in csv order.

    Args:
        faces: the aligned ``*.jpg_face.jpg`` crops (default), else the originals.

    Returns:
        (`Records` with ``ages`` apparent_age_avg, ``real_ages`` real_age, ``genders``
        from ``allcategories_{split}.csv`` or None without it, `Report`).

    Raises:
        ValueError: a bad argument.
        FileNotFoundError: `root`, ``<root>/<split>/`` or ``gt_avg_<split>.csv`` missing.
        AgeGenderError: a csv without the expected columns, or no usable row.
    """
    root = _as_path(root, "root")
    split = as_choice(split, "split", APPA_SPLITS)
    faces = as_bool(faces, "faces")
    image_dir = _dir(_dir(root, "root", _APPA_LAYOUT) / split, "root", _APPA_LAYOUT)
    gt_csv = root / f"gt_avg_{split}.csv"
    if not gt_csv.is_file():
        raise FileNotFoundError(f"{gt_csv}: no such csv file ({_APPA_LAYOUT})")
    gender_csv = root / f"allcategories_{split}.csv"
    gender_of = None
    if gender_csv.is_file():
        rows = _rows(gender_csv, ("file", "gender"))
        gender_of = {(row["file"] or "").strip(): row["gender"] for _, row in rows}
    report, kept, seen = Report(), [], set()
    for line, row in _rows(gt_csv, _GT_COLUMNS):
        name = (row["file_name"] or "").strip()
        path = image_dir / (name + "_face.jpg" if faces else name)
        values, reason = _numbers(row)
        gender = None
        if reason is None and not name:
            reason = "empty file_name"
        elif reason is None and name in seen:
            reason = f"{name} repeated"
        elif reason is None and not path.is_file():
            reason = "image missing"
        elif reason is None and gender_of is not None:
            reason, gender = _gender(name, gender_of, gender_csv.name)
        if reason is None:
            seen.add(name)
            kept.append((str(path), values[1], values[3], gender))
        else:
            where = path if reason == "image missing" else f"{gt_csv}:{line}"
            report.malformed.append((str(where), reason))
    _warn(f"APPA-REAL {split}", report)
    if not kept:
        raise AgeGenderError(f"{gt_csv}: no usable row ({report.count} malformed)")
    paths, ages, real_ages, genders = zip(*kept)
    genders = None if gender_of is None else np.array(genders, np.int64)
    records = Records(
        np.array(paths, str), np.array(ages, np.float32), np.array(real_ages, np.float32), genders
    )
    return records, report


def load_images(records, image_size=64):
    """uint8 (N, S, S, 3) RGB images of `records`, read by OpenCV, resized with INTER_AREA.

    Raises:
        ValueError: a bad argument.
        AgeGenderError: an unreadable image, named.
    """
    records, size = _checked(records, image_size)
    images = np.zeros((len(records), size, size, 3), np.uint8)
    for i, path in enumerate(records.paths):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise AgeGenderError(f"{path}: unreadable image")
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        images[i] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return images


def to_dataset(records, image_size=64):
    """tf.data.Dataset of {"image": uint8 (S, S, 3), "age": float32 (), "gender": int64 ()
    (-1 when unknown)}, in `records` order, each image decoded when iterated
    (``tf.io.decode_jpeg``, antialiased bilinear ``tf.image.resize``, rounded).

    Raises:
        ValueError: a bad argument (an unreadable image fails the iteration).
    """
    records, size = _checked(records, image_size)
    genders = records.genders
    if genders is None:
        genders = np.full(len(records), -1, np.int64)
    source = {
        "path": np.asarray(records.paths, str),
        "age": np.asarray(records.ages, np.float32),
        "gender": np.asarray(genders, np.int64),
    }

    def load(element):
        image = tf.io.decode_jpeg(tf.io.read_file(element["path"]), channels=3)
        image = tf.image.resize(image, (size, size), antialias=True)
        image = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
        return {"image": image, "age": element["age"], "gender": element["gender"]}

    ds = tf.data.Dataset.from_tensor_slices(source)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _utk_label(name):
    """((age, gender), None) from a UTKFace file name, else (None, reason)."""
    stem = _UTK_NAME.fullmatch(name).group(1)
    fields = stem.split("_")
    if len(fields) != 4:
        return None, f"{len(fields)} fields, expected 4: [age]_[gender]_[race]_[date&time]"
    age, gender, race, date = fields
    for (what, top), value in zip(_UTK_FIELDS, (age, gender, race)):
        if not _DIGITS.fullmatch(value) or int(value) > top:
            return None, f"{what} {value!r} is not an integer in 0..{top}"
    if not _DIGITS.fullmatch(date):
        return None, f"date&time {date!r} is not digits"
    return (int(age), int(gender)), None


def _gender(name, gender_of, csv_name):
    """(None, 0 male / 1 female) of `name` in allcategories, else (reason, None)."""
    if name not in gender_of:
        return f"{name}: no row in {csv_name}", None
    gender = _GENDERS.get((gender_of[name] or "").strip().lower())
    if gender is None:
        return f"{name}: gender {gender_of[name]!r} in {csv_name}, not male/female", None
    return None, gender


def _numbers(row):
    """(the float values of a gt_avg row's numeric columns, None), else (None, reason)."""
    if row.get(None):
        return None, "more values than columns"
    values = []
    for column in _GT_COLUMNS[1:]:
        text = (row[column] or "").strip()
        try:
            value = float(text)
        except ValueError:
            return None, f"{column} {text!r} is not a number"
        if not math.isfinite(value) or value < 0:
            return None, f"{column} {text!r} is not a finite number >= 0"
        values.append(value)
    return values, None


def _rows(path, columns):
    """(line number, dict row) of a csv file whose header holds `columns`."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise AgeGenderError(
                f"{path}: no column {', '.join(missing)} (header {reader.fieldnames})"
            )
        return [(reader.line_num, row) for row in reader]


def _warn(what, report):
    for path, reason in report.malformed[:_MAX_WARNINGS]:
        warnings.warn(f"{what}: skipping {path}: {reason}", stacklevel=3)
    if report.count > _MAX_WARNINGS:
        more = report.count - _MAX_WARNINGS
        warnings.warn(f"{what}: and {more} more malformed examples skipped", stacklevel=3)


def _as_path(value, name):
    if isinstance(value, (str, os.PathLike)) and os.fspath(value):
        return Path(value)
    raise ValueError(f"`{name}` must be a path (str or os.PathLike). Received: {name}={value!r}")


def _dir(path, name, layout):
    if not path.is_dir():
        raise FileNotFoundError(f"`{name}`: {path}: no such folder ({layout})")
    return path


def _checked(records, image_size):
    size = as_int(image_size, "image_size", minimum=1)
    if isinstance(records, Records):
        return records, size
    raise ValueError(f"`records` must be a Records. Received: records={type(records).__name__}")

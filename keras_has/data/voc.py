"""PASCAL VOC segmentation and SBD from local folders: `voc`, `sbd`, `voc_ids`.

From the official layouts, never downloaded:
- VOC (``VOCtrainval_*.tar``): ``<root>/VOC2012/`` or ``<root>/VOC2011/``
  (`root` may also be that year folder itself, or the ``VOCdevkit`` folder
  holding it) with ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png``
  (palette PNG whose pixel values are class indices 0..20, 255 = void /
  object boundary), ``ImageSets/Segmentation/{train,val,trainval}.txt`` (one
  id a line) and ``Annotations/<id>.xml`` (``<object><name>aeroplane</name>
  ...<difficult>0</difficult></object>``).
- SBD (Hariharan et al. 2011, ``benchmark.tgz``):
  ``<root>/benchmark_RELEASE/dataset/`` (or that ``dataset`` folder) with
  ``img/<id>.jpg``, ``cls/<id>.mat`` (MATLAB struct ``GTcls`` whose field
  ``Segmentation`` is a uint8 (H, W) class map 0..20, no void) and
  ``train.txt``, ``val.txt``.

Elements: ``{"image": uint8 (H, W, 3), "mask": uint8 (H, W) class ids, 255
void, "labels": float32 (20,) multi-hot of the object classes present
(background excluded: class c in 1..20 is index c - 1), "id": tf.string}``,
in the order of the list file. Images are decoded by ``tf.io.decode_jpeg``,
masks by Pillow (palette indices; OpenCV would give the palette's colours)
or scipy, one at a time inside the pipeline.

Checks before returning: a missing image or mask file, a mask that is not a
palette or grayscale PNG (header and chunk CRCs read, not decoded), or whose
size is not the image's, is reported in `Report` (and warned about) and the
example skipped. SBD's .mat files are read whole for this (~2 ms a file, ~20 s
for the 8498 train files). A mask holding values other than 0..20 and 255 is
found while decoding: it stops the iteration with a `VOCError` naming the file.
"""

import dataclasses
import os
import warnings
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import scipy.io
import tensorflow as tf
from PIL import Image

from keras_has.data import reports

__all__ = [
    "CLASSES", "IGNORE_LABEL", "NUM_CLASSES", "Report", "VOCError", "labels_from_mask",
    "read_mask", "sbd", "sbd_ids", "voc", "voc_ids",
]  # fmt: skip

CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
NUM_CLASSES = 21
IGNORE_LABEL = 255

_MAX_WARNINGS = 5  # one line per malformed file up to this many, then one "and N more"
_YEARS = (2012, 2011)  # looked for when year is None
_VALID = np.array([*range(NUM_CLASSES), IGNORE_LABEL])
_VOC_LAYOUT = (
    "expected <root>/VOC2012 or VOC2011 (or VOCdevkit/VOC20xx, or the year folder) with "
    "JPEGImages/<id>.jpg, SegmentationClass/<id>.png, ImageSets/Segmentation/<split>.txt"
)
_SBD_LAYOUT = (
    "expected <root>/benchmark_RELEASE/dataset (or that dataset folder) with img/<id>.jpg, "
    "cls/<id>.mat, <split>.txt"
)


class VOCError(ValueError):
    """A VOC or SBD file that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass
class Report(reports.Report):
    """What `voc` / `sbd` left out: ``malformed``, (path, reason) of each skipped
    example in list order (``count`` of them), and ``excluded``, the ids left out
    through `exclude` (sbd)."""

    excluded: list = dataclasses.field(default_factory=list)


def labels_from_mask(mask):
    """float32 (20,) multi-hot of the classes 1..20 in an integer class map `mask`.

    0 (background) and 255 (void) are left out; any other value is a ValueError.
    """
    present, bad = _values(np.asarray(mask))
    if bad:
        raise ValueError(f"mask values {bad} outside 0..20 and 255")
    labels = np.zeros(NUM_CLASSES - 1, np.float32)
    classes = present[(present >= 1) & (present < NUM_CLASSES)].astype(np.int64)
    labels[classes - 1] = 1.0
    return labels


def read_mask(path):
    """uint8 (H, W) class map of a VOC palette PNG or an SBD ``cls/*.mat`` file.

    Raises:
        VOCError: naming `path`: unreadable, not a palette/grayscale PNG, no
            ``GTcls.Segmentation``, not 2-D, or values other than 0..20, 255.
    """
    path = os.fspath(path)
    if path.endswith(".mat"):
        mask = _mat_segmentation(path)
    else:
        try:
            with Image.open(path) as img:
                if img.mode not in ("P", "L"):
                    raise VOCError(f"{path}: mask mode {img.mode}, expected a palette (P) PNG")
                mask = np.array(img)
        except OSError as error:
            raise VOCError(f"{path}: unreadable mask ({error})") from error
    if bad := _values(mask)[1]:
        raise VOCError(f"{path}: mask values {bad} outside 0..20 and 255 (void)")
    return mask.astype(np.uint8)


def voc_ids(root, split, year=None):
    """The ids listed in ``ImageSets/Segmentation/<split>.txt``, in file order (list of str)."""
    return _read_ids(_voc_dir(root, year) / "ImageSets" / "Segmentation" / f"{split}.txt")[1]


def voc(root, split="train", year=None, labels="masks", exclude=None):
    """PASCAL VOC segmentation: ``(dataset, report)``.

    Args:
        root: the VOC year folder, the folder holding it, or ``VOCdevkit``.
        split: the list ``ImageSets/Segmentation/<split>.txt``: "train",
            "val" or "trainval".
        year: 2012 or 2011 (or another VOC year folder); None: whichever of
            VOC2012 / VOC2011 is there (an error if both or neither are).
        labels: the image-level "labels": "masks" (the classes present in the
            mask) or "xml" (the object names of ``Annotations/<id>.xml``,
            difficult objects included; a missing XML is a malformed example).
        exclude: an iterable of ids to leave out (listed in ``report.excluded``):
            FCN's "seg11valid" is ``voc(root, "val", 2011, exclude=sbd_ids(sbd_root,
            "train"))``.

    Returns:
        ``(tf.data.Dataset, Report)``; elements as in the module doc.

    Raises:
        FileNotFoundError: no VOC folder / list file under `root`.
        VOCError: both years found, an unknown XML class name, no example left.
        ValueError: a bad `labels` or `year`.
    """
    if labels not in ("masks", "xml"):
        raise ValueError(f"labels={labels!r}: expected 'masks' or 'xml'")
    excluded = _excluded(exclude)
    base = _voc_dir(root, year)
    return _dataset(
        f"{base.name} {split}",
        _read_ids(base / "ImageSets" / "Segmentation" / f"{split}.txt", _VOC_LAYOUT),
        lambda id_: (base / "JPEGImages" / f"{id_}.jpg", base / "SegmentationClass" / f"{id_}.png"),
        _png_size,
        xml_dir=base / "Annotations" if labels == "xml" else None,
        excluded=excluded,
    )


def sbd(root, split="train", exclude=None):
    """SBD (the Semantic Boundaries Dataset): ``(dataset, report)``.

    ``exclude`` leaves ids out, e.g. the VOC2011 segmentation val images so
    that a model trained on SBD can be evaluated on all of them::

        ds, report = sbd(root, "train", exclude=voc_ids(voc_root, "val", year=2011))

    (FCN, Long et al. 2015, trained on the 8498 SBD train images and validated
    on the 736 VOC2011 val images that are not among them, "seg11valid".)

    Args:
        root: the folder holding ``benchmark_RELEASE``, or its ``dataset`` folder.
        split: the list ``<split>.txt``: "train" or "val".
        exclude: an iterable of ids to leave out (listed in ``report.excluded``).

    Returns:
        ``(tf.data.Dataset, Report)``; elements as in the module doc.

    Raises:
        FileNotFoundError: no SBD folder / list file under `root`.
        VOCError: no example left.
        TypeError: `exclude` is a string (one id: pass ``[id]``).
    """
    excluded = _excluded(exclude)
    base = _sbd_dir(root)
    return _dataset(
        f"SBD {split}",
        _read_ids(base / f"{split}.txt", _SBD_LAYOUT),
        lambda id_: (base / "img" / f"{id_}.jpg", base / "cls" / f"{id_}.mat"),
        _mat_size,
        excluded=excluded,
    )


def sbd_ids(root, split):
    """The ids listed in SBD's ``<split>.txt``, in file order (list of str)."""
    return _read_ids(_sbd_dir(root) / f"{split}.txt", _SBD_LAYOUT)[1]


def _excluded(exclude):
    """`exclude` (None or an iterable of ids) as a set of str."""
    if isinstance(exclude, (str, bytes)):
        raise TypeError(f"exclude={exclude!r}: expected an iterable of ids, not one string")
    return set() if exclude is None else {str(id_) for id_ in exclude}


def _values(mask):
    """(the sorted distinct values of `mask`, a list of the first 5 not 0..20 or 255)."""
    if mask.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
    else:
        present = np.unique(mask)
    return present, present[~np.isin(present, _VALID)][:5].tolist()


def _mat_segmentation(path):
    try:
        gt = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is a VOCError naming it
        raise VOCError(f"{path}: unreadable .mat file ({type(error).__name__}: {error})") from None
    try:
        mask = np.asarray(gt["GTcls"].Segmentation)
    except (KeyError, AttributeError):
        raise VOCError(f"{path}: no GTcls.Segmentation in the .mat file") from None
    if mask.ndim != 2 or mask.size == 0:
        raise VOCError(f"{path}: GTcls.Segmentation shape {mask.shape}, expected (H, W)")
    return mask


def _voc_dir(root, year):
    if not (root := Path(root)).is_dir():
        raise FileNotFoundError(f"{root}: no such folder ({_VOC_LAYOUT})")
    if year is None:
        years = _YEARS
    else:
        try:
            years = (int(str(year).removeprefix("VOC")),)
        except ValueError:
            raise ValueError(f"year={year!r}: expected e.g. 2012 or 2011") from None
    found = {}
    for y in years:
        for folder in (root, root / f"VOC{y}", root / "VOCdevkit" / f"VOC{y}"):
            if folder.name == f"VOC{y}" and folder.is_dir():
                found.setdefault(y, folder)
    if not found and year is None and (root / "ImageSets" / "Segmentation").is_dir():
        return root  # a year folder under another name
    if len(found) > 1:
        raise VOCError(f"{root}: both VOC2012 and VOC2011 found; pass year=2012 or year=2011")
    if not found:
        looked = " or ".join(f"VOC{y}" for y in years)
        raise FileNotFoundError(f"{root}: no {looked} folder found ({_VOC_LAYOUT})")
    return next(iter(found.values()))


def _sbd_dir(root):
    if not (root := Path(root)).is_dir():
        raise FileNotFoundError(f"{root}: no such folder ({_SBD_LAYOUT})")
    for folder in (root, root / "dataset", root / "benchmark_RELEASE" / "dataset"):
        if (folder / "cls").is_dir() and (folder / "img").is_dir():
            return folder
    raise FileNotFoundError(f"{root}: no SBD img/ and cls/ folders found ({_SBD_LAYOUT})")


def _read_ids(list_file, layout=_VOC_LAYOUT):
    """(list_file, its ids in order)."""
    if not list_file.is_file():
        raise FileNotFoundError(f"{list_file}: no such list file ({layout})")
    return list_file, [line.strip() for line in list_file.read_text().splitlines() if line.strip()]


def _pair_problem(image, mask, mask_size):
    """None for a usable (image, mask), else (path, reason)."""
    if not image.is_file():
        return str(image), "image file missing"
    try:
        with Image.open(image) as img:
            fmt, size = img.format, img.size
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return str(image), f"unreadable image ({type(error).__name__}: {error})"
    if fmt != "JPEG":
        return str(image), f"not a JPEG image ({fmt})"
    if not mask.is_file():
        return str(mask), "mask file missing"
    got, reason = mask_size(mask)
    if reason is None and got != size:
        reason = f"mask is {got[0]}x{got[1]} (WxH), its image {size[0]}x{size[1]}"
    return None if reason is None else (str(mask), reason)


def _png_size(path):
    """((W, H), None) of a palette/grayscale PNG, else (None, reason); reads no pixels."""
    try:
        with Image.open(path) as img:
            fmt, mode, size = img.format, img.mode, img.size
            img.verify()  # chunks and CRCs: finds a truncated file
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return None, f"unreadable mask ({type(error).__name__}: {error})"
    if fmt != "PNG" or mode not in ("P", "L"):
        return None, f"mask is a {fmt} of mode {mode}, expected a palette (P) or grayscale PNG"
    return size, None


def _mat_size(path):
    """((W, H), None) of an SBD .mat's GTcls.Segmentation, else (None, reason)."""
    try:
        return _mat_segmentation(path).shape[::-1], None
    except VOCError as error:
        return None, str(error).removeprefix(f"{path}: ")


def _xml_labels(path):
    """(float32 (20,) multi-hot, None) of an Annotations XML, else (None, (path, reason))."""
    if not path.is_file():
        return None, (str(path), "annotation file missing")
    try:
        objects = ElementTree.parse(path).getroot().findall("object")
    except ElementTree.ParseError as error:
        return None, (str(path), f"unreadable XML ({error})")
    labels = np.zeros(NUM_CLASSES - 1, np.float32)
    for obj in objects:  # object/name only: part names (head, hand...) are deeper
        name = (obj.findtext("name") or "").strip()
        if name not in CLASSES[1:]:
            raise VOCError(f"{path}: unknown object class {name!r} (expected one of CLASSES)")
        labels[CLASSES.index(name) - 1] = 1.0
    return labels, None


def _dataset(what, listed, files, mask_size, xml_dir=None, excluded=()):
    """(dataset, Report) of the listed ids (list_file, ids) whose files(id) -> (image, mask)
    pass the checks; the labels from ``xml_dir/<id>.xml`` if given, else from the masks."""
    (list_file, ids), report, kept = listed, Report(), []
    for id_ in ids:
        if id_ in excluded:
            report.excluded.append(id_)
            continue
        image, mask = files(id_)
        problem, multi_hot = _pair_problem(image, mask, mask_size), None
        if problem is None and xml_dir is not None:
            multi_hot, problem = _xml_labels(xml_dir / f"{id_}.xml")
        if problem is None:
            kept.append((id_, image, mask, multi_hot))
        else:
            report.malformed.append(problem)
    for path, reason in report.malformed[:_MAX_WARNINGS]:
        warnings.warn(f"{what}: skipping {path}: {reason}", stacklevel=3)
    if report.count > _MAX_WARNINGS:
        more = report.count - _MAX_WARNINGS
        warnings.warn(f"{what}: and {more} more malformed examples skipped", stacklevel=3)
    if not kept:
        raise VOCError(
            f"{list_file}: no usable example ({report.count} malformed, "
            f"{len(report.excluded)} excluded)"
        )
    ids, images, masks, labels = zip(*kept)
    source = {"id": list(ids), "image": list(map(str, images)), "mask": list(map(str, masks))}
    if xml_dir is not None:
        source["labels"] = np.stack(labels)

    def load_mask(path):
        mask = read_mask(path.decode())
        return mask, labels_from_mask(mask)

    def decode(example):
        mask, labels = tf.numpy_function(
            load_mask, [example["mask"]], (tf.uint8, tf.float32), stateful=False
        )
        image = tf.io.decode_jpeg(tf.io.read_file(example["image"]), channels=3)
        return {
            "image": tf.ensure_shape(image, (None, None, 3)),
            "mask": tf.ensure_shape(mask, (None, None)),
            "labels": tf.ensure_shape(example.get("labels", labels), (NUM_CLASSES - 1,)),
            "id": example["id"],
        }

    dataset = tf.data.Dataset.from_tensor_slices(source)
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset, report

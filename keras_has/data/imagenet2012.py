"""ImageNet (ILSVRC2012) through TensorFlow Datasets: `imagenet`, `JoinReport`.

TFDS ``imagenet2012``, a manual-download data set: 1000 classes (WordNet
ids, TFDS order), train 1 281 167 / validation 50 000. The elements are in
the package's common format (`keras_has.data.tfds_access`), without "mask".

- ``split="validation"`` (or a slice of it): boxes from the official
  validation box XML files (`keras_has.data.ilsvrc`), joined on TFDS's
  ``file_name`` (``ILSVRC2012_val_00000001.JPEG`` <->
  ``ILSVRC2012_val_00000001.xml``). The XMLs' corners are 0-based inclusive
  and become ``(xmin, ymin, xmax + 1, ymax + 1)`` (see `keras_has.data.ilsvrc`
  for the evidence); boxes are then clipped to the decoded image. Checks,
  counted in ``info.report`` (`JoinReport`): an image without an XML (error
  by default, ``on_missing="skip"`` drops it with a warning), an XML
  ``<size>`` different from the decoded image's (error by default,
  ``on_size_mismatch="rescale"`` scales the boxes to the image,
  ``"keep"`` keeps them; both warn), an XML whose objects' WordNet ids are not
  the image's label (counted only), boxes changed by clipping (counted only).
- ``split="train"``: labels only. WSOL never trains on boxes, so to keep one
  element format ``"boxes"`` is the whole image ``[[0, 0, W, H]]``, a
  placeholder and not ground truth: ``info.has_boxes`` is False.
"""

import re
import threading
import warnings

import numpy as np
import tensorflow as tf

from keras_has._arguments import as_choice
from keras_has.data import ilsvrc, tfds_access
from keras_has.data.tfds_access import SourceInfo

__all__ = ["IMAGENET_NAME", "JoinReport", "imagenet"]

IMAGENET_NAME = "imagenet2012"

_MAX_WARNINGS = 10  # per kind of problem; the rest are counted
_MAX_NAMES = 20  # file names kept per kind of problem in a JoinReport

_IMAGENET_HOW = (
    "Put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (from image-net.org) "
    "in a folder MANUAL and run "
    "tfds.builder('imagenet2012', data_dir=DIR).download_and_prepare("
    "download_config=tfds.download.DownloadConfig(manual_dir=MANUAL)) "
    "(or `tfds build imagenet2012 --data_dir DIR --manual_dir MANUAL`); no network needed."
)

_SPLIT_BASE = re.compile(r"\[.*\]$")


class JoinReport:
    """What the ImageNet box join met, counted as the dataset is iterated.

    Counts grow with every pass over the dataset (call `reset` between
    passes to count one). ``counts()`` keys:

    - ``examples``: images that went through the join (found or not).
    - ``missing_xml``: images with no XML (skipped; with the default
      ``on_missing="error"`` the first one stops the iteration instead).
    - ``size_mismatch``: images whose XML <size> is not the decoded size.
    - ``label_mismatch``: images whose XML objects are not all of the
      image's class.
    - ``clipped_boxes``: boxes changed by clipping to the image.

    ``names()`` gives, per problem, the first file names met.
    """

    KINDS = ("missing_xml", "size_mismatch", "label_mismatch", "clipped_boxes")

    def __init__(self, boxes_dir, num_xml, on_missing, on_size_mismatch):
        self.boxes_dir = str(boxes_dir)
        self.num_xml = num_xml
        self.on_missing = on_missing
        self.on_size_mismatch = on_size_mismatch
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        """Sets all counts to 0."""
        with self._lock:
            self._counts = dict.fromkeys(("examples",) + self.KINDS, 0)
            self._names = {kind: [] for kind in self.KINDS}

    def counts(self):
        """dict of the counts so far."""
        with self._lock:
            return dict(self._counts)

    def names(self):
        """dict kind -> the first file names (up to 20) with that problem."""
        with self._lock:
            return {kind: list(names) for kind, names in self._names.items()}

    def _add(self, name, increments):
        """Called from the pipeline with (examples, missing_xml, size_mismatch,
        label_mismatch, clipped_boxes) increments for the image `name`."""
        if not any(increments):
            return
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        warn = []
        with self._lock:
            self._counts["examples"] += int(increments[0])
            for kind, n in zip(self.KINDS, increments[1:]):
                if not n:
                    continue
                seen = len(self._names[kind])
                self._counts[kind] += int(n)
                if seen < _MAX_NAMES:
                    self._names[kind].append(name)
                if seen < _MAX_WARNINGS and kind in ("missing_xml", "size_mismatch"):
                    warn.append((kind, seen))
        for kind, seen in warn:
            if kind == "missing_xml":
                what = f"no box XML in {self.boxes_dir}; skipped"
            else:
                what = "box XML <size> differs from the decoded image; " + (
                    "boxes rescaled to the image"
                    if self.on_size_mismatch == "rescale"
                    else "boxes kept, clipped to the image"
                )
            more = (
                " (further ones are only counted: info.report)" if seen + 1 == _MAX_WARNINGS else ""
            )
            warnings.warn(f"ImageNet {name}: {what}{more}", stacklevel=2)

    def _add_op(self, name, increments):
        self._add(name, increments)
        return increments

    def __str__(self):
        c = self.counts()
        return (
            f"ImageNet box join ({self.num_xml} XML files from {self.boxes_dir}): "
            f"{c['examples']} images, {c['missing_xml']} without XML, "
            f"{c['size_mismatch']} size mismatches, {c['label_mismatch']} label mismatches, "
            f"{c['clipped_boxes']} boxes clipped"
        )

    __repr__ = __str__


def imagenet(
    split,
    data_dir=None,
    val_boxes_dir=None,
    *,
    on_missing="error",
    on_size_mismatch="error",
    keep_file_name=False,
    shuffle_files=False,
    version=None,
):
    """ImageNet (ILSVRC2012) from a prepared TFDS ``imagenet2012``.

    Args:
        split: "train" or "validation", or a TFDS slice of one of them
            ("validation[:1000]").
        data_dir: the TFDS data folder holding ``imagenet2012/`` (None:
            TFDS's default). Never downloaded into.
        val_boxes_dir: for the validation split (required there, not
            accepted for train): the folder of the ILSVRC2012 validation box
            XML files (``val/`` of ``ILSVRC2012_bbox_val_v3.tgz``), read once
            here (2 to 4 s for the 50 000 files).
        on_missing: an image with no XML: "error" (stop the iteration with
            an error naming the file) or "skip" (drop it, warn, count it).
        on_size_mismatch: an XML <size> that differs from the decoded image:
            "error", "rescale" (scale the boxes to the decoded size) or
            "keep" (keep the XML's pixels, clipped to the image); the last
            two warn and count.
        keep_file_name: also give "file_name" (TFDS's ``file_name``).
        shuffle_files: TFDS's shuffle of the record files (for training).
        version: a TFDS version of the prepared data (None: the default).

    Returns:
        ``(dataset, SourceInfo)``; for validation ``info.report`` is the
        `JoinReport`.

    Raises:
        DataNotPreparedError: the data is not under `data_dir`.
        FileNotFoundError: `val_boxes_dir` missing or without XML files.
        keras_has.data.ilsvrc.BoxXMLError: a malformed XML file.
    """
    kind = _checked_split_kind(split, val_boxes_dir, on_missing, on_size_mismatch)
    builder = tfds_access.builder(IMAGENET_NAME, data_dir, version)
    class_names = tfds_access.class_names(builder)
    ds = tfds_access.as_dataset(builder, split, shuffle_files, _IMAGENET_HOW)
    info = {
        "name": IMAGENET_NAME,
        "num_classes": len(class_names) or 1000,
        "class_names": class_names,
        "num_examples": tfds_access.num_examples(builder, split),
        "has_masks": False,
        "split": str(split),
    }
    if kind == "train":
        return _whole_image_boxes(ds, keep_file_name), SourceInfo(**info, has_boxes=False)
    records = ilsvrc.read_boxes_dir(val_boxes_dir)
    report = JoinReport(val_boxes_dir, len(records), on_missing, on_size_mismatch)
    join = _ValBoxJoin(records, class_names, report, keep_file_name)
    ds = ds.map(join.lookup, num_parallel_calls=tfds_access.AUTOTUNE)
    if on_missing == "skip":
        ds = ds.filter(join.found)
    ds = ds.map(join.join, num_parallel_calls=tfds_access.AUTOTUNE)
    return ds, SourceInfo(**info, has_boxes=True, report=report)


def _split_kind(split):
    bases = {_SPLIT_BASE.sub("", part.strip()) for part in str(split).split("+")}
    if bases == {"validation"}:
        return "validation"
    if bases == {"train"}:
        return "train"
    raise ValueError(
        f"imagenet: `split` must be 'train' or 'validation' (TFDS slices allowed, "
        f"e.g. 'validation[:1000]'), not a mix of them or another split; got {split!r}."
    )


def _checked_split_kind(split, val_boxes_dir, on_missing, on_size_mismatch):
    """`imagenet`'s arguments checked: "train" or "validation", the kind of `split`."""
    kind = _split_kind(split)
    as_choice(on_missing, "on_missing", ("error", "skip"))
    as_choice(on_size_mismatch, "on_size_mismatch", ("error", "rescale", "keep"))
    if kind == "validation" and val_boxes_dir is None:
        raise ValueError(
            "imagenet: the validation split needs `val_boxes_dir`, the folder of the "
            "ILSVRC2012 validation box XMLs (ILSVRC2012_bbox_val_v3.tgz, folder val/)."
        )
    if kind == "train" and val_boxes_dir is not None:
        raise ValueError("imagenet: `val_boxes_dir` is for the validation split only.")
    return kind


def _tf_stem(file_name):
    """`keras_has.data.ilsvrc.stem` in the graph."""
    name = tf.strings.regex_replace(file_name, r"^.*[/\\]", "")
    return tf.strings.regex_replace(name, r"\.[^./\\]*$", "")


def _whole_image_boxes(ds, keep_file_name):
    """The train split: the whole image ``[[0, 0, W, H]]`` as the "boxes" placeholder."""

    def whole_image(ex):
        h, w = tfds_access.image_size(ex["image"])
        box = tf.cast(tf.stack([0, 0, w, h]), tf.float32)[None]
        out = {"image": ex["image"], "label": ex["label"], "boxes": box}
        if keep_file_name:
            out["file_name"] = ex["file_name"]
        return out

    return ds.map(whole_image, num_parallel_calls=tfds_access.AUTOTUNE)


class _ValBoxJoin:
    """The in-graph join of TFDS validation examples with their XML boxes.

    `lookup` finds each example's XML (an error where there is none and
    ``on_missing="error"``), `found` keeps the examples with one (for
    ``on_missing="skip"``) and `join` gives the common format, counting in the
    `JoinReport` what it met.
    """

    def __init__(self, records, class_names, report, keep_file_name):
        keys = sorted(records)
        class_of = {name: i for i, name in enumerate(class_names)}
        counts = np.array([len(records[k].boxes) for k in keys], np.int64)
        self.row_splits = tf.constant(np.concatenate([[0], np.cumsum(counts)]), tf.int64)
        self.all_boxes = tf.constant(np.concatenate([records[k].boxes for k in keys]), tf.float32)
        # (width, height) per XML.
        self.sizes = tf.constant(np.array([records[k].size for k in keys], np.int32))
        # The class of an XML: the id of its objects' common WordNet id, -1 if mixed or unknown.
        self.xml_class = tf.constant(
            np.array(
                [
                    class_of.get(records[k].wnids[0], -1) if len(set(records[k].wnids)) == 1 else -1
                    for k in keys
                ],
                np.int64,
            )
        )
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int64)
            ),
            default_value=-1,
        )
        self.report = report
        self.keep_file_name = keep_file_name
        self.zero = tf.constant(0, tf.int64)

    def _count(self, file_name, increments):
        """Hands the increments to the report (host Python); returns them."""
        out = tf.numpy_function(
            self.report._add_op, [file_name, increments], tf.int64, stateful=True
        )
        out.set_shape(increments.shape)
        return out

    def lookup(self, ex):
        """(ex, index of its XML, -1 if none)."""
        index = self.table.lookup(_tf_stem(ex["file_name"]))
        if self.report.on_missing == "error":
            check = tf.debugging.Assert(
                index >= 0,
                [
                    "ImageNet: no box XML for",
                    ex["file_name"],
                    "in",
                    self.report.boxes_dir,
                    "(on_missing='skip' drops such images)",
                ],
            )
            with tf.control_dependencies([check]):
                index = tf.identity(index)
        return ex, index

    def found(self, ex, index):
        """Whether the example has an XML, counted."""
        zero = self.zero
        missing = tf.cast(index < 0, tf.int64)
        done = self._count(ex["file_name"], tf.stack([missing, missing, zero, zero, zero]))
        with tf.control_dependencies([done]):
            return tf.identity(index >= 0)

    def join(self, ex, index):
        """The example in the common format with its XML's boxes, counted."""
        image = ex["image"]
        h, w = tfds_access.image_size(image)
        boxes = self.all_boxes[self.row_splits[index] : self.row_splits[index + 1]]
        boxes, mismatch, deps = self._fit_to_size(boxes, ex["file_name"], index, w, h)
        wf, hf = tf.cast(w, tf.float32), tf.cast(h, tf.float32)
        clipped = tf.clip_by_value(boxes, 0.0, tf.stack([wf, hf, wf, hf]))
        num_clipped = tf.reduce_sum(
            tf.cast(tf.reduce_any(tf.not_equal(clipped, boxes), axis=1), tf.int64)
        )
        label = tf.cast(ex["label"], tf.int64)
        increments = tf.stack(
            [
                tf.constant(1, tf.int64),
                self.zero,
                tf.cast(mismatch, tf.int64),
                tf.cast(tf.not_equal(self.xml_class[index], label), tf.int64),
                num_clipped,
            ]
        )
        with tf.control_dependencies(deps):
            done = self._count(ex["file_name"], increments)
        with tf.control_dependencies([done]):
            clipped = tf.identity(clipped)
        out = {"image": image, "label": label, "boxes": clipped}
        if self.keep_file_name:
            out["file_name"] = ex["file_name"]
        return out

    def _fit_to_size(self, boxes, file_name, index, w, h):
        """(boxes, mismatch, checks): the XML's boxes against the decoded size (w, h),
        as `on_size_mismatch` says; `checks` must run before the example counts."""
        xml_w, xml_h = self.sizes[index][0], self.sizes[index][1]
        mismatch = tf.logical_or(tf.not_equal(xml_w, w), tf.not_equal(xml_h, h))
        deps = []
        if self.report.on_size_mismatch == "error":
            deps.append(
                tf.debugging.Assert(
                    tf.logical_not(mismatch),
                    [
                        "ImageNet: box XML <size> (width, height)",
                        tf.stack([xml_w, xml_h]),
                        "differs from the decoded image's",
                        tf.stack([w, h]),
                        "for",
                        file_name,
                        "(on_size_mismatch='rescale' or 'keep' go on)",
                    ],
                )
            )
        elif self.report.on_size_mismatch == "rescale":
            sx = tf.cast(w, tf.float32) / tf.cast(xml_w, tf.float32)
            sy = tf.cast(h, tf.float32) / tf.cast(xml_h, tf.float32)
            boxes = boxes * tf.stack([sx, sy, sx, sy])
        return boxes, mismatch, deps

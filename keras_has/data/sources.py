"""Real WSOL data sets through TensorFlow Datasets: CUB-200-2011 and ImageNet.

Every source returns ``(dataset, info)``: a `tf.data.Dataset` of dicts in the
package's common format and a `SourceInfo`.

- ``"image"``: uint8 (H, W, 3), the image's own size.
- ``"label"``: int64 scalar class id.
- ``"boxes"``: float32 (M, 4), M >= 1, ground-truth boxes
  ``(x_min, y_min, x_max, y_max)`` in the image's pixels, half-open (a box
  over columns ``a..b`` inclusive has ``x_max = b + 1``; `keras_has.boxes`).
- ``"mask"``: uint8 (H, W), 1 on the object, 0 elsewhere: CUB only.

Nothing is ever downloaded. The data must be prepared with TFDS beforehand
(``download_and_prepare`` / ``tfds build``; see the README); a source whose
data is missing raises `DataNotPreparedError` telling how to prepare it.

CUB-200-2011 (TFDS ``caltech_birds2011``): 200 classes, train 5 994 / test
5 794 images, one box and one segmentation mask per image.

- Boxes. CUB's ``bounding_boxes.txt`` gives ``x y width height`` per image in
  whole pixels written as floats (``60.0 27.0 325.0 304.0``); its README
  does not say 0- or 1-based. TFDS stores
  ``(ymin, xmin, ymax, xmax) = (y / H, x / W, (y + height) / H,
  (x + width) / W)`` as float32, the maxima clipped to 1, with (H, W) the
  size of the image's segmentation mask, which is the image's size. Read
  with (x, y) the 0-based top-left pixel and width, height the extent in
  pixels, that is exactly the half-open box ``(x, y, x + width, y + height)``,
  which is what we return: normalized value times the image's width or
  height, rounded to whole pixels (``round_boxes``: removes the float32
  round-off of the normalization, < 1e-4 pixel; the source values are whole
  pixels) and clipped to the image. Choe et al.'s wsolevaluation metadata
  write the same corners (``60,27,385,331`` for the box above) but read
  them as inclusive, a box one pixel wider and taller than ours.
- Masks. The CUB segmentations (TFDS ``segmentation_mask``, uint8 0..255,
  the PNGs of ``segmentations.tgz``) are not binary: they hold grey levels
  besides 0 and 255 (soft, crowd-sourced outlines). The mask is
  ``value > mask_threshold * 255``, by default ``value > 127.5``, i.e. at
  0.5 of the range. (wsolevaluation's ``mask > 0.5`` on the raw 0..255
  values, i.e. any non-zero pixel, is ``mask_threshold=0``.) A mask whose
  size differs from its image's is an error naming the file.

ImageNet (ILSVRC2012, TFDS ``imagenet2012``, a manual-download data set):
1000 classes (WordNet ids, TFDS order), train 1 281 167 / validation 50 000.

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

import dataclasses
import re
import threading
import warnings

import numpy as np
import tensorflow as tf

from keras_has.data import ilsvrc

__all__ = ["DataNotPreparedError", "JoinReport", "SourceInfo", "cub", "imagenet"]

CUB_NAME = "caltech_birds2011"
IMAGENET_NAME = "imagenet2012"

_AUTOTUNE = tf.data.AUTOTUNE
_MAX_WARNINGS = 10  # per kind of problem; the rest are counted
_MAX_NAMES = 20  # file names kept per kind of problem in a JoinReport


class DataNotPreparedError(FileNotFoundError):
    """The TFDS data set is not prepared in the given data_dir.

    Attributes: `name` (TFDS's, e.g. "caltech_birds2011"), `data_dir` (the TFDS data folder
    looked in) and `how` (how to prepare it), for callers that word their own message.
    """

    def __init__(self, message, *, name, data_dir, how):
        super().__init__(message)
        self.name, self.data_dir, self.how = name, data_dir, how


@dataclasses.dataclass(frozen=True)
class SourceInfo:
    """What a source yields.

    Attributes:
        name: the TFDS name, e.g. "caltech_birds2011".
        num_classes: number of classes.
        class_names: one name per class id. ImageNet: WordNet ids
            ("n01440764", ...). CUB: TFDS's label names, which for this
            data set are only "0".."199" (TFDS keeps the species name per
            example, not per class).
        num_examples: examples in the split as TFDS recorded it, None when
            unknown. With ``on_missing="skip"`` fewer may come out.
        has_masks: elements carry "mask".
        split: the TFDS split string.
        has_boxes: the "boxes" are ground truth (False: whole-image
            placeholders).
        report: `JoinReport` of the ImageNet validation box join, else None.
    """

    name: str
    num_classes: int
    class_names: tuple
    num_examples: int | None
    has_masks: bool
    split: str = ""
    has_boxes: bool = True
    report: "JoinReport | None" = None


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


# --------------------------------------------------------------------------
# TFDS access


def _builder(name, data_dir, version):
    import tensorflow_datasets as tfds

    full = f"{name}:{version}" if version else name
    return tfds.builder(full, data_dir=data_dir)


def _as_dataset(builder, split, shuffle_files, how_to_prepare):
    try:
        return builder.as_dataset(split=split, shuffle_files=shuffle_files)
    except AssertionError as e:  # TFDS: "could not find data in ..."
        if "could not find data" not in str(e):
            raise
        raise DataNotPreparedError(
            f"TFDS {builder.name} {builder.version} is not prepared: nothing in "
            f"{builder.data_dir}. keras_has never downloads data. {how_to_prepare} Then pass "
            f"data_dir=DIR (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).",
            name=builder.name,
            data_dir=str(builder.data_dir_root),
            how=how_to_prepare,
        ) from e


def _num_examples(builder, split):
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def _class_names(builder):
    try:
        return tuple(builder.info.features["label"].names)
    except (AttributeError, KeyError):
        return ()


def _hw(image):
    shape = tf.shape(image)
    return shape[0], shape[1]


# --------------------------------------------------------------------------
# CUB-200-2011

_CUB_HOW = (
    "Prepare it once on a machine with network access: "
    "tfds.builder('caltech_birds2011', data_dir=DIR).download_and_prepare() "
    "(or `tfds build caltech_birds2011 --data_dir DIR`) and copy DIR here."
)


def cub(
    split,
    data_dir=None,
    *,
    masks=True,
    mask_threshold=0.5,
    round_boxes=True,
    keep_file_name=False,
    shuffle_files=False,
    version=None,
):
    """CUB-200-2011 from a prepared TFDS ``caltech_birds2011``.

    Args:
        split: a TFDS split string: "train", "test", "test[:100]", ...
        data_dir: the TFDS data folder holding ``caltech_birds2011/``
            (None: TFDS's default). Never downloaded into.
        masks: give "mask" (set False for training: one PNG decode less is
            kept, the mask is dropped).
        mask_threshold: the mask is ``value > mask_threshold * 255`` of the
            soft 0..255 segmentation (0.5: most annotators; 0: any non-zero).
        round_boxes: round the box corners to whole pixels (see the module
            doc); False keeps ``normalized * size`` as float32.
        keep_file_name: also give "file_name" (TFDS's ``image/filename``).
        shuffle_files: TFDS's shuffle of the record files.
        version: a TFDS version of the prepared data, e.g. "0.2.0" (None:
            the installed TFDS's default).

    Returns:
        ``(dataset, SourceInfo)``.

    Raises:
        DataNotPreparedError: the data is not under `data_dir`.
    """
    if not 0.0 <= float(mask_threshold) < 1.0:
        raise ValueError(f"`mask_threshold` must be in [0, 1), got {mask_threshold!r}.")
    builder = _builder(CUB_NAME, data_dir, version)
    ds = _as_dataset(builder, split, shuffle_files, _CUB_HOW)
    threshold = np.float32(float(mask_threshold) * 255.0)

    def convert(ex):
        image = ex["image"]
        h, w = _hw(image)
        wf, hf = tf.cast(w, tf.float32), tf.cast(h, tf.float32)
        ymin, xmin, ymax, xmax = tf.unstack(tf.cast(ex["bbox"], tf.float32))
        box = tf.stack([xmin * wf, ymin * hf, xmax * wf, ymax * hf])
        if round_boxes:
            box = tf.round(box)
        box = tf.clip_by_value(box, 0.0, tf.stack([wf, hf, wf, hf]))
        out = {"image": image, "label": tf.cast(ex["label"], tf.int64), "boxes": box[None]}
        if masks:
            soft = ex["segmentation_mask"][..., 0]
            mh, mw = _hw(soft)
            same = tf.logical_and(tf.equal(mh, h), tf.equal(mw, w))
            check = tf.debugging.Assert(
                same,
                [
                    "CUB segmentation mask size differs from the image size:",
                    ex["image/filename"],
                    "mask (H, W):",
                    tf.shape(soft),
                    "image (H, W, C):",
                    tf.shape(image),
                ],
            )
            with tf.control_dependencies([check]):
                out["mask"] = tf.cast(tf.cast(soft, tf.float32) > threshold, tf.uint8)
        if keep_file_name:
            out["file_name"] = ex["image/filename"]
        return out

    ds = ds.map(convert, num_parallel_calls=_AUTOTUNE)
    info = SourceInfo(
        name=CUB_NAME,
        num_classes=200,
        class_names=_class_names(builder),
        num_examples=_num_examples(builder, split),
        has_masks=bool(masks),
        split=str(split),
        has_boxes=True,
    )
    return ds, info


# --------------------------------------------------------------------------
# ImageNet

_IMAGENET_HOW = (
    "Put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (from image-net.org) "
    "in a folder MANUAL and run "
    "tfds.builder('imagenet2012', data_dir=DIR).download_and_prepare("
    "download_config=tfds.download.DownloadConfig(manual_dir=MANUAL)) "
    "(or `tfds build imagenet2012 --data_dir DIR --manual_dir MANUAL`); no network needed."
)

_SPLIT_BASE = re.compile(r"\[.*\]$")


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


def _tf_stem(file_name):
    """`keras_has.data.ilsvrc.stem` in the graph."""
    name = tf.strings.regex_replace(file_name, r"^.*[/\\]", "")
    return tf.strings.regex_replace(name, r"\.[^./\\]*$", "")


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
    kind = _split_kind(split)
    if on_missing not in ("error", "skip"):
        raise ValueError(f"`on_missing` must be 'error' or 'skip', got {on_missing!r}.")
    if on_size_mismatch not in ("error", "rescale", "keep"):
        raise ValueError(
            f"`on_size_mismatch` must be 'error', 'rescale' or 'keep', got {on_size_mismatch!r}."
        )
    if kind == "validation" and val_boxes_dir is None:
        raise ValueError(
            "imagenet: the validation split needs `val_boxes_dir`, the folder of the "
            "ILSVRC2012 validation box XMLs (ILSVRC2012_bbox_val_v3.tgz, folder val/)."
        )
    if kind == "train" and val_boxes_dir is not None:
        raise ValueError("imagenet: `val_boxes_dir` is for the validation split only.")

    builder = _builder(IMAGENET_NAME, data_dir, version)
    class_names = _class_names(builder)
    ds = _as_dataset(builder, split, shuffle_files, _IMAGENET_HOW)
    info = {
        "name": IMAGENET_NAME,
        "num_classes": len(class_names) or 1000,
        "class_names": class_names,
        "num_examples": _num_examples(builder, split),
        "has_masks": False,
        "split": str(split),
    }

    if kind == "train":

        def whole_image(ex):
            h, w = _hw(ex["image"])
            box = tf.cast(tf.stack([0, 0, w, h]), tf.float32)[None]
            out = {"image": ex["image"], "label": ex["label"], "boxes": box}
            if keep_file_name:
                out["file_name"] = ex["file_name"]
            return out

        ds = ds.map(whole_image, num_parallel_calls=_AUTOTUNE)
        return ds, SourceInfo(**info, has_boxes=False)

    records = ilsvrc.read_boxes_dir(val_boxes_dir)
    report = JoinReport(val_boxes_dir, len(records), on_missing, on_size_mismatch)
    ds = _join_val_boxes(ds, records, class_names, report, keep_file_name)
    return ds, SourceInfo(**info, has_boxes=True, report=report)


def _join_val_boxes(ds, records, class_names, report, keep_file_name):
    """The in-graph join of TFDS validation examples with their XML boxes."""
    keys = sorted(records)
    class_of = {name: i for i, name in enumerate(class_names)}
    counts = np.array([len(records[k].boxes) for k in keys], np.int64)
    row_splits = tf.constant(np.concatenate([[0], np.cumsum(counts)]), tf.int64)
    all_boxes = tf.constant(np.concatenate([records[k].boxes for k in keys]), tf.float32)
    sizes = tf.constant(np.array([records[k].size for k in keys], np.int32))  # (width, height)
    # The class of an XML: the id of its objects' common WordNet id, -1 if mixed or unknown.
    xml_class = tf.constant(
        np.array(
            [
                class_of.get(records[k].wnids[0], -1) if len(set(records[k].wnids)) == 1 else -1
                for k in keys
            ],
            np.int64,
        )
    )
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int64)
        ),
        default_value=-1,
    )
    on_missing, on_size_mismatch = report.on_missing, report.on_size_mismatch
    boxes_dir = report.boxes_dir
    zero = tf.constant(0, tf.int64)

    def count(file_name, increments):
        """Hands the increments to the report (host Python); returns them."""
        out = tf.numpy_function(report._add_op, [file_name, increments], tf.int64, stateful=True)
        out.set_shape(increments.shape)
        return out

    def lookup(ex):
        index = table.lookup(_tf_stem(ex["file_name"]))
        if on_missing == "error":
            check = tf.debugging.Assert(
                index >= 0,
                [
                    "ImageNet: no box XML for",
                    ex["file_name"],
                    "in",
                    boxes_dir,
                    "(on_missing='skip' drops such images)",
                ],
            )
            with tf.control_dependencies([check]):
                index = tf.identity(index)
        return ex, index

    def found(ex, index):
        missing = tf.cast(index < 0, tf.int64)
        done = count(ex["file_name"], tf.stack([missing, missing, zero, zero, zero]))
        with tf.control_dependencies([done]):
            return tf.identity(index >= 0)

    def join(ex, index):
        image = ex["image"]
        h, w = _hw(image)
        boxes = all_boxes[row_splits[index] : row_splits[index + 1]]
        xml_w, xml_h = sizes[index][0], sizes[index][1]
        mismatch = tf.logical_or(tf.not_equal(xml_w, w), tf.not_equal(xml_h, h))
        deps = []
        if on_size_mismatch == "error":
            deps.append(
                tf.debugging.Assert(
                    tf.logical_not(mismatch),
                    [
                        "ImageNet: box XML <size> (width, height)",
                        tf.stack([xml_w, xml_h]),
                        "differs from the decoded image's",
                        tf.stack([w, h]),
                        "for",
                        ex["file_name"],
                        "(on_size_mismatch='rescale' or 'keep' go on)",
                    ],
                )
            )
        elif on_size_mismatch == "rescale":
            sx = tf.cast(w, tf.float32) / tf.cast(xml_w, tf.float32)
            sy = tf.cast(h, tf.float32) / tf.cast(xml_h, tf.float32)
            boxes = boxes * tf.stack([sx, sy, sx, sy])
        wf, hf = tf.cast(w, tf.float32), tf.cast(h, tf.float32)
        clipped = tf.clip_by_value(boxes, 0.0, tf.stack([wf, hf, wf, hf]))
        num_clipped = tf.reduce_sum(
            tf.cast(tf.reduce_any(tf.not_equal(clipped, boxes), axis=1), tf.int64)
        )
        label = tf.cast(ex["label"], tf.int64)
        increments = tf.stack(
            [
                tf.constant(1, tf.int64),
                zero,
                tf.cast(mismatch, tf.int64),
                tf.cast(tf.not_equal(xml_class[index], label), tf.int64),
                num_clipped,
            ]
        )
        with tf.control_dependencies(deps):
            done = count(ex["file_name"], increments)
        with tf.control_dependencies([done]):
            clipped = tf.identity(clipped)
        out = {"image": image, "label": label, "boxes": clipped}
        if keep_file_name:
            out["file_name"] = ex["file_name"]
        return out

    ds = ds.map(lookup, num_parallel_calls=_AUTOTUNE)
    if on_missing == "skip":
        ds = ds.filter(found)
    return ds.map(join, num_parallel_calls=_AUTOTUNE)

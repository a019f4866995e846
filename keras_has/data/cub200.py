"""CUB-200-2011 through TensorFlow Datasets: `cub`.

TFDS ``caltech_birds2011``: 200 classes, train 5 994 / test 5 794 images,
one box and one segmentation mask per image. The elements are in the
package's common format (`keras_has.data.tfds_access`), with "mask".

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
"""

import numpy as np
import tensorflow as tf

from keras_has._arguments import as_fraction
from keras_has.data import tfds_access
from keras_has.data.tfds_access import SourceInfo

__all__ = ["CUB_NAME", "cub"]

CUB_NAME = "caltech_birds2011"

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
    mask_threshold = as_fraction(mask_threshold, "mask_threshold", "[)")
    builder = tfds_access.builder(CUB_NAME, data_dir, version)
    ds = tfds_access.as_dataset(builder, split, shuffle_files, _CUB_HOW)
    threshold = np.float32(mask_threshold * 255.0)

    def convert(ex):
        image = ex["image"]
        h, w = tfds_access.image_size(image)
        wf, hf = tf.cast(w, tf.float32), tf.cast(h, tf.float32)
        ymin, xmin, ymax, xmax = tf.unstack(tf.cast(ex["bbox"], tf.float32))
        box = tf.stack([xmin * wf, ymin * hf, xmax * wf, ymax * hf])
        if round_boxes:
            box = tf.round(box)
        box = tf.clip_by_value(box, 0.0, tf.stack([wf, hf, wf, hf]))
        out = {"image": image, "label": tf.cast(ex["label"], tf.int64), "boxes": box[None]}
        if masks:
            out["mask"] = _mask(ex, h, w, threshold)
        if keep_file_name:
            out["file_name"] = ex["image/filename"]
        return out

    ds = ds.map(convert, num_parallel_calls=tfds_access.AUTOTUNE)
    info = SourceInfo(
        name=CUB_NAME,
        num_classes=200,
        class_names=tfds_access.class_names(builder),
        num_examples=tfds_access.num_examples(builder, split),
        has_masks=bool(masks),
        split=str(split),
        has_boxes=True,
    )
    return ds, info


def _mask(ex, h, w, threshold):
    """The binary uint8 mask ``segmentation > threshold`` of a TFDS example, checked to
    have its image's size (h, w) (an error naming the file)."""
    image = ex["image"]
    soft = ex["segmentation_mask"][..., 0]
    mh, mw = tfds_access.image_size(soft)
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
        return tf.cast(tf.cast(soft, tf.float32) > threshold, tf.uint8)

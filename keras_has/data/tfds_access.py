"""What the TFDS sources (`cub200`, `imagenet2012`) share: their element
format, `SourceInfo`, `DataNotPreparedError` and the access to TFDS.

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
"""

import contextlib
import dataclasses
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from keras_has.data.imagenet2012 import JoinReport

AUTOTUNE = tf.data.AUTOTUNE


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


def builder(name, data_dir, version):
    """The TFDS builder of `name` (at `version`, None: the default) in `data_dir`."""
    import tensorflow_datasets as tfds

    full = f"{name}:{version}" if version else name
    return tfds.builder(full, data_dir=data_dir)


def as_dataset(builder, split, shuffle_files, how_to_prepare):
    """`builder.as_dataset`; `DataNotPreparedError` (saying `how_to_prepare`) if not prepared."""
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


@contextlib.contextmanager
def data_dir_errors(title):
    """A `DataNotPreparedError` inside becomes the recipes' one-line `--data-dir` FlagError:
    "no {title} ({TFDS name}) in {folder}. {how to prepare it} Or give the folder ..."."""
    from keras_has.training.flags import FlagError

    try:
        yield
    except DataNotPreparedError as error:
        raise FlagError(
            "--data-dir",
            f"no {title} ({error.name}) in {error.data_dir}. {error.how} Or give the folder "
            "that holds it.",
        ) from error


def num_examples(builder, split):
    """Examples in `split` as TFDS recorded it, None when unknown."""
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def class_names(builder):
    """TFDS's label names, () when it has none."""
    try:
        return tuple(builder.info.features["label"].names)
    except (AttributeError, KeyError):
        return ()


def image_size(image):
    """(height, width) of an (H, W, ...) image tensor, in the graph."""
    shape = tf.shape(image)
    return shape[0], shape[1]

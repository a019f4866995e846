"""Data for weakly-supervised localization: sources and tf.data pipelines.

Sources yield dicts {"image": uint8 (H, W, 3), "label": int64, "boxes":
float32 (M, 4) half-open pixels, "mask": uint8 (H, W) where available}:

- `synthetic.make`: the built-in data set (generated, no download);
  `pipeline.from_arrays` turns it into a source.
- `cub`, `imagenet`: CUB-200-2011 and ILSVRC through TensorFlow Datasets
  (`keras_has.data.cub200`, `keras_has.data.imagenet2012`; what they share,
  `SourceInfo` among it, is in `keras_has.data.tfds_access`), ILSVRC
  validation boxes from the official XML files (`keras_has.data.ilsvrc`).

`pipeline.train_dataset` and `pipeline.eval_dataset` apply the paper's
training and test transforms.

Videos as feature sequences (Sec. 3.2; `keras_has.data.videos` describes the
format): `synthetic_videos.make` (built-in), `thumos.thumos` (local feature
files and THUMOS14 annotations), `videos.train_dataset` / `eval_dataset`.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
from keras_has.data import pipeline, synthetic, synthetic_videos, thumos, videos
from keras_has.data.cub200 import cub
from keras_has.data.imagenet2012 import imagenet
from keras_has.data.tfds_access import SourceInfo

__all__ = [
    "SourceInfo",
    "cub",
    "imagenet",
    "pipeline",
    "synthetic",
    "synthetic_videos",
    "thumos",
    "videos",
]

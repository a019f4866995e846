"""`RandomErasing` as Zhong et al. define it (Random Erasing Data Augmentation, 2017, Alg. 1).

`keras.layers.RandomErasing` is not that: it draws the rectangle's two side fractions
independently as square roots of one range (no aspect-ratio range, the area is not uniform in
[s_l, s_h]), draws the erasing probability itself from (0, factor) per image, and takes a fill of
one or three values only. This layer follows the paper, vectorized over the batch.
"""

import math

import keras
import numpy as np

from keras_has._arguments import as_fraction, is_number
from keras_has._keras_private import DataLayer
from keras_has.layers import checks, runtime

ATTEMPTS = 100  # rectangles drawn per image until one fits (the paper's loop)


@keras.saving.register_keras_serializable(package="keras_has")
class RandomErasing(DataLayer):
    """Erases one random rectangle of each image with probability `probability`.

    For each image, with probability `probability`: draw an area
    S_e ~ U(area) * H W and an aspect ratio r_e ~ U(aspect_ratio), take the
    rectangle of height round(sqrt(S_e r_e)) and width round(sqrt(S_e / r_e));
    if it fits (height < H and width < W) place it uniformly inside the image
    and set its pixels to `fill_value`; else draw again, up to 100 times,
    after which the image is left as it is (Zhong et al., Algorithm 1).
    `training=False` returns the input; without a flag it erases when called
    on its own or in a pipeline of preprocessing layers, as `HideAndSeek`.

    Args:
        probability: the erasing probability p, in [0, 1] (paper: 0.5).
        area: (s_l, s_h), the erased fraction of the image's area, 0 < s_l
            <= s_h < 1 (paper: (0.02, 0.4)).
        aspect_ratio: (r_1, r_2), height / width, 0 < r_1 <= r_2 (paper:
            (0.3, 1 / 0.3)).
        fill_value: a number or one value per channel: the training-set mean
            in the inputs' units (pixels 0-255 before normalization), as the
            paper's re-identification experiments fill.
        seed: int for reproducible rectangles, or None.
        data_format: "channels_last" or "channels_first".

    Inputs: images (B, H, W, C) or one image (H, W, C), any numeric dtype,
    or Keras's `{"images": ..., ...}` dicts (only the images change). The
    output has the input's shape and dtype (integer inputs get the fill
    rounded).
    """

    def __init__(
        self,
        probability=0.5,
        area=(0.02, 0.4),
        aspect_ratio=(0.3, 1 / 0.3),
        fill_value=0.0,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(autocast=False, **kwargs)
        self.probability = as_fraction(probability, "probability")
        self.area = _range(area, "area", upper=1.0)
        self.aspect_ratio = _range(aspect_ratio, "aspect_ratio")
        self.fill_value = checks.check_fill_value(checks.plain(fill_value))
        if not (is_number(self.fill_value) or isinstance(self.fill_value, list)):
            raise ValueError(
                "`fill_value` must be a number or a list of per-channel numbers. "
                f"Received: fill_value={fill_value!r}"
            )
        self.seed = seed
        self.data_format = checks.check_data_format(data_format)
        self.generator = keras.random.SeedGenerator(seed)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            images = checks.dict_images(inputs, "image", "inputs", type(self).__name__)
            return {**inputs, "images": self(images, *args, **kwargs)}
        return runtime.call_keeping_dtype(self, DataLayer, inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    def call(self, inputs, training=None):
        if training is None:
            training = runtime.augments_by_default(self)
        if not training or self.probability == 0:
            return inputs
        backend, channels_first = self.backend, self.data_format == "channels_first"
        np_ = backend.numpy
        channels = checks.check_shape(tuple(inputs.shape), "image", channels_first, self.fill_value)
        unbatched = len(inputs.shape) == 3
        x = np_.expand_dims(inputs, 0) if unbatched else inputs
        shape = backend.core.shape(x)
        height, width = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
        erase = self._rectangles(shape[0], height, width)  # (B, H, W) bool
        erase = np_.expand_dims(erase, 1 if channels_first else -1)
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        fill = np.broadcast_to(np.asarray(self.fill_value, "float64"), (channels,))
        if np.issubdtype(np.dtype(dtype), np.integer):
            info = np.iinfo(dtype)
            fill = np.clip(np.rint(fill), info.min, info.max)
        fill = fill.astype(dtype).reshape((channels, 1, 1) if channels_first else (channels,))
        outputs = np_.where(erase, backend.convert_to_tensor(fill), x)
        return outputs[0] if unbatched else outputs

    def _rectangles(self, batch, height, width):
        """(B, H, W) bool: each image's erased rectangle (all False where none)."""
        backend = self.backend
        np_, random = backend.numpy, backend.random
        seed = self._get_seed_generator(backend._backend)
        h_f, w_f = backend.cast(height, "float32"), backend.cast(width, "float32")
        u = random.uniform((batch, ATTEMPTS, 4), seed=seed)
        lo, hi = self.area
        target = (lo + (hi - lo) * u[..., 0]) * h_f * w_f
        r_lo, r_hi = self.aspect_ratio
        ratio = r_lo + (r_hi - r_lo) * u[..., 1]
        rect_h = np_.round(np_.sqrt(target * ratio))
        rect_w = np_.round(np_.sqrt(target / ratio))
        fits = (rect_h < h_f) & (rect_w < w_f)
        first = np_.argmax(backend.cast(fits, "int32"), axis=1)  # (B,) the first that fits
        pick = lambda v: np_.take_along_axis(v, first[:, None], axis=1)[:, 0]
        rect_h, rect_w = pick(rect_h), pick(rect_w)
        top = np_.floor(pick(u[..., 2]) * (h_f - rect_h + 1))
        left = np_.floor(pick(u[..., 3]) * (w_f - rect_w + 1))
        apply = np_.any(fits, axis=1) & (random.uniform((batch,), seed=seed) < self.probability)
        rows = backend.cast(np_.arange(height), "float32")[None, :, None]
        cols = backend.cast(np_.arange(width), "float32")[None, None, :]
        inside_rows = (rows >= top[:, None, None]) & (rows < (top + rect_h)[:, None, None])
        inside_cols = (cols >= left[:, None, None]) & (cols < (left + rect_w)[:, None, None])
        return inside_rows & inside_cols & apply[:, None, None]

    def get_config(self):
        config = {
            "probability": self.probability,
            "area": list(self.area),
            "aspect_ratio": list(self.aspect_ratio),
            "fill_value": self.fill_value,
            "seed": self.seed,
            "data_format": self.data_format,
        }
        return {**super().get_config(), **config}


def _range(value, name, upper=math.inf):
    """`value`, a pair lo <= hi of numbers in (0, upper), as floats."""
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(is_number(v) for v in value)
        and 0 < float(value[0]) <= float(value[1]) < upper
    ):
        return float(value[0]), float(value[1])
    bound = "" if upper == math.inf else f" < {upper:g}"
    raise ValueError(
        f"`{name}` must be a pair (low, high) of numbers with 0 < low <= high{bound}. "
        f"Received: {name}={value!r}"
    )

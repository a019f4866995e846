"""The `HideAndSeek` layer (Singh et al., Hide-and-Seek, Sec. 3)."""

import keras
import numpy as np

from keras_has._arguments import as_choice, as_fraction, as_int
from keras_has._keras_private import DataLayer
from keras_has.layers import checks, runtime
from keras_has.layers.cells import parse_cell_sizes
from keras_has.layers.hiding import hide, make_plan, xla_hide

MODES = ("image", "feature_map", "temporal")


@keras.saving.register_keras_serializable(package="keras_has")
class HideAndSeek(DataLayer):
    """Hides random grid cells of images, feature maps or feature sequences.

    During training each input is divided into a grid of cells starting at the
    top-left corner (a last row or column that does not fit is a partial
    cell); each cell is hidden independently with probability `hide_prob` by
    setting all its values, across channels, to the fill. Every image gets a
    new pattern on every call; with `image_prob < 1` some images are left
    whole. At inference the input is returned unchanged.

    When to hide: `training=True` hides and `training=False` does not
    (`fit` passes True; `predict` and `evaluate` pass False). Without a flag,
    the layer hides when called on its own (`dataset.map(layer)`) or inside a
    pipeline of preprocessing layers only (`keras.Sequential([HideAndSeek(..),
    RandomFlip()])`), and does not hide inside a network called without one
    (`model(x)`, and the serving function of `model.export()`).

    Modes and shapes:
        - "image": images (B, H, W, C) or one image (H, W, C) (channels first
          with `data_format="channels_first"`). The fill defaults to the
          per-channel training-set mean, computed by `adapt()`. Also takes
          the dicts of Keras's image preprocessing layers, `{"images": ...,
          "labels": ..., "bounding_boxes": ..., "segmentation_masks": ...}`:
          it hides the "images" and passes the other entries through as
          they are (hiding moves no pixel), so it fits in a
          `keras.layers.Pipeline` with `RandomCrop`, `RandomFlip`, etc.
        - "feature_map": conv activations (B, H, W, C), e.g. after conv1. The
          "mean" fill is a per-channel running mean of the activations,
          updated while training; a batch whose mean is not finite (NaN or
          inf activations) does not update it.
        - "temporal": feature sequences (B, T, D) or (T, D), hidden in
          segments along T. The "mean" fill is the dataset's mean feature,
          computed by `adapt()`.

    Args:
        patch_size: the type decides the unit. An int is the cell size in
            pixels (square cells) or, in temporal mode, the segment length
            in steps; 0 means "no hiding". A float must be in (0, 1): a
            fraction of each side (the paper's N/L); `16.0` or `1.0` is an
            error. A list of these: each image draws one entry uniformly
            (the paper's mixed setting, `[0, 16, 32, 44, 56]`).
        hide_prob: probability of hiding each cell, in [0, 1].
        image_prob: probability that an image is hidden at all, in [0, 1];
            with probability `1 - image_prob` it is left whole. The paper's
            classification setting hides half of the images.
        fill_value: "mean" (see modes), a number, or one value per channel.
            Integer inputs get the fill rounded to the nearest integer.
        mode: "image", "feature_map" or "temporal".
        num_segments: temporal mode only, instead of `patch_size`: segments
            per sequence (or a list to draw from); segment length is
            ceil(T / num_segments).
        momentum: feature_map mode running-mean momentum, in [0, 1).
        seed: int for reproducible patterns, or None.
        data_format: "channels_last" or "channels_first" (images and feature
            maps); defaults to `keras.config.image_data_format()`.

    Inputs are tensors, arrays or nested lists of numbers (Python floats
    become floatx, ints int32, as in Keras's own layers). The output has the
    input's shape and dtype (uint8 stays uint8, float16 stays float16). An
    input with a zero-length axis is refused when the length is known at
    the call (or trace), and returned unchanged when it is known only at run
    time (as `keras.layers.RandomErasing` does); an empty batch is returned
    unchanged. Under a `tf.distribute` strategy each replica
    draws its own patterns.

    Examples:

    >>> layer = keras_has.HideAndSeek(patch_size=[0, 16, 32, 44, 56])
    >>> layer.adapt(train_images)  # per-channel mean, the paper's fill
    >>> dataset = dataset.map(lambda x, y: (layer(x), y))

    The paper's classification settings, half of the images hidden:

    >>> cifar = keras_has.HideAndSeek(patch_size=8, image_prob=0.5)
    >>> imagenet = keras_has.HideAndSeek(patch_size=[16, 32, 44, 56], image_prob=0.5)

    In a segmentation or detection pipeline of dicts:

    >>> augment = keras.layers.Pipeline([
    ...     keras.layers.RandomCrop(224, 224, bounding_box_format="xyxy"),
    ...     keras.layers.RandomFlip(bounding_box_format="xyxy"),
    ...     keras_has.HideAndSeek(patch_size=32, fill_value=0.0),
    ... ])
    >>> dataset = dataset.map(augment)  # {"images", "bounding_boxes", ...}
    """

    def __init__(
        self,
        patch_size=None,
        hide_prob=0.5,
        fill_value="mean",
        mode="image",
        num_segments=None,
        momentum=0.99,
        seed=None,
        data_format=None,
        image_prob=1.0,
        **kwargs,
    ):
        # No autocasting: the output keeps the input dtype.
        super().__init__(autocast=False, **kwargs)
        self.mode = as_choice(mode, "mode", MODES)
        self._cells = parse_cell_sizes(patch_size, num_segments, mode)
        self.patch_size = checks.plain(patch_size)
        self.num_segments = checks.plain(num_segments)
        self.hide_prob = as_fraction(hide_prob, "hide_prob")
        self.image_prob = as_fraction(image_prob, "image_prob")
        self.fill_value = checks.check_fill_value(fill_value)
        self.momentum = as_fraction(momentum, "momentum", "[)")
        self.seed = as_int(seed, "seed", none=True)
        self.generator = keras.random.SeedGenerator(self.seed)
        if mode == "temporal":
            if data_format not in (None, "channels_last"):
                raise ValueError(
                    "mode='temporal' takes (B, T, D) sequences; `data_format` "
                    f"does not apply. Received: data_format={data_format!r}"
                )
            self.data_format = "channels_last"
        else:
            self.data_format = checks.check_data_format(data_format)
        self._adapted = False
        self._hides_nothing = (
            self.hide_prob == 0
            or self.image_prob == 0
            or all(c.kind == "none" for c in self._cells)
        )

    # ------------------------------------------------------------------ shapes
    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    @property
    def _batched_rank(self):
        return 3 if self.mode == "temporal" else 4

    def _check_input(self, shape):
        """Validates an input shape; returns its channel count."""
        built = self.mean.shape[0] if self.built and self.fill_value == "mean" else None
        return checks.check_shape(shape, self.mode, self._channels_first, self.fill_value, built)

    def build(self, input_shape):
        channels = self._check_input(input_shape)
        if self.fill_value == "mean":
            # float32 statistics, never autocast under mixed precision.
            self.mean = self.add_weight(
                name="mean",
                shape=(channels,),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )
            # Values averaged by adapt(), or running-mean updates made.
            self.count = self.add_weight(
                name="count",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    # ------------------------------------------------------------------- adapt
    def adapt(self, data, batch_size=None, steps=None):
        """Computes the fill: the per-channel mean of the training data.

        Data with NaN or inf values is refused (ValueError, with their count)
        and nothing is stored.

        Args:
            data: the training inputs in the units the layer will see: an
                array or nested lists (N, H, W, C) / (N, T, D) (or one
                sample), or a
                `tf.data.Dataset` of such batches or samples, or of
                `(inputs, targets, ...)` tuples (only inputs are used), or,
                in image mode, of `{"images": ..., ...}` dicts (only the
                images are used).
            batch_size: rows of an array summed at a time (memory only).
            steps: dataset elements to use (default: all).
        """
        if self.fill_value != "mean" or self.mode == "feature_map":
            raise ValueError(
                "adapt() computes the mean fill of mode='image' or "
                "'temporal' with fill_value='mean'; this layer has "
                f"mode={self.mode!r}, fill_value={self.fill_value!r}"
                + (
                    " (feature_map mode keeps a running mean during training)."
                    if self.mode == "feature_map"
                    else "."
                )
            )
        channel_axis = -3 if self._channels_first else -1
        total, count, first_shape, non_finite = None, 0, None, 0
        for chunk in checks.chunks(data, batch_size or 256, steps, self.mode):
            checks.numeric_dtype(chunk.dtype, "data")
            if first_shape is None:
                first_shape = chunk.shape
                self._check_input(tuple(chunk.shape))
            chunk = np.moveaxis(chunk, channel_axis, -1)
            if chunk.shape[-1] != first_shape[channel_axis]:
                raise ValueError(
                    "adapt() data changed channel count from "
                    f"{first_shape[channel_axis]} to {chunk.shape[-1]}."
                )
            sums = chunk.reshape(-1, chunk.shape[-1]).sum(0, dtype=np.float64)
            if not np.isfinite(sums).all():  # NaN or inf in the chunk
                non_finite += chunk.size - np.count_nonzero(np.isfinite(chunk))
            total = sums if total is None else total + sums
            count += chunk.size // chunk.shape[-1]
        if count == 0:
            raise ValueError("adapt() received no data.")
        if non_finite:
            raise ValueError(
                "adapt() data has non-finite values (NaN or inf): "
                f"{non_finite} of {count * first_shape[channel_axis]} values. "
                "The mean fill would not be finite: clean the data (e.g. "
                "np.nan_to_num) or pass a number as `fill_value`."
            )
        with np.errstate(over="ignore"):
            mean = (total / count).astype("float32")
        if not np.isfinite(mean).all():
            raise ValueError(
                "adapt() data's per-channel mean does not fit in float32 "
                f"(|mean| > 3.4e38). Received: mean={total / count}"
            )
        if not self.built:
            self.build(tuple(first_shape))
        self.mean.assign(mean)
        self.count.assign(float(count))
        self._adapted = True

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.fill_value == "mean":
            self._adapted = float(keras.ops.convert_to_numpy(self.count)) > 0

    # -------------------------------------------------------------------- call
    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):  # {"images": ..., "labels": ..., ...}
            images = checks.dict_images(inputs, self.mode, "inputs", type(self).__name__)
            return {**inputs, "images": self(images, *args, **kwargs)}
        return runtime.call_keeping_dtype(self, DataLayer, inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        if training is None:
            training = runtime.augments_by_default(self)
        if not training or self._hides_nothing:
            return inputs
        backend = self.backend
        np_ = backend.numpy
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        channels = self._check_input(tuple(inputs.shape))
        unbatched = len(inputs.shape) == self._batched_rank - 1
        x = np_.expand_dims(inputs, 0) if unbatched else inputs
        shape = backend.core.shape(x)
        lengths = shape[2:] if self._channels_first else shape[1:-1]
        plan = make_plan(
            backend,
            lengths,
            [[c.length(n, backend) for n in lengths] for c in self._cells],
            self._channels_first,
        )
        fill = self._fill(x, channels, dtype)
        seed = self._get_seed_generator(backend._backend)
        replica = runtime.replica(backend)
        if plan.is_static and runtime.tf_without_xla(backend):
            # TensorFlow's own kernels are slower than XLA's fused loop.
            kernel = xla_hide(plan, self.hide_prob, self.image_prob, replica[1])
            outputs = kernel(x, seed.next(), replica[0], fill)
        else:
            outputs = hide(backend, x, seed, fill, plan, self.hide_prob, self.image_prob, replica)
        return outputs[0] if unbatched else outputs

    def _fill(self, x, channels, dtype):
        """(channels,) fill values in `dtype`."""
        backend = self.backend
        if self.fill_value != "mean":
            values = np.broadcast_to(np.asarray(self.fill_value, "float64"), (channels,))
            if np.issubdtype(np.dtype(dtype), np.integer):
                info = np.iinfo(dtype)
                if values.min() < info.min or values.max() > info.max:
                    raise ValueError(
                        f"`fill_value` {self.fill_value} is outside the range "
                        f"of {dtype} inputs [{info.min}, {info.max}]."
                    )
                values = np.rint(values)
            return backend.convert_to_tensor(values.astype(dtype))
        if self.mode == "feature_map":
            values = self._update_running_mean(x)
        elif not self._adapted:
            raise ValueError(
                "HideAndSeek(fill_value='mean') fills hidden cells with the "
                "training-set mean, which is not computed yet: call "
                "`layer.adapt(training_data)` first (it is saved with the "
                "model), or pass a number or per-channel values as "
                "`fill_value`."
            )
        else:
            values = self.convert_weight(self.mean)
        if np.issubdtype(np.dtype(dtype), np.integer):
            info = np.iinfo(dtype)
            values = backend.numpy.clip(backend.numpy.round(values), info.min, info.max)
        return backend.cast(values, dtype)

    def _update_running_mean(self, x):
        """Moves the running mean towards the batch mean; returns it.

        A batch whose mean is not finite (NaN or inf activations, or no
        values) leaves the running mean and its count as they are: its
        hidden cells get the mean so far (zeros before any finite batch).
        """
        np_ = self.backend.numpy
        axes = (0, 2, 3) if self._channels_first else (0, 1, 2)
        batch_mean = np_.mean(self.backend.cast(x, "float32"), axis=axes)
        batch_mean = self.backend.core.stop_gradient(batch_mean)  # a statistic
        finite = np_.all(np_.isfinite(batch_mean))
        current = self.backend.convert_to_tensor(self.mean)
        mean = np_.where(
            self.count > 0,
            self.momentum * current + (1 - self.momentum) * batch_mean,
            batch_mean,
        )
        mean = np_.where(finite, mean, current)
        self.mean.assign(mean)
        self.count.assign(self.count + self.backend.cast(finite, "float32"))
        return mean

    def get_config(self):
        config = {
            "patch_size": self.patch_size,
            "hide_prob": self.hide_prob,
            "image_prob": self.image_prob,
            "fill_value": self.fill_value,
            "mode": self.mode,
            "num_segments": self.num_segments,
            "momentum": self.momentum,
            "seed": self.seed,
            "data_format": self.data_format,
        }
        return {**super().get_config(), **config}

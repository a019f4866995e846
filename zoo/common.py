"""Argument checks and small pieces shared by the zoo's backbones and heads."""

import numbers

import keras

from keras_has import HideAndSeek
from keras_has._arguments import is_int

POOLINGS = ("avg", "max")
HAS_MODES = ("image", "feature_map")


def check_num_classes(num_classes):
    """Raises ValueError unless `num_classes` is an int >= 2."""
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(
            "`num_classes` must be an int >= 2 (a softmax over classes), the builders' first "
            f"argument. Received: num_classes={num_classes!r}"
        )


def check_pooling(pooling):
    """Raises ValueError unless `pooling` is "avg" or "max"."""
    if pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {POOLINGS} (global average or max pooling). "
            f"Received: pooling={pooling!r}"
        )


def check_image_shape(input_shape, min_size):
    """`input_shape` as a tuple (H, W, C); H and W None (any size) or ints >= `min_size`."""
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if (
        len(shape) != 3
        or not all(s is None or (is_int(s) and s >= min_size) for s in shape[:2])
        or not (is_int(shape[2]) and shape[2] >= 1)
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels), channels last, "
            f"with height and width None or ints >= {min_size} and channels "
            f"an int >= 1. Received: input_shape={input_shape!r}"
        )
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "The zoo's models are channels-last; call "
            "keras.config.set_image_data_format('channels_last')."
        )
    return shape


def check_image_has(has):
    """Raises ValueError unless `has` is None or a channels-last image/feature-map HaS layer."""
    if has is not None and not (
        isinstance(has, HideAndSeek)
        and has.mode in HAS_MODES
        and has.data_format == "channels_last"
    ):
        raise ValueError(
            "`has` must be None or a keras_has.HideAndSeek layer with mode "
            f"in {HAS_MODES} and data_format='channels_last'. Received: "
            f"has={has!r}" + (f" (mode={has.mode!r})" if isinstance(has, HideAndSeek) else "")
        )


def check_width(width):
    """`width` as a float > 0."""
    if (
        isinstance(width, bool)
        or not isinstance(width, numbers.Real)
        or not (0 < width < float("inf"))
    ):
        raise ValueError(
            "`width` must be a finite number > 0 (the multiplier of every "
            f"conv's filter count). Received: width={width!r}"
        )
    return float(width)


def scaled(filters, width):
    """`filters * width` rounded half up, at least 1."""
    return max(1, int(filters * width + 0.5))


def image_input(input_shape):
    """The model's input, named "image"."""
    return keras.Input(input_shape, name="image")


def hide(x, has, mode):
    """`has(x)` if `has` is in `mode` ("image" or "feature_map"), else `x`."""
    return has(x) if has is not None and has.mode == mode else x


def conv_bn_relu(x, filters, size, name, width=1.0, strides=1):
    """Conv "name" ("same", no bias; `filters` scaled by `width`) -> BatchNormalization
    "name_bn" -> ReLU "name_relu"."""
    x = keras.layers.Conv2D(
        scaled(filters, width), size, strides=strides, padding="same", use_bias=False, name=name
    )(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)

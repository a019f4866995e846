"""Pieces shared by the zoo's builders: argument checks, HaS placement, CAM head.

Every builder ends in the same CAM head: (B, h, w, K) conv features ->
global pooling "cam_pool" (B, K) -> Dense "logits" (B, num_classes) ->
softmax "predictions". The class activation map of class c is
`sum_k W[k, c] * F[..., k]`, with F the input of "cam_pool" and W the
(K, num_classes) kernel of "logits".
"""

import numbers

import keras

from keras_has import HideAndSeek

POOLINGS = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "max": keras.layers.GlobalMaxPooling2D,
}
POOLINGS_1D = {
    "avg": keras.layers.GlobalAveragePooling1D,
    "max": keras.layers.GlobalMaxPooling1D,
}
HAS_MODES = ("image", "feature_map")


def check_args(num_classes, input_shape, pooling, has, min_size):
    """Validates the arguments every builder shares.

    Returns:
        `input_shape` as a tuple (H, W, C); H and W may be None (any size).
    """
    check_num_classes(num_classes)
    if pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {tuple(POOLINGS)} (global average or "
            f"max pooling). Received: pooling={pooling!r}"
        )
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
    return shape


def check_num_classes(num_classes):
    """Raises ValueError unless `num_classes` is an int >= 2."""
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(
            "`num_classes` must be an int >= 2 (a softmax over classes), the builders' first "
            f"argument. Received: num_classes={num_classes!r}"
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


def cam_head(inputs, features, num_classes, pooling, name):
    """The classifier model: features (B, h, w, K) -> probabilities (B, N).

    Args:
        inputs: the model's `keras.Input`.
        features: the last conv activations (B, h, w, K), or (B, T, K) of a
            sequence network (pooled over T).
        num_classes: N.
        pooling: "avg" (GAP) or "max" (GMP).
        name: the model's name without the pooling suffix ("alexnet").
    """
    poolings = POOLINGS_1D if len(features.shape) == 3 else POOLINGS
    x = poolings[pooling](name="cam_pool")(features)
    x = keras.layers.Dense(num_classes, name="logits")(x)
    # float32 so that the probabilities stay float32 under mixed precision.
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
    suffix = "gap" if pooling == "avg" else "gmp"
    return keras.Model(inputs, outputs, name=f"{name}_{suffix}")


def is_int(value):
    """An int, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)

"""The action localizer of Video-HaS (Singh et al., Sec. 3.2 and 4.2.3)."""

import keras

from keras_has import HideAndSeek

from . import heads
from .common import is_int
from .registry import compose, register_backbone, register_model


@register_backbone("temporal")
def temporal(input_shape=None, has=None, filters=500):
    """Two pointwise convs over a feature sequence: the temporal CAM net without its head.

    Layers: input "features" (B, T, D) - "conv1" 1x1 conv `filters`, ReLU -
    "conv2" 1x1 conv `filters`, ReLU (B, T, filters), the features. Every
    step stays: T in, T out.

    Args:
        input_shape: (T, D), required: T steps (None: sequences of any
            length) of D features (4096: C3D fc7).
        has: optional `keras_has.HideAndSeek` in mode "temporal", applied to
            the input features (training only).
        filters: kernels of each conv (paper: 500).

    Returns:
        A functional `keras.Model` "temporal": (B, T, D) -> (B, T, filters).
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if (
        len(shape) != 2
        or not (shape[0] is None or (is_int(shape[0]) and shape[0] >= 1))
        or not (is_int(shape[1]) and shape[1] >= 1)
    ):
        raise ValueError(
            "`input_shape` must be given as (T, D): T steps (None for any length or an int "
            ">= 1) of D features (an int >= 1), e.g. (None, 4096) for C3D fc7. Received: "
            f"input_shape={input_shape!r}"
        )
    if not is_int(filters) or filters < 1:
        raise ValueError(f"`filters` must be an int >= 1. Received: filters={filters!r}")
    if has is not None and not (isinstance(has, HideAndSeek) and has.mode == "temporal"):
        raise ValueError(
            "`has` must be None or a keras_has.HideAndSeek layer with mode='temporal'. "
            f"Received: has={has!r}"
        )
    inputs = keras.Input(shape, name="features")
    x = inputs if has is None else has(inputs)
    for index in (1, 2):
        x = keras.layers.Conv1D(filters, 1, activation="relu", name=f"conv{index}")(x)
    return keras.Model(inputs, x, name="temporal")


@register_model("temporal_cam_net", backbone="temporal")
def temporal_cam_net(
    num_classes, input_shape=None, pooling="max", has=None, filters=500, weights=None
):
    """Video-HaS's localizer: the `temporal` backbone and the CAM head.

    Layers: `temporal` (B, T, filters) - global max (paper) or average
    pooling "cam_pool" over T - Dense "logits" - softmax "predictions". The
    1-D CAM of class c at step t is sum_k W[k, c] conv2[t, k]
    (`keras_has.CAMModel` computes it).

    Inputs: per-step features (B, T, D) as the recipe feeds them (C3D fc7
    for THUMOS14, the built-in videos' features), not normalized further.

    Args:
        num_classes: classes of the softmax (THUMOS14: 101).
        input_shape: (T, D), required. The paper's network is
            `temporal_cam_net(101, input_shape=(None, 4096))`.
        pooling: "max" (GMP, the paper's) or "avg" (GAP).
        has: as `temporal`. The recipe hides in its tf.data pipeline
            instead; both hide the same way.
        filters: kernels of each conv (paper: 500).
        weights: None, a preset of temporal_cam_net, or a `.weights.h5` file path.

    Returns:
        A functional `keras.Model` (B, T, D) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(
        temporal,
        head,
        weights,
        "temporal_cam_net",
        input_shape=input_shape,
        has=has,
        filters=filters,
    )

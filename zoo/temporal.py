"""The action localizer of Video-HaS (Singh et al., Sec. 3.2 and 4.2.3)."""

import keras

from keras_has import HideAndSeek
from zoo import heads


def temporal_cam_net(
    feature_dim=4096, num_classes=101, pooling="max", has=None, filters=500, num_steps=None
):
    """Two pointwise convs over a feature sequence, global pooling, softmax.

    Layers: input "features" (B, T, D) - "conv1" 1x1 conv `filters`, ReLU -
    "conv2" 1x1 conv `filters`, ReLU (the CAM features, (B, T, filters)) -
    global max (paper) or average pooling "cam_pool" over T - Dense "logits"
    - softmax "predictions". The 1-D CAM of class c at step t is
    sum_k W[k, c] conv2[t, k] (`keras_has.CAMModel` computes it).

    Args:
        feature_dim: D (4096: C3D fc7).
        num_classes: classes of the softmax (THUMOS14: 101).
        pooling: "max" (GMP, the paper's) or "avg" (GAP).
        has: optional `keras_has.HideAndSeek` in mode "temporal", applied to
            the input features (training only). The recipe hides in its
            tf.data pipeline instead; both hide the same way.
        filters: kernels of each conv (paper: 500).
        num_steps: T, or None for sequences of any length.
    """
    for name, value, low in (
        ("feature_dim", feature_dim, 1),
        ("num_classes", num_classes, 2),
        ("filters", filters, 1),
    ):
        if not heads.is_int(value) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    if num_steps is not None and not (heads.is_int(num_steps) and num_steps >= 1):
        raise ValueError(f"`num_steps` must be None or an int >= 1. Received: {num_steps!r}")
    if pooling not in heads.POOLINGS_1D:
        raise ValueError(
            f"`pooling` must be one of {tuple(heads.POOLINGS_1D)}. Received: pooling={pooling!r}"
        )
    if has is not None and not (isinstance(has, HideAndSeek) and has.mode == "temporal"):
        raise ValueError(
            "`has` must be None or a keras_has.HideAndSeek layer with mode='temporal'. "
            f"Received: has={has!r}"
        )
    inputs = keras.Input((num_steps, feature_dim), name="features")
    x = inputs if has is None else has(inputs)
    for index in (1, 2):
        x = keras.layers.Conv1D(filters, 1, activation="relu", name=f"conv{index}")(x)
    return heads.cam_head(inputs, x, num_classes, pooling, "temporal_cam_net")

"""Networks of the face tasks (Sec. 4.8 of the extended paper): Khorrami et al.'s zero-bias CNN
for facial emotion (CK+, Table X) and a Wide Residual Network (Zagoruyko & Komodakis) for age
and gender (Table XI)."""

import keras

from . import common, heads
from .registry import compose, register_backbone, register_model

EMOTIONS = 8  # CK+: neutral and the seven emotions
AGES = 101  # ages 0..100: the age output's classes; its expected value is the predicted age
AGE_GENDER = {"gender": 2, "age": AGES}  # wrn_age_gender's outputs


@register_backbone("zero_bias")
def zero_bias(input_shape=(96, 96, 1), has=None, width=1.0):
    """Khorrami et al.'s (ICCVW 2015) convolutions: three 5x5 convs without biases ("zero
    bias") and ReLU, "same" padding (shapes at 96x96): conv1 64 - pool1 2x2 (48x48) - conv2 128
    - pool2 2x2 (24x24) - conv3 256 (24x24x256, the features).

    Args:
        input_shape: (H, W, C); H and W at least 8 or None (the zero-bias CNN's quadrant
            pooling needs a fixed map of even sides: H and W multiples of 4 do).
        has: optional `keras_has.HideAndSeek` ("image" or "feature_map": conv1's map).
        width: multiplier of every conv's filter count (1.0: Khorrami et al.'s).

    Returns:
        A functional `keras.Model` "zero_bias": (B, H, W, C) -> (B, H / 4, W / 4, 256 width).
    """
    input_shape = common.check_image_shape(input_shape, 8)
    common.check_image_has(has)
    width = common.check_width(width)

    def conv(x, filters, name):
        return keras.layers.Conv2D(
            common.scaled(filters, width),
            5,
            padding="same",
            use_bias=False,
            activation="relu",
            name=name,
        )(x)

    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = conv(x, 64, "conv1")
    x = common.hide(x, has, "feature_map")
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(conv(x, 128, "conv2"))
    return keras.Model(inputs, conv(x, 256, "conv3"), name="zero_bias")


@register_model("zero_bias_cnn", backbone="zero_bias")
def zero_bias_cnn(
    num_classes,
    input_shape=(96, 96, 1),
    pooling="max",
    has=None,
    width=1.0,
    dropout=0.5,
    weights=None,
):
    """The zero-bias CNN: `zero_bias` - "quadrant" max pooling of each quarter of the map (12x12
    at 96x96) to 2x2 - flatten - Dense "fc" 300, ReLU - Dropout - Dense "logits" - softmax
    "predictions" (B, num_classes). 1,335,508 parameters for 8 classes at 96x96 grayscale. It has
    no CAM (a dense layer over the 2x2 map): see occlusion sensitivity for what it attends to.

    Inputs: float images (B, H, W, C) (the recipes' grayscale faces normalized per channel).

    Args:
        num_classes: classes (8 for CK+).
        input_shape, has, width: as `zero_bias`.
        pooling: the quadrant pooling, "max" (Khorrami et al.'s) or "avg".
        dropout: the dense layer's dropout rate.
        weights: None or a `.weights.h5` file path.
    """
    common.check_num_classes(num_classes)
    common.check_pooling(pooling)
    pool_layers = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}

    def head(backbone):
        height, width = backbone.output.shape[1:3]
        if height is None or width is None or height % 2 or width % 2:
            raise ValueError(
                "The zero-bias CNN's quadrant pooling needs a fixed conv3 map of even sides: "
                "an input whose sides are multiples of 4. Received: "
                f"input_shape={tuple(backbone.input.shape[1:])!r}"
            )
        pool = pool_layers[pooling]((height // 2, width // 2), name="quadrant_pool")
        x = keras.layers.Flatten(name="flatten")(pool(backbone.output))
        x = keras.layers.Dense(300, activation="relu", name="fc")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Dense(num_classes, name="logits")(x)
        outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
        return keras.Model(backbone.input, outputs, name="zero_bias_cnn")

    return compose(
        zero_bias, head, weights, "zero_bias_cnn", input_shape=input_shape, has=has, width=width
    )


@register_backbone("wrn")
def wrn(input_shape=(64, 64, 3), has=None, depth=16, width=8):
    """A Wide Residual Network WRN-depth-width (Zagoruyko & Komodakis 2016): conv1 16 3x3, then
    three stages of (depth - 4) / 6 pre-activation basic blocks of 16, 32, 64 x `width` filters
    (stride 2 at stages 2 and 3; a 1x1 projection where the shape changes), final BN-ReLU.
    (B, H, W, C) -> (B, H / 4, W / 4, 64 width); WRN-16-8 is 10.96 M parameters (the published
    11.0 M of CIFAR-10, head included).

    Args:
        input_shape: (H, W, C); H, W None or >= 4.
        has: optional `keras_has.HideAndSeek` ("image", or "feature_map": conv1's map).
        depth: 6 n + 4 (10, 16, 22, 28, 40, ...).
        width: the widening factor k (an int >= 1).
    """
    input_shape = common.check_image_shape(input_shape, 4)
    common.check_image_has(has)
    if not common.is_int(depth) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"`depth` must be 6 n + 4 with n >= 1 (16, 22, 28, ...). Received: {depth!r}"
        )
    if not common.is_int(width) or width < 1:
        raise ValueError(f"`width` must be an int >= 1 (the widening factor). Received: {width!r}")
    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(x)
    x = common.hide(x, has, "feature_map")
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for block in range((depth - 4) // 6):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _wide_block(x, filters, strides, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.BatchNormalization(momentum=0.9, name="final_bn")(x)
    x = keras.layers.Activation("relu", name="final_relu")(x)
    return keras.Model(inputs, x, name=f"wrn_{depth}_{width}")


def _wide_block(x, filters, strides, name):
    """Pre-activation basic block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut (a 1x1
    projection of the activated input where the channels or the stride change)."""
    bn = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn1")(x)
    activated = keras.layers.Activation("relu", name=f"{name}_relu1")(bn)
    y = keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1"
    )(activated)
    y = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn2")(y)
    y = keras.layers.Activation("relu", name=f"{name}_relu2")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    if strides != 1 or x.shape[-1] != filters:
        x = keras.layers.Conv2D(
            filters, 1, strides=strides, use_bias=False, name=f"{name}_shortcut"
        )(activated)
    return keras.layers.Add(name=f"{name}_add")([x, y])


@register_model("wrn_age_gender", backbone="wrn")
def wrn_age_gender(
    num_classes,
    input_shape=(64, 64, 3),
    pooling="avg",
    has=None,
    depth=16,
    width=8,
    weights=None,
):
    """WRN (`wrn`, WRN-16-8 by default) with two outputs (`zoo.heads.multi_output`): "gender"
    (B, 2) and "age" (B, 101), softmaxes over the global average pooled features; the expected
    value of "age" over 0..100 is the predicted age: `zoo.wrn_age_gender(zoo.faces.AGE_GENDER)`.

    Inputs: float images (B, H, W, 3) (the recipes' faces normalized per channel).

    Args:
        num_classes: the outputs' classes, a dict: `AGE_GENDER` = {"gender": 2, "age": 101}.
        input_shape, has, depth, width: as `wrn`.
        pooling: the global pooling, "avg" or "max".
        weights: None or a `.weights.h5` file path.
    """
    return compose(
        wrn,
        heads.multi_output(num_classes, pooling),
        weights,
        "wrn_age_gender",
        input_shape=input_shape,
        has=has,
        depth=depth,
        width=width,
    )

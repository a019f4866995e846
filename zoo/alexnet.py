"""AlexNet-GAP (Zhou et al. 2016, CAM; Singh et al., Hide-and-Seek, Sec. 4.1.1)."""

import keras

from . import common, heads
from .registry import compose, register_backbone, register_model

# Smallest height/width giving a 1x1 map: conv1 7 -> pool1 3 -> pool2 1.
MIN_SIZE = 35


@register_backbone("alexnet")
def alexnet(input_shape=(227, 227, 3), has=None, width=1.0):
    """AlexNet up to pool5 (stride 1) and two 3x3 convs: AlexNet-GAP without its head.

    Layers (shapes at the 227x227 default):
        conv1 96 11x11/4 valid (55x55x96) - pool1 3x3/2 (27x27) -
        conv2 256 5x5 (27x27) - pool2 3x3/2 (13x13) - conv3 384, conv4 384,
        conv5 256 3x3 - pool5 3x3/1 same (13x13) - conv6, conv7 512 3x3
        (13x13x512, the features).
    Every conv has a bias and a ReLU. As in the paper the convs are not
    grouped; local response normalization is left out (Keras has no LRN
    layer).

    Args:
        input_shape: (H, W, C), channels last; H and W >= 35 or None.
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the conv1 map (55x55x96 at 227, Table V).
        width: multiplier of every conv's filter count (1.0: the paper's).

    Returns:
        A functional `keras.Model` "alexnet": (B, H, W, C) -> (B, h, w, 512 width).
    """
    input_shape = common.check_image_shape(input_shape, MIN_SIZE)
    common.check_image_has(has)
    width = common.check_width(width)

    def conv(x, filters, size, name, strides=1, padding="same"):
        return keras.layers.Conv2D(
            common.scaled(filters, width),
            size,
            strides=strides,
            padding=padding,
            activation="relu",
            name=name,
        )(x)

    def pool(x, name, strides=2, padding="valid"):
        return keras.layers.MaxPooling2D(3, strides, padding=padding, name=name)(x)

    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = conv(x, 96, 11, "conv1", strides=4, padding="valid")
    x = common.hide(x, has, "feature_map")
    x = pool(x, "pool1")
    x = conv(x, 256, 5, "conv2")
    x = pool(x, "pool2")
    x = conv(x, 384, 3, "conv3")
    x = conv(x, 384, 3, "conv4")
    x = conv(x, 256, 3, "conv5")
    x = pool(x, "pool5", strides=1, padding="same")
    x = conv(x, 512, 3, "conv6")
    x = conv(x, 512, 3, "conv7")
    return keras.Model(inputs, x, name="alexnet")


@register_model("alexnet_gap", backbone="alexnet")
def alexnet_gap(
    num_classes, input_shape=(227, 227, 3), pooling="avg", has=None, width=1.0, weights=None
):
    """AlexNet-GAP: the `alexnet` backbone (13x13x512 at 227) and the CAM head.

    Layers: `alexnet` - global pooling "cam_pool" - Dense "logits" - softmax
    "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    Trained by this project (`recipes.wsol`, the presets), it takes RGB
    pixels mapped to [-1, 1] by `keras_has.data.pipeline.normalize`
    (`zoo.preprocess(images, preset)` resizes and maps them for a preset).

    Args:
        num_classes: classes of the softmax.
        input_shape, has, width: as `alexnet`.
        pooling: "avg" (GAP) or "max" (GMP).
        weights: None, a preset of alexnet_gap, or a `.weights.h5` file path.

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(
        alexnet, head, weights, "alexnet_gap", input_shape=input_shape, has=has, width=width
    )

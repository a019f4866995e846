"""A small VGG-style network for this project's CPU-sized built-in data (64x64 images).

About 28 M multiply-adds per 64x64 image (ResNet-20 at 64x64: 160 M), so the segmentation
recipes train in minutes on two cores. Its layers at strides 2, 4 and 8 are named for FCN's
skips (`zoo.heads.fcn`).
"""

import keras

from . import common, heads
from .registry import compose, register_backbone, register_model

MIN_SIZE = 8  # three halvings leave a 1x1 map


@register_backbone("mini_vgg")
def mini_vgg(input_shape=(64, 64, 3), has=None, width=1.0):
    """Convs with batch normalization and ReLU, "same" padding (shapes at 64x64):
        conv1 24 5x5/2 (32x32) - conv2 32 3x3 - pool2 2x2/2 (16x16) - conv3 64 3x3 -
        pool3 2x2/2 (8x8) - conv4 128 3x3 - conv5 128 3x3 (8x8x128, the features; stride 8).
    Each conv k is the layers "convk" (no bias), "convk_bn" and "convk_relu" (its output).
    Batch normalization lets it train from scratch at a high rate (without it, the same stack
    stalled for epochs on the built-in scenes).

    Args:
        input_shape: (H, W, C), channels last; H and W >= 8 or None.
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input, mode
            "feature_map" the conv1 map.
        width: multiplier of every conv's filter count.

    Returns:
        A functional `keras.Model` "mini_vgg": (B, H, W, C) -> (B, H/8, W/8, 128 width).
    """
    input_shape = common.check_image_shape(input_shape, MIN_SIZE)
    common.check_image_has(has)
    width = common.check_width(width)

    def conv(x, filters, size, name, strides=1):
        return common.conv_bn_relu(x, filters, size, name, width, strides)

    def pool(x, name):
        return keras.layers.MaxPooling2D(2, padding="same", name=name)(x)

    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = conv(x, 24, 5, "conv1", strides=2)
    x = common.hide(x, has, "feature_map")
    x = pool(conv(x, 32, 3, "conv2"), "pool2")
    x = pool(conv(x, 64, 3, "conv3"), "pool3")
    x = conv(x, 128, 3, "conv4")
    x = conv(x, 128, 3, "conv5")
    return keras.Model(inputs, x, name="mini_vgg")


@register_model("mini_vgg_gap", backbone="mini_vgg")
def mini_vgg_gap(
    num_classes, input_shape=(64, 64, 3), pooling="avg", has=None, width=1.0, weights=None
):
    """The `mini_vgg` backbone and the CAM head (8x8 CAMs at 64x64).

    Inputs: float images (B, H, W, C); the model does no preprocessing (this project's
    recipes give it pixels normalized per channel by the training set's mean and std).

    Args:
        num_classes: classes of the softmax.
        input_shape, has, width: as `mini_vgg`.
        pooling: "avg" (GAP) or "max" (GMP).
        weights: None or a `.weights.h5` file path.

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(
        mini_vgg, head, weights, "mini_vgg_gap", input_shape=input_shape, has=has, width=width
    )

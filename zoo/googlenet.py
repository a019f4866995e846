"""GoogLeNet-GAP (Zhou et al. 2016, CAM; Singh et al., Hide-and-Seek, Sec. 4.1.1)."""

import keras

from . import common, heads
from .registry import compose, register_backbone, register_model

# Inception modules up to 4e (Szegedy et al. 2015, Table 1): #1x1,
# #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. A "pool" entry is the
# 3x3/2 max pooling in between.
INCEPTION = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("pool3", None),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
)


@register_backbone("googlenet")
def googlenet(input_shape=(224, 224, 3), has=None, width=1.0):
    """Inception v1 up to inception-4e and a 3x3 conv: GoogLeNet-GAP without its head.

    Layers (shapes at the 224x224 default):
        conv1 64 7x7/2 (112x112) - pool1 3x3/2 (56x56) - conv2_reduce 64
        1x1 - conv2 192 3x3 - pool2 3x3/2 (28x28) - inception 3a, 3b -
        pool3 3x3/2 (14x14) - inception 4a..4e (14x14x832) - cam_conv 1024
        3x3 (14x14x1024, the features).
    Every conv is conv (no bias) - batch normalization - ReLU, as the paper
    adds BN after every conv. All convs and poolings pad "same", so the map
    is ceil(H / 16) x ceil(W / 16). Local response normalization is left
    out (Keras has no LRN layer; BN replaces it).

    Args:
        input_shape: (H, W, C), channels last; H and W may be None.
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the conv1 map (112x112x64 at 224).
        width: multiplier of every conv's filter count (1.0: the paper's).

    Returns:
        A functional `keras.Model` "googlenet": (B, H, W, C) -> (B, h, w, 1024 width).
    """
    input_shape = common.check_image_shape(input_shape, 1)
    common.check_image_has(has)
    width = common.check_width(width)

    def conv(x, filters, size, name, strides=1):
        return common.conv_bn_relu(x, filters, size, name, width, strides)

    def pool(x, name, strides=2):
        return keras.layers.MaxPooling2D(3, strides, padding="same", name=name)(x)

    def inception(x, spec, name):
        n1, n3r, n3, n5r, n5, proj = spec
        branches = [
            conv(x, n1, 1, f"{name}_1x1"),
            conv(conv(x, n3r, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3"),
            conv(conv(x, n5r, 1, f"{name}_5x5_reduce"), n5, 5, f"{name}_5x5"),
            conv(pool(x, f"{name}_pool", strides=1), proj, 1, f"{name}_pool_proj"),
        ]
        return keras.layers.Concatenate(name=f"{name}_output")(branches)

    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = conv(x, 64, 7, "conv1", strides=2)
    x = common.hide(x, has, "feature_map")
    x = pool(x, "pool1")
    x = conv(x, 64, 1, "conv2_reduce")
    x = conv(x, 192, 3, "conv2")
    x = pool(x, "pool2")
    for name, spec in INCEPTION:
        x = pool(x, name) if spec is None else inception(x, spec, f"inception_{name}")
    x = conv(x, 1024, 3, "cam_conv")
    return keras.Model(inputs, x, name="googlenet")


@register_model("googlenet_gap", backbone="googlenet")
def googlenet_gap(
    num_classes, input_shape=(224, 224, 3), pooling="avg", has=None, width=1.0, weights=None
):
    """GoogLeNet-GAP: the `googlenet` backbone (14x14x1024 at 224) and the CAM head.

    Layers: `googlenet` - global pooling "cam_pool" - Dense "logits" -
    softmax "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    Trained by this project (`recipes.wsol`, the presets), it takes RGB
    pixels mapped to [-1, 1] by `keras_has.data.pipeline.normalize`
    (`zoo.preprocess(images, preset)` resizes and maps them for a preset).

    Args:
        num_classes: classes of the softmax.
        input_shape, has, width: as `googlenet`.
        pooling: "avg" (GAP) or "max" (GMP).
        weights: None, a preset of googlenet_gap ("has_builtin",
            "baseline_builtin"), or a `.weights.h5` file path.

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(
        googlenet, head, weights, "googlenet_gap", input_shape=input_shape, has=has, width=width
    )

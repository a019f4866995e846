"""The CIFAR ResNets of He et al.: ResNet-20/32/44/56/110 (basic blocks, 6n+2) and the
pre-activation bottleneck ResNet-164 (9n+2). Their head is global average pooling and one
dense layer, the CAM head: these are GAP networks, so their CAMs come for free."""

import keras
from keras import ops

from . import common, heads
from .registry import compose, register_backbone, register_model

# depth -> blocks per stage; the basic family is 6n+2 (He et al. 2016a, Sec. 4.2).
BASIC_DEPTHS = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18}
STAGE_FILTERS = (16, 32, 64)


@keras.saving.register_keras_serializable(package="keras_has")
class ZeroPadShortcut(keras.layers.Layer):
    """He et al.'s option A shortcut: subsample by `strides` and pad the channels with zeros to
    `filters` (no parameters). (B, H, W, C) -> (B, ceil(H / s), ceil(W / s), filters)."""

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        s = self.strides
        return (
            batch,
            None if height is None else -(-height // s),
            None if width is None else -(-width // s),
            self.filters,
        )

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _conv(x, filters, size, name, strides=1):
    """Conv (no bias: BN follows or precedes), He initialization, L2 through the optimizer."""
    return keras.layers.Conv2D(
        filters,
        size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)(x)


def _relu(x, name):
    return keras.layers.Activation("relu", name=name)(x)


def _basic_block(x, filters, strides, name):
    """conv-BN-ReLU-conv-BN + shortcut (option A where the shape changes), ReLU."""
    y = _relu(_bn(_conv(x, filters, 3, f"{name}_conv1", strides), f"{name}_bn1"), f"{name}_relu1")
    y = _bn(_conv(y, filters, 3, f"{name}_conv2"), f"{name}_bn2")
    if strides != 1 or x.shape[-1] != filters:
        x = ZeroPadShortcut(filters, strides, name=f"{name}_shortcut")(x)
    return _relu(keras.layers.Add(name=f"{name}_add")([x, y]), f"{name}_out")


def _bottleneck_block(x, filters, strides, name, first):
    """Pre-activation bottleneck (He et al. 2016b): BN-ReLU-conv1x1 (filters) -
    BN-ReLU-conv3x3 - BN-ReLU-conv1x1 (4 filters) + shortcut (1x1 conv where the shape
    changes). The very first block shares its pre-activation with the shortcut."""
    out = 4 * filters
    pre = _relu(_bn(x, f"{name}_preact_bn"), f"{name}_preact_relu")
    y = _conv(pre, filters, 1, f"{name}_conv1")
    y = _conv(_relu(_bn(y, f"{name}_bn1"), f"{name}_relu1"), filters, 3, f"{name}_conv2", strides)
    y = _conv(_relu(_bn(y, f"{name}_bn2"), f"{name}_relu2"), out, 1, f"{name}_conv3")
    if strides != 1 or x.shape[-1] != out:
        x = _conv(pre if first else x, out, 1, f"{name}_shortcut", strides)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _resnet(depth, input_shape, has):
    """The CIFAR ResNet of `depth` (a key of BASIC_DEPTHS, or 164): (B, H, W, C) -> features
    (B, H / 4, W / 4, 64) (basic) or (B, H / 4, W / 4, 256) (ResNet-164), post-ReLU."""
    input_shape = common.check_image_shape(input_shape, 1)
    common.check_image_has(has)
    inputs = common.image_input(input_shape)
    x = common.hide(inputs, has, "image")
    x = _conv(x, 16, 3, "conv1")
    if depth == 164:
        x = common.hide(x, has, "feature_map")
        for stage, filters in enumerate(STAGE_FILTERS):
            for block in range(18):
                strides = 2 if stage > 0 and block == 0 else 1
                first = stage == 0 and block == 0
                x = _bottleneck_block(
                    x, filters, strides, f"stage{stage + 1}_block{block + 1}", first
                )
        x = _relu(_bn(x, "final_bn"), "final_relu")
        return keras.Model(inputs, x, name="cifar_resnet164")
    x = _relu(_bn(x, "conv1_bn"), "conv1_relu")
    x = common.hide(x, has, "feature_map")
    for stage, filters in enumerate(STAGE_FILTERS):
        for block in range(BASIC_DEPTHS[depth]):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, strides, f"stage{stage + 1}_block{block + 1}")
    return keras.Model(inputs, x, name=f"cifar_resnet{depth}")


def _register(depth):
    name = f"cifar_resnet{depth}"
    features = "(B, H/4, W/4, 256)" if depth == 164 else "(B, H/4, W/4, 64)"

    def backbone(input_shape=(32, 32, 3), has=None):
        return _resnet(depth, input_shape, has)

    def model(num_classes, input_shape=(32, 32, 3), pooling="avg", has=None, weights=None):
        head = heads.cam(num_classes, pooling)
        return compose(backbone, head, weights, f"{name}_gap", input_shape=input_shape, has=has)

    backbone.__name__, model.__name__ = name, f"{name}_gap"
    backbone.__doc__ = (
        f"ResNet-{depth} for CIFAR (He et al.) without its head: (B, H, W, C) -> {features}.\n\n"
        "    Args:\n"
        "        input_shape: (H, W, C), channels last; H and W may be None.\n"
        '        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,\n'
        '            mode "feature_map" the first conv\'s map (B, H, W, 16).\n'
    )
    model.__doc__ = (
        f"ResNet-{depth} for CIFAR: the `{name}` backbone and the CAM head (global pooling\n"
        '    "cam_pool" - Dense "logits" - softmax "predictions"), as He et al.\'s GAP + fc.\n\n'
        "    Args:\n"
        "        num_classes: classes of the softmax.\n"
        f"        input_shape, has: as `{name}`.\n"
        '        pooling: "avg" (the paper\'s) or "max".\n'
        "        weights: None or a `.weights.h5` file of the whole model.\n\n"
        "    Inputs: float images (B, H, W, C), no preprocessing in the model; trained by\n"
        "    `recipes.classification`: pixels normalized per channel, (x - mean) / std.\n\n"
        "    Returns:\n"
        "        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).\n"
    )
    register_backbone(name)(backbone)
    register_model(f"{name}_gap", backbone=name)(model)
    return model


MODELS = {depth: _register(depth) for depth in (*BASIC_DEPTHS, 164)}
cifar_resnet20_gap, cifar_resnet32_gap, cifar_resnet44_gap = MODELS[20], MODELS[32], MODELS[44]
cifar_resnet56_gap, cifar_resnet110_gap, cifar_resnet164_gap = MODELS[56], MODELS[110], MODELS[164]

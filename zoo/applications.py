"""CAM classifiers on `keras.applications` backbones (VGG16, ResNet50)."""

import os

import keras

from . import common, heads
from .registry import compose, register_backbone, register_model

# keras.applications' smallest height/width without the top.
MIN_SIZE = 32


@register_backbone("vgg16")
def vgg16(input_shape=(224, 224, 3), has=None, weights=None):
    """VGG16 to block5_conv3 and a 3x3 conv: VGGnet-GAP (Zhou et al. 2016) without its head.

    Layers: `keras.applications.VGG16` without the top and without its last
    max pooling (block5_conv3: 14x14x512 at 224) - cam_conv 1024 3x3 + ReLU
    (14x14x1024, the features).

    Args:
        input_shape: (H, W, C), channels last; H and W >= 32 or None.
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the block1_conv2 map (224x224x64 at 224).
        weights: None (random), "imagenet" (downloaded once by
            keras.applications into the Keras cache, ~/.keras/models), or
            the path of a local weights file of keras.applications' VGG16
            without the top.

    Returns:
        A functional `keras.Model` "vgg16": (B, H, W, C) -> (B, h, w, 1024).
    """
    inputs, x = _clone(
        keras.applications.VGG16, ("block5_conv3", "block1_conv2"), input_shape, has, weights
    )
    x = keras.layers.Conv2D(1024, 3, padding="same", activation="relu", name="cam_conv")(x)
    return keras.Model(inputs, x, name="vgg16")


@register_backbone("resnet50")
def resnet50(input_shape=(224, 224, 3), has=None, weights=None):
    """ResNet50 without the top: its last map (conv5_block3_out, 7x7x2048 at 224).

    Args:
        input_shape: (H, W, C), channels last; H and W >= 32 or None.
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the conv1_relu map (112x112x64 at 224).
        weights: as `vgg16`'s, of keras.applications' ResNet50.

    Returns:
        A functional `keras.Model` "resnet50": (B, H, W, C) -> (B, h, w, 2048).
    """
    inputs, x = _clone(
        keras.applications.ResNet50, ("conv5_block3_out", "conv1_relu"), input_shape, has, weights
    )
    return keras.Model(inputs, x, name="resnet50")


@register_model("vgg16_gap", backbone="vgg16")
def vgg16_gap(num_classes, input_shape=(224, 224, 3), pooling="avg", has=None, weights=None):
    """VGGnet-GAP: the `vgg16` backbone (14x14x1024 at 224) and the CAM head.

    Layers: `vgg16` - global pooling "cam_pool" - Dense "logits" - softmax
    "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    With weights="imagenet", feed inputs prepared by
    `keras.applications.vgg16.preprocess_input`; trained by this project
    (`recipes.wsol`), RGB pixels mapped to [-1, 1] by
    `keras_has.data.pipeline.normalize`.

    Args:
        num_classes: classes of the softmax.
        input_shape, has: as `vgg16`.
        pooling: "avg" (GAP) or "max" (GMP).
        weights: None (random); "imagenet" (the backbone's, the head
            random); a preset of vgg16_gap; or a `.weights.h5` file path of
            the whole model.

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(vgg16, head, weights, "vgg16_gap", input_shape=input_shape, has=has)


@register_model("resnet50_gap", backbone="resnet50")
def resnet50_gap(num_classes, input_shape=(224, 224, 3), pooling="avg", has=None, weights=None):
    """ResNet50 with the CAM head on its last map: the `resnet50` backbone (7x7x2048 at 224).

    Layers: `resnet50` - global pooling "cam_pool" - Dense "logits" -
    softmax "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    With weights="imagenet", feed inputs prepared by
    `keras.applications.resnet50.preprocess_input`; trained by this project
    (`recipes.wsol`), RGB pixels mapped to [-1, 1] by
    `keras_has.data.pipeline.normalize`.

    Args:
        num_classes, input_shape, has, pooling, weights: as `vgg16_gap`.

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    head = heads.cam(num_classes, pooling)
    return compose(resnet50, head, weights, "resnet50_gap", input_shape=input_shape, has=has)


def _clone(app, layers, input_shape, has, weights):
    """The zoo's input and `app`'s features (B, h, w, K), HaS inserted.

    Args:
        app: a `keras.applications` constructor.
        layers: (last, hide_after): the layer whose output is returned, and
            the layer that feature_map-mode HaS follows.

    The backbone is built (and its weights loaded) by `keras.applications`,
    cut at `last` and cloned onto the zoo's input with HaS inserted (mode
    "image" on the input). The clone has its own layers, each called once,
    and the backbone's weights.
    """
    last, hide_after = layers
    input_shape = common.check_image_shape(input_shape, MIN_SIZE)
    common.check_image_has(has)
    if weights not in (None, "imagenet") and not (
        isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
    ):
        raise ValueError(
            "`weights` must be None, 'imagenet' or the path of an existing local weights file "
            f"of {app.__name__} without the top. Received: weights={weights!r}"
        )
    backbone = app(
        include_top=False,
        weights=weights if weights in (None, "imagenet") else os.fspath(weights),
        input_shape=input_shape,
    )
    cut = keras.Model(backbone.input, backbone.get_layer(last).output)
    inputs = common.image_input(input_shape)

    def call(layer, x, *args, **kwargs):
        if x is inputs:
            x = common.hide(x, has, "image")
        x = layer(x, *args, **kwargs)
        return common.hide(x, has, "feature_map") if layer.name == hide_after else x

    clone = keras.models.clone_model(cut, input_tensors=inputs, call_function=call)
    for layer in cut.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return inputs, clone.output

"""CAM classifiers on `keras.applications` backbones (VGG16, ResNet50)."""

import os

import keras

from zoo import heads

# keras.applications' smallest height/width without the top.
MIN_SIZE = 32


def vgg16_gap(num_classes, input_shape=(224, 224, 3), pooling="avg", has=None, weights=None):
    """VGGnet-GAP (Zhou et al. 2016): VGG16 to block5_conv3, a 3x3 conv, CAM head.

    Layers: VGG16 without the top and without its last max pooling
    (block5_conv3: 14x14x512 at 224) - cam_conv 1024 3x3 + ReLU (14x14x1024,
    the CAM features) - global pooling "cam_pool" - Dense "logits" - softmax
    "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    With ImageNet backbone `weights`, feed inputs prepared by
    `keras.applications.vgg16.preprocess_input`; trained by this project
    (`recipes.wsol`), RGB pixels mapped to [-1, 1] by
    `keras_has.data.pipeline.normalize`.

    Args:
        num_classes: classes of the softmax.
        input_shape: (H, W, C), channels last; H and W >= 32 or None.
        pooling: "avg" (GAP) or "max" (GMP).
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the block1_conv2 map (224x224x64 at 224).
        weights: None (random) or the path of a local weights file of the
            VGG16 backbone without the top (nothing is downloaded).

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    inputs, x = _backbone(
        keras.applications.VGG16,
        ("block5_conv3", "block1_conv2"),
        num_classes,
        input_shape,
        pooling,
        has,
        weights,
    )
    x = keras.layers.Conv2D(1024, 3, padding="same", activation="relu", name="cam_conv")(x)
    return heads.cam_head(inputs, x, num_classes, pooling, "vgg16")


def resnet50_gap(num_classes, input_shape=(224, 224, 3), pooling="avg", has=None, weights=None):
    """ResNet50 with the CAM head on its last map.

    Layers: ResNet50 without the top (conv5_block3_out: 7x7x2048 at 224, the
    CAM features) - global pooling "cam_pool" - Dense "logits" - softmax
    "predictions".

    Inputs: float images (B, H, W, C); the model does no preprocessing.
    With ImageNet backbone `weights`, feed inputs prepared by
    `keras.applications.resnet50.preprocess_input`; trained by this project
    (`recipes.wsol`), RGB pixels mapped to [-1, 1] by
    `keras_has.data.pipeline.normalize`.

    Args:
        num_classes: classes of the softmax.
        input_shape: (H, W, C), channels last; H and W >= 32 or None.
        pooling: "avg" (GAP) or "max" (GMP).
        has: optional `keras_has.HideAndSeek`: mode "image" hides the input,
            mode "feature_map" the conv1_relu map (112x112x64 at 224).
        weights: None (random) or the path of a local weights file of the
            ResNet50 backbone without the top (nothing is downloaded).

    Returns:
        A functional `keras.Model` (B, H, W, C) -> (B, num_classes).
    """
    inputs, x = _backbone(
        keras.applications.ResNet50,
        ("conv5_block3_out", "conv1_relu"),
        num_classes,
        input_shape,
        pooling,
        has,
        weights,
    )
    return heads.cam_head(inputs, x, num_classes, pooling, "resnet50")


def _backbone(app, layers, num_classes, input_shape, pooling, has, weights):
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
    input_shape = heads.check_args(num_classes, input_shape, pooling, has, MIN_SIZE)
    if weights is not None and not (
        isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
    ):
        raise ValueError(
            "`weights` must be None or the path of an existing local weights "
            f"file (nothing is downloaded). Received: weights={weights!r}"
        )
    backbone = app(
        include_top=False,
        weights=None if weights is None else os.fspath(weights),
        input_shape=input_shape,
    )
    cut = keras.Model(backbone.input, backbone.get_layer(last).output)
    inputs = heads.image_input(input_shape)

    def call(layer, x, *args, **kwargs):
        if x is inputs:
            x = heads.hide(x, has, "image")
        x = layer(x, *args, **kwargs)
        return heads.hide(x, has, "feature_map") if layer.name == hide_after else x

    clone = keras.models.clone_model(cut, input_tensors=inputs, call_function=call)
    for layer in cut.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return inputs, clone.output

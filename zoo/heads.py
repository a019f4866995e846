"""Heads: what sits on a backbone's features (B, h, w, K), or (B, T, K) of a sequence.

A head maker checks its arguments and returns a function that takes a
backbone model and returns the whole model, flat (the head's layers are
called on `backbone.output`, no nested model):

    model = heads.embedding(751, dim=256)(zoo.backbone("resnet50", (256, 128, 3)))

Every softmax output is float32 (so under mixed precision too). N is
`num_classes`, K the features' channels; parameter counts per head below.
The CAM head's layer names are what `keras_has.CAMModel` looks for: the
class activation map of class c is `sum_k W[k, c] * F[..., k]`, F the input
of "cam_pool" and W the (K, N) kernel of "logits".
"""

import re

import keras

from keras_has._arguments import as_fraction

from .common import check_num_classes, check_pooling, is_int
from .registry import register_head

POOLING_LAYERS = {
    (2, "avg"): keras.layers.GlobalAveragePooling2D,
    (2, "max"): keras.layers.GlobalMaxPooling2D,
    (1, "avg"): keras.layers.GlobalAveragePooling1D,
    (1, "max"): keras.layers.GlobalMaxPooling1D,
}
CONV_LAYERS = {2: keras.layers.Conv2D, 1: keras.layers.Conv1D}


@register_head("cam")
def cam(num_classes, pooling="avg"):
    """CAM head: features -> global pooling "cam_pool" (B, K) -> Dense "logits" -> softmax
    "predictions" (B, N). K N + N parameters. The model is named "<backbone>_gap" ("_gmp").
    """
    check_num_classes(num_classes)
    check_pooling(pooling)

    def attach(backbone):
        x = _pool(backbone.output, pooling, "cam_pool")
        name = f"{backbone.name}_{'gap' if pooling == 'avg' else 'gmp'}"
        return keras.Model(backbone.input, _softmax(x, num_classes), name=name)

    return attach


@register_head("classification")
def classification(num_classes, pooling="avg", dropout=0.0):
    """Plain classifier (keras-hub's ImageClassifier): global pooling "pool" -> Dropout
    "dropout" -> Dense "logits" -> softmax "predictions" (B, N). K N + N parameters.
    """
    check_num_classes(num_classes)
    check_pooling(pooling)
    as_fraction(dropout, "dropout", ends="[)")

    def attach(backbone):
        x = _pool(backbone.output, pooling, "pool")
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        name = f"{backbone.name}_classification"
        return keras.Model(backbone.input, _softmax(x, num_classes), name=name)

    return attach


@register_head("dense")
def dense(num_classes):
    """FCN-style dense prediction: 1x1 conv "scores" (B, h, w, N) -> bilinear resize
    "upsample" to the input's (B, H, W, N) -> per-pixel softmax "predictions". K N + N
    parameters. Images need a fixed H and W; sequence backbones keep T, so (B, T, N) comes
    without resizing.
    """
    check_num_classes(num_classes)

    def attach(backbone):
        features, rank = backbone.output, len(backbone.output.shape) - 2
        x = CONV_LAYERS[rank](num_classes, 1, name="scores")(features)
        if rank == 2:
            height, width = backbone.input.shape[1:3]
            if height is None or width is None:
                raise ValueError(
                    "The dense head resizes its scores to the input's height and width: build "
                    "the backbone with a fixed `input_shape`. Received: input_shape="
                    f"{tuple(backbone.input.shape[1:])!r}"
                )
            x = keras.layers.Resizing(height, width, name="upsample")(x)
        outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
        return keras.Model(backbone.input, outputs, name=f"{backbone.name}_dense")

    return attach


@register_head("embedding")
def embedding(num_classes, dim=512, pooling="avg", dropout=0.5):
    """Re-identification head (IDE): global pooling "pool" -> Dense "fc" (dim, no bias) -> BN
    "fc_bn" -> ReLU "fc_relu" -> Dropout "fc_dropout" -> "identity", a softmax over the N
    identities (Dense "logits"), trained as a classifier; and "embedding", the retrieval
    descriptor: the pooled features L2-normalized (B, K), as IDE retrieves with them.
    K dim + 4 dim (2 dim non-trainable) + dim N + N parameters.
    """
    check_num_classes(num_classes)
    check_pooling(pooling)
    as_fraction(dropout, "dropout", ends="[)")
    if not is_int(dim) or dim < 1:
        raise ValueError(
            f"`dim` must be an int >= 1 (the descriptor's size). Received: dim={dim!r}"
        )

    def attach(backbone):
        pooled = _pool(backbone.output, pooling, "pool")
        x = keras.layers.Dense(dim, use_bias=False, name="fc")(pooled)
        x = keras.layers.BatchNormalization(name="fc_bn")(x)
        x = keras.layers.Activation("relu", name="fc_relu")(x)
        x = keras.layers.Dropout(dropout, name="fc_dropout")(x)
        outputs = {
            "embedding": keras.layers.UnitNormalization(dtype="float32", name="embedding")(pooled),
            "identity": _softmax(x, num_classes, "identity"),
        }
        return keras.Model(backbone.input, outputs, name=f"{backbone.name}_embedding")

    return attach


@register_head("multi_output")
def multi_output(num_classes, pooling="avg"):
    """Several classifiers on one pooled feature (age + gender): global pooling "pool" ->
    for each output name o, Dense "o_logits" -> softmax "o" (B, N_o). Outputs a dict by name;
    sum over o of K N_o + N_o parameters.

    Args:
        num_classes: a dict output name -> classes, e.g. {"age": 8, "gender": 2}.
    """
    if (
        not isinstance(num_classes, dict)
        or not num_classes
        or not all(isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in num_classes)
        or not all(is_int(n) and n >= 2 for n in num_classes.values())
    ):
        raise ValueError(
            "`num_classes` must be a dict output name -> classes (lowercase names, ints >= 2) "
            f"for the multi_output head, e.g. {{'age': 8, 'gender': 2}}. Received: "
            f"num_classes={num_classes!r}"
        )
    check_pooling(pooling)

    def attach(backbone):
        x = _pool(backbone.output, pooling, "pool")
        outputs = {name: _softmax(x, n, name, f"{name}_logits") for name, n in num_classes.items()}
        return keras.Model(backbone.input, outputs, name=f"{backbone.name}_multi_output")

    return attach


def _pool(features, pooling, name):
    """Global `pooling` of (B, h, w, K) or (B, T, K) features -> (B, K)."""
    return POOLING_LAYERS[len(features.shape) - 2, pooling](name=name)(features)


def _softmax(x, num_classes, name="predictions", logits="logits"):
    """Dense `logits` (B, N) -> float32 softmax `name`."""
    x = keras.layers.Dense(num_classes, name=logits)(x)
    # float32 so that the probabilities stay float32 under mixed precision.
    return keras.layers.Activation("softmax", dtype="float32", name=name)(x)

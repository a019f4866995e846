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
def cam(num_classes, pooling="avg", activation="softmax"):
    """CAM head: features -> global pooling "cam_pool" (B, K) -> Dense "logits" -> softmax
    "predictions" (B, N); `activation="sigmoid"`: independent probabilities of a multi-label
    classifier (weakly-supervised segmentation). K N + N parameters. The model is named
    "<backbone>_gap" ("_gmp").
    """
    check_num_classes(num_classes)
    check_pooling(pooling)
    if activation not in ("softmax", "sigmoid"):
        raise ValueError(
            "`activation` must be 'softmax' (one class per image) or 'sigmoid' (multi-label). "
            f"Received: activation={activation!r}"
        )

    def attach(backbone):
        x = _pool(backbone.output, pooling, "cam_pool")
        name = f"{backbone.name}_{'gap' if pooling == 'avg' else 'gmp'}"
        outputs = _softmax(x, num_classes, activation=activation)
        return keras.Model(backbone.input, outputs, name=name)

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


# Backbone -> FCN's skip layers, coarse to fine: the layers at 2x and 4x the features'
# resolution, as Long et al. add pool4 (FCN-16s) and pool3 (FCN-8s) to VGG16's stride-32 pool5
# (the zoo's VGG16 and AlexNet end at stride 16, the CIFAR ResNets at 4, mini_vgg at 8).
FCN_SKIPS = {
    "vgg16": ("block3_pool", "block2_pool"),
    "resnet50": ("conv4_block6_out", "conv3_block4_out"),
    "alexnet": ("pool1", "conv1"),
    "mini_vgg": ("pool2", "conv1_relu"),
    "cifar_resnet164": ("stage2_block18_add", "stage1_block18_add"),
    **{
        f"cifar_resnet{d}": (f"stage2_block{n}_out", f"stage1_block{n}_out")
        for d, n in ((20, 3), (32, 5), (44, 7), (56, 9), (110, 18))
    },
}
FCN_VARIANTS = {"fcn32s": 0, "fcn16s": 1, "fcn8s": 2}


@register_head("fcn")
def fcn(num_classes, skips="fcn32s"):
    """Fully convolutional head (Long et al., FCN): 1x1 conv "scores" (B, h, w, N) on the
    features; for each skip layer (coarse to fine), the scores upsampled to its resolution and
    added to its own 1x1 scores "scores_<layer>" (zero-initialized, as Long et al.'s); then
    upsampling "upsample" to the input's resolution and per-pixel softmax "predictions"
    (B, H, W, N). Sequence backbones (B, T, K): pointwise scores (B, T, N), no skips.

    Upsampling is FCN's fixed bilinear interpolation: by the integer factor f = ceil(target /
    current) (`keras.layers.UpSampling2D`, which equals FCN's bilinear transposed convolution of
    stride f with its borders replicated) and cropped back to the target from the top left
    (exact for "same"-padded backbones, whose cell i covers pixels i f .. (i + 1) f - 1).

    Args:
        num_classes: classes N (the background included).
        skips: "fcn32s" (none), "fcn16s" (one), "fcn8s" (two) of the backbone's `FCN_SKIPS`,
            or a tuple of its layer names, coarse to fine.

    Parameters: K N + N, plus K_s N + N per skip layer of K_s channels.
    """
    check_num_classes(num_classes)
    if not (
        skips in FCN_VARIANTS
        or (isinstance(skips, (tuple, list)) and all(isinstance(s, str) for s in skips))
    ):
        raise ValueError(
            f"`skips` must be one of {list(FCN_VARIANTS)} or a tuple of layer names of the "
            f"backbone. Received: skips={skips!r}"
        )

    def attach(backbone):
        features, rank = backbone.output, len(backbone.output.shape) - 2
        x = CONV_LAYERS[rank](num_classes, 1, name="scores")(features)
        if rank == 1 and skips not in ("fcn32s", ()):
            raise ValueError(
                "The FCN head's skips are for image backbones; a sequence backbone's scores are "
                f"pointwise already (skips='fcn32s'). Received: skips={skips!r}"
            )
        if rank == 2:
            for layer in _skip_layers(backbone, skips):
                skip = CONV_LAYERS[2](
                    num_classes, 1, kernel_initializer="zeros", name=f"scores_{layer.name}"
                )(layer.output)
                x = keras.layers.Add(name=f"fuse_{layer.name}")(
                    [_upsample(x, skip.shape[1:3], f"upsample_{layer.name}"), skip]
                )
            x = _upsample(x, _fixed_size(backbone), "upsample")
        outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
        return keras.Model(backbone.input, outputs, name=f"{backbone.name}_fcn")

    return attach


def _skip_layers(backbone, skips):
    """The backbone's layers that `skips` names."""
    if isinstance(skips, str):
        count = FCN_VARIANTS[skips]
        if count and backbone.name not in FCN_SKIPS:
            raise ValueError(
                f"The FCN head knows no skip layers of the backbone {backbone.name!r} (it knows "
                f"{sorted(FCN_SKIPS)}): pass `skips` as a tuple of its layer names. Received: "
                f"skips={skips!r}"
            )
        skips = FCN_SKIPS.get(backbone.name, ())[:count]
    names = [layer.name for layer in backbone.layers]
    missing = [s for s in skips if s not in names]
    if missing:
        raise ValueError(
            f"`skips` names layers that the backbone {backbone.name!r} does not have: "
            f"{missing}. Received: skips={tuple(skips)!r}"
        )
    return [backbone.get_layer(s) for s in skips]


def _fixed_size(backbone):
    """The backbone input's (H, W), which must be fixed."""
    height, width = backbone.input.shape[1:3]
    if height is None or width is None:
        raise ValueError(
            "The FCN head upsamples its scores to the input's height and width: build the "
            "backbone with a fixed `input_shape`. Received: input_shape="
            f"{tuple(backbone.input.shape[1:])!r}"
        )
    return height, width


def _upsample(x, size, name):
    """(B, h, w, N) -> (B, H, W, N): bilinear by ceil(H / h), ceil(W / w), cropped top-left."""
    h, w = x.shape[1:3]
    factors = (-(-size[0] // h), -(-size[1] // w))
    x = keras.layers.UpSampling2D(factors, interpolation="bilinear", name=name)(x)
    extra = (h * factors[0] - size[0], w * factors[1] - size[1])
    if any(extra):
        x = keras.layers.Cropping2D(((0, extra[0]), (0, extra[1])), name=f"{name}_crop")(x)
    return x


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


def _softmax(x, num_classes, name="predictions", logits="logits", activation="softmax"):
    """Dense `logits` (B, N) -> float32 softmax (or `activation`) `name`."""
    x = keras.layers.Dense(num_classes, name=logits)(x)
    # float32 so that the probabilities stay float32 under mixed precision.
    return keras.layers.Activation(activation, dtype="float32", name=name)(x)

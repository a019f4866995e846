"""The zoo's registries: models, backbones, heads and presets, and `build`.

A model is a backbone (image or sequence -> feature maps) with a head on top.
Backbones and models register themselves with `register_backbone(name)` and
`register_model(name, backbone)`, head makers with `register_head(name)`,
trained weights with `register_preset(preset)`; each name once.

    zoo.build("googlenet_gap", 8, width=0.25)                # a registered model
    zoo.build("googlenet_gap", weights="has_builtin")        # with a preset's weights
    zoo.build("resnet50", 751, head="embedding", dim=256)    # another head, same backbone
"""

import inspect
import os
from pathlib import Path

from . import files, presets

MODELS = {}  # name -> builder(num_classes, input_shape=..., ..., weights=None)
MODEL_BACKBONES = {}  # model name -> its backbone's name
BACKBONES = {}  # name -> backbone(input_shape=..., has=None, ...) -> keras.Model
HEADS = {}  # name -> head maker(num_classes, ...) -> (backbone -> keras.Model)
PRESETS = {}  # "model.tag" -> presets.Preset


def register_model(name, backbone):
    """Decorator: registers a builder as model `name`, built on the backbone `backbone`."""
    lookup(BACKBONES, backbone, "backbone", "backbones")

    def register(builder):
        _add(MODELS, name, builder, "model")
        MODEL_BACKBONES[name] = backbone
        return builder

    return register


def register_backbone(name):
    """Decorator: registers a backbone function as `name`."""
    return lambda backbone: _add(BACKBONES, name, backbone, "backbone")


def register_head(name):
    """Decorator: registers a head maker as `name`."""
    return lambda head: _add(HEADS, name, head, "head")


def register_preset(preset):
    """Adds `preset` (a `presets.Preset` of a registered model) to `PRESETS`; returns it."""
    if not isinstance(preset, presets.Preset):
        raise TypeError(f"`preset` must be a zoo.presets.Preset. Received: {preset!r}")
    if preset.model not in MODELS:
        raise ValueError(
            f"Preset {preset.name!r} names model {preset.model!r}, which is not one of the "
            f"registered models: {list_models()}."
        )
    builder = MODELS[preset.model]
    try:
        inspect.signature(builder).bind(**preset.config)
    except TypeError as error:
        raise ValueError(
            f"The config of preset {preset.name!r} does not fit {preset.model}: {error}."
        ) from None
    return _add(PRESETS, preset.name, preset, "preset")


def list_models():
    """The registered models' names, sorted."""
    return sorted(MODELS)


def list_backbones():
    """The registered backbones' names, sorted."""
    return sorted(BACKBONES)


def list_heads():
    """The registered heads' names, sorted."""
    return sorted(HEADS)


def list_presets(model=None):
    """The preset names ("model.tag"), sorted; only `model`'s if given."""
    return sorted(name for name, p in PRESETS.items() if model in (None, p.model))


def lookup(table, name, argument, what):
    """`table[name]`, or ValueError naming `argument` and the registered `what`."""
    if not isinstance(name, str) or name not in table:
        raise ValueError(
            f"`{argument}` must be one of the registered {what}: {sorted(table)}. "
            f"Received: {argument}={name!r}"
        )
    return table[name]


def backbone(name, *args, **kwargs):
    """The registered backbone `name`, built: `backbone("googlenet", (64, 64, 3), width=0.25)`.

    Args:
        name: a backbone name (`list_backbones()`).
        *args, **kwargs: the backbone's arguments: `input_shape`, `has`, and
            `width` (alexnet, googlenet), `weights` (vgg16, resnet50: None,
            "imagenet" or a local file of keras.applications' model without
            its top) or `filters` (temporal).

    Returns:
        A functional `keras.Model`: inputs (B, H, W, C) or (B, T, D) ->
        features (B, h, w, K) or (B, T, K).
    """
    return lookup(BACKBONES, name, "name", "backbones")(*args, **kwargs)


def build(name, num_classes=None, *, head=None, weights=None, backbone_weights=None, **kwargs):
    """A model by name, optionally with another head or a preset's weights.

    Args:
        name: a registered model ("googlenet_gap") or, with `head`, a
            backbone ("googlenet"); a model stands for its backbone there.
        num_classes: classes of the head (`multi_output`: a dict output
            name -> classes); may be left out with a preset in `weights`.
        head: None (the registered model itself), or a head name
            (`list_heads()`) put on the backbone. Keyword arguments the
            head maker takes go to it, the others to the backbone.
        weights: None; a preset of model `name` ("has_builtin" or
            "googlenet_gap.has_builtin", `head` None only), whose config
            fills in the builder's kwargs (only `input_shape` in its
            spatial axes, `pooling` and `has` may be changed); "imagenet"
            (backbones from keras.applications); or the path of a
            `.weights.h5` file of the whole model.
        backbone_weights: None, or a trained model with the same backbone (a classifier
            fine-tuned as FCN): its backbone layers' weights are copied by layer name.
        **kwargs: the builder's keyword arguments (`input_shape`, `width`, ...).

    Returns:
        A functional `keras.Model`.
    """
    if head is None and backbone_weights is not None:
        raise ValueError(
            "`backbone_weights` is for a backbone with another head: pass `head` too (e.g. "
            "head='fcn'). Received: head=None"
        )
    if head is None:
        if name in BACKBONES:
            raise ValueError(
                f"{name!r} is a backbone: pass `head`, one of {list_heads()}, or build a model, "
                f"one of {list_models()}. Received: name={name!r}, head=None"
            )
        builder = lookup(MODELS, name, "name", "models")
        preset = find_preset(weights, name)
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        return builder(**(preset.config_with(kwargs) if preset else kwargs), weights=weights)
    make_head = lookup(HEADS, head, "head", "heads")
    backbone_name = MODEL_BACKBONES.get(name, name)
    if backbone_name not in BACKBONES:
        raise ValueError(
            f"`name` must be one of the registered models {list_models()} or backbones "
            f"{list_backbones()}. Received: name={name!r}"
        )
    own = inspect.signature(make_head).parameters
    made = make_head(num_classes, **{k: v for k, v in kwargs.items() if k in own})
    rest = {k: v for k, v in kwargs.items() if k not in own}
    return compose(
        BACKBONES[backbone_name], made, weights, backbone_weights=backbone_weights, **rest
    )


def compose(backbone_fn, head, weights=None, model=None, backbone_weights=None, **kwargs):
    """`head(backbone_fn(**kwargs))` with `weights` loaded: one flat functional model.

    The head is called on the backbone model's output, so the result's
    layers are the backbone's and the head's, none nested: a weights file
    keys them by the same paths as a model built in one piece.

    Args:
        backbone_fn: a backbone function.
        head: what a head maker returned (backbone -> `keras.Model`).
        weights: None; "imagenet", given to a backbone that takes `weights`;
            a preset of `model`; or the path of a `.weights.h5` file.
        model: the registered model's name, for its presets, or None.
        backbone_weights: None or a model whose layers of the backbone's names give their
            weights (`copy_backbone_weights`).
    """
    imagenet = weights == "imagenet" and "weights" in inspect.signature(backbone_fn).parameters
    if imagenet:
        kwargs["weights"] = "imagenet"
    path = None if imagenet else weights_path(weights, model)
    features = backbone_fn(**kwargs)
    if backbone_weights is not None:
        copy_backbone_weights(backbone_weights, features)
    built = head(features)
    if path is None:
        return built
    return files.load_weights(built, path, model or built.name)


def copy_backbone_weights(source, backbone):
    """Copies into `backbone`'s layers the weights of `source`'s layers of the same names
    (`source`: a model built on the same backbone, e.g. a trained classifier)."""
    import keras

    if not isinstance(source, keras.Model):
        raise TypeError(
            "`backbone_weights` must be a keras.Model built on the same backbone (e.g. a trained "
            f"classifier). Received: backbone_weights={source!r}"
        )
    theirs = {layer.name: layer for layer in source.layers}
    for layer in backbone.layers:
        if not layer.weights:
            continue
        if layer.name not in theirs:
            raise ValueError(
                f"`backbone_weights` ({source.name!r}) has no layer {layer.name!r} of the backbone "
                f"{backbone.name!r}: it is not built on that backbone."
            )
        values = theirs[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ValueError(
                f"`backbone_weights` ({source.name!r}): layer {layer.name!r} has weights of shapes "
                f"{[v.shape for v in values]}, the backbone's are {shapes} (another width or "
                "channel count)."
            )
        layer.set_weights(values)


def find_preset(weights, model):
    """The preset that `weights` names ("tag" or "model.tag") for `model`, else None."""
    if not isinstance(weights, str) or model is None:
        return None
    full = weights if "." in weights else f"{model}.{weights}"
    preset = PRESETS.get(full)
    if preset is not None and preset.model != model:
        raise ValueError(
            f"`weights` names a preset of {preset.model}, not of {model}: use "
            f"zoo.build({preset.model!r}, weights={weights!r}). Received: weights={weights!r}"
        )
    return preset


def weights_path(weights, model=None):
    """The local file `weights` names for `model`: None, a fetched preset, or a user's file."""
    if weights is None:
        return None
    preset = find_preset(weights, model)
    if preset is not None:
        return presets.fetch(preset)
    if (
        isinstance(weights, (str, os.PathLike))
        and os.fspath(weights).endswith(".weights.h5")
        and Path(weights).is_file()
    ):
        return Path(weights)
    imagenet = sorted(
        n for n, f in BACKBONES.items() if "weights" in inspect.signature(f).parameters
    )
    tags = [PRESETS[n].tag for n in list_presets(model)] if model else []
    raise ValueError(
        f"`weights` must be None, 'imagenet' (backbones {imagenet}), "
        + (f"a preset of {model} {tags}, " if model else "")
        + f"or the path of an existing .weights.h5 file. Received: weights={weights!r}"
    )


def _add(table, name, value, what):
    """`table[name] = value`, refusing a name that is not a non-empty str or is taken."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"A {what} name must be a non-empty str. Received: {name!r}")
    if name in table:
        raise ValueError(f"A {what} named {name!r} is registered already: {table[name]!r}.")
    table[name] = value
    return value

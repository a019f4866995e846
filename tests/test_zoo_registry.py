"""The registry: what is registered, lookups, refusals, `build` with heads and `weights=`."""

import inspect

import h5py
import keras
import numpy as np
import pytest

from keras_has import zoo
from keras_has.zoo import heads, presets, registry, shipped

TINY = {"input_shape": (67, 67, 3), "width": 1 / 16}  # alexnet: 3x3x32 features


def layer_table(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


def test_every_builder_backbone_and_head_is_listed():
    cifar = [f"cifar_resnet{d}" for d in (110, 164, 20, 32, 44, 56)]  # sorted as text
    assert zoo.list_models() == [
        "alexnet_gap",
        *(f"{c}_gap" for c in cifar),
        "googlenet_gap",
        "mini_vgg_gap",
        "resnet50_gap",
        "temporal_cam_net",
        "vgg16_gap",
        "wrn_age_gender",
        "zero_bias_cnn",
    ]
    assert zoo.list_backbones() == [
        "alexnet", *cifar, "googlenet", "mini_vgg", "resnet50", "temporal", "vgg16", "wrn",
        "zero_bias",
    ]  # fmt: skip
    assert zoo.list_heads() == ["cam", "classification", "embedding", "fcn", "multi_output"]
    assert registry.MODEL_BACKBONES == {
        "alexnet_gap": "alexnet",
        "googlenet_gap": "googlenet",
        "vgg16_gap": "vgg16",
        "resnet50_gap": "resnet50",
        "temporal_cam_net": "temporal",
        "mini_vgg_gap": "mini_vgg",
        "wrn_age_gender": "wrn",
        "zero_bias_cnn": "zero_bias",
        **{f"{c}_gap": c for c in cifar},
    }
    for name in zoo.list_models():
        assert registry.MODELS[name] is getattr(zoo, name)


def test_presets_are_listed_by_model():
    names = ["googlenet_gap.baseline_builtin", "googlenet_gap.has_builtin"]
    assert zoo.list_presets() == zoo.list_presets("googlenet_gap") == names
    assert zoo.list_presets("alexnet_gap") == []


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: zoo.build("lenet", 3), r"`name` must be one of the registered models: \['alex"),
        (lambda: zoo.build("alexnet", 3), "'alexnet' is a backbone: pass `head`"),
        (lambda: zoo.build("lenet", 3, head="cam"), r"`name` must be one of .* backbones \['alex"),
        (
            lambda: zoo.build("alexnet", 3, head="segnet"),
            r"`head` must be one of .*\['cam', 'class",
        ),
        (lambda: zoo.backbone("lenet"), r"`name` must be one of the registered backbones: \['al"),
    ],
)
def test_unknown_names_are_refused_naming_the_argument_and_the_known_names(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture
def sandbox(monkeypatch):
    """Copies of the registries, so that a test can register."""
    for table in ("MODELS", "MODEL_BACKBONES", "BACKBONES", "HEADS", "PRESETS"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))


def test_a_name_is_registered_once(sandbox):
    @registry.register_model("tiny_gap", backbone="alexnet")
    def tiny_gap(num_classes, input_shape=(67, 67, 3), weights=None):
        return registry.compose(
            registry.BACKBONES["alexnet"], heads.cam(num_classes), weights, "tiny_gap",
            input_shape=input_shape, width=1 / 16,
        )  # fmt: skip

    assert zoo.build("tiny_gap", 3).output.shape == (None, 3)
    refusals = [
        lambda: registry.register_model("tiny_gap", backbone="alexnet")(tiny_gap),
        lambda: registry.register_model("alexnet_gap", backbone="alexnet")(tiny_gap),
        lambda: registry.register_backbone("alexnet")(tiny_gap),
        lambda: registry.register_head("cam")(heads.cam),
        lambda: registry.register_preset(registry.PRESETS["googlenet_gap.has_builtin"]),
    ]
    for refused in refusals:
        with pytest.raises(ValueError, match="is registered already"):
            refused()
    assert registry.MODELS["alexnet_gap"] is zoo.alexnet_gap
    with pytest.raises(ValueError, match="`backbone` must be one of the registered backbones"):
        registry.register_model("lenet_gap", backbone="lenet")
    with pytest.raises(ValueError, match="non-empty str"):
        registry.register_head("")(heads.cam)


def test_a_preset_must_fit_a_registered_model(sandbox):
    fields = {"file": "x.weights.h5", "sha256": "0" * 64, "config": {**TINY, "num_classes": 3}}
    with pytest.raises(ValueError, match="names model 'lenet_gap', which is not one of"):
        registry.register_preset(presets.Preset("lenet_gap.tiny", **fields))
    bad = {**fields, "config": {**fields["config"], "filters": 5}}
    with pytest.raises(ValueError, match="does not fit alexnet_gap: .*'filters'"):
        registry.register_preset(presets.Preset("alexnet_gap.tiny", **bad))
    with pytest.raises(TypeError, match="Preset"):
        registry.register_preset({"name": "alexnet_gap.tiny"})
    made = registry.register_preset(presets.Preset("alexnet_gap.tiny", **fields))
    assert registry.PRESETS["alexnet_gap.tiny"] is made and zoo.list_presets("alexnet_gap") == [
        "alexnet_gap.tiny"
    ]


def test_preset_names_in_weights():
    has = registry.PRESETS["googlenet_gap.has_builtin"]
    assert registry.find_preset("has_builtin", "googlenet_gap") is has
    assert registry.find_preset("googlenet_gap.has_builtin", "googlenet_gap") is has
    assert registry.find_preset("has_builtin", "alexnet_gap") is None  # alexnet_gap has none
    assert registry.find_preset("has_builtin", None) is None  # no model, no presets
    with pytest.raises(ValueError, match="names a preset of googlenet_gap, not of alexnet_gap"):
        registry.find_preset("googlenet_gap.has_builtin", "alexnet_gap")


# ---------------------------------------------------------------------------- weights=
def file_values(path, layer):
    """{variable index: values} of the layer named `layer` in a .weights.h5 file."""
    with h5py.File(path, "r") as f:
        (group,) = [g for g in f["layers"].values() if g["vars"].attrs.get("name") == layer]
        return {int(i): group["vars"][i][...] for i in group["vars"]}


@pytest.mark.parametrize(
    "build",
    [
        lambda: zoo.build("googlenet_gap", weights="has_builtin"),
        lambda: zoo.build("googlenet_gap", 8, weights="googlenet_gap.has_builtin", pooling="max"),
        lambda: zoo.googlenet_gap(8, width=0.25, weights="has_builtin"),
    ],
)
def test_a_preset_in_weights_loads_its_file(build):
    model = build()
    path = presets.WEIGHTS_DIR / "googlenet_has_builtin.weights.h5"
    for layer in ("conv1", "cam_conv_bn", "logits"):
        for index, values in file_values(path, layer).items():  # loaded copies
            np.testing.assert_array_equal(model.get_layer(layer).weights[index].numpy(), values)


def test_a_preset_fixes_what_shapes_its_weights():
    with pytest.raises(ValueError, match="fix `num_classes`=8"):
        zoo.build("googlenet_gap", 5, weights="has_builtin")
    # A builder given a preset checks the file's fit: at width 0.5 every variable but the
    # logits' bias (8,) has another shape, conv1's 64 * 0.5 = 32 filters against 16.
    with pytest.raises(
        ValueError,
        match=r"231 variable\(s\) differ \(conv1/kernel: the model's \(7, 7, 3, 32\) is \(7, 7, 3, 16\)",
    ):
        zoo.googlenet_gap(8, weights="has_builtin", input_shape=(32, 32, 3), width=0.5)


def test_a_preset_with_another_sha256_is_refused(monkeypatch):
    shipped_preset = registry.PRESETS["googlenet_gap.has_builtin"]
    bad = presets.Preset("googlenet_gap.bad", shipped_preset.file, "1" * 64, shipped.BUILTIN_CONFIG)
    monkeypatch.setitem(registry.PRESETS, bad.name, bad)
    with pytest.raises(ValueError, match=f"sha256 mismatch .* expected {'1' * 64}"):
        zoo.build("googlenet_gap", weights="bad")


def test_a_weights_file_of_the_whole_model_loads(tmp_path):
    source = zoo.alexnet_gap(3, **TINY)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    for model in (
        zoo.alexnet_gap(3, **TINY, weights=path),
        zoo.build("alexnet_gap", 3, weights=str(path), **TINY),
    ):
        for mine, theirs in zip(model.weights, source.weights, strict=True):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # loaded copies
    embedding = zoo.build("alexnet", 3, head="embedding", dim=4, **TINY)
    embedding.save_weights(path)
    again = zoo.build("alexnet", 3, head="embedding", dim=4, weights=path, **TINY)
    np.testing.assert_array_equal(
        again.get_layer("fc").kernel.numpy(), embedding.get_layer("fc").kernel.numpy()
    )
    # The embedding head's Dense "fc" (32, 4) comes first, where alexnet_gap has "logits".
    with pytest.raises(ValueError, match=r"logits/kernel: the model's \(32, 3\) is \(32, 4\)"):
        zoo.alexnet_gap(3, **TINY, weights=path)


@pytest.mark.parametrize(
    "name, weights, match",
    [
        (
            "alexnet_gap",
            "imagenet",
            r"'imagenet' \(backbones \['resnet50', 'vgg16'\]\), a preset of alexnet_gap \[\]",
        ),
        (
            "googlenet_gap",
            "ilsvrc",
            r"a preset of googlenet_gap \['baseline_builtin', 'has_builtin'\]",
        ),
        ("alexnet_gap", "/no/such.weights.h5", "the path of an existing .weights.h5 file"),
        ("alexnet_gap", 3, "Received: weights=3"),
    ],
)
def test_bad_weights_are_refused_naming_what_they_may_be(name, weights, match):
    with pytest.raises(ValueError, match=f"`weights` must be None.*{match}"):
        registry.MODELS[name](3, weights=weights)


def test_presets_are_for_the_registered_models_only():
    with pytest.raises(ValueError, match=r"`weights` must be None, 'imagenet' .*, or the path"):
        zoo.build("googlenet_gap", 8, head="classification", weights="has_builtin")


@pytest.mark.parametrize(
    "build",
    [
        lambda: zoo.vgg16_gap(3, input_shape=(32, 32, 3), weights="imagenet"),
        lambda: zoo.build(
            "vgg16", 3, head="classification", input_shape=(32, 32, 3), weights="imagenet"
        ),
        lambda: zoo.backbone("vgg16", (32, 32, 3), weights="imagenet"),
    ],
)
def test_imagenet_weights_come_from_keras_applications(build, monkeypatch):
    """keras.applications downloads them (no network here): a stand-in records the call."""
    asked = []

    def vgg16(**kwargs):
        asked.append(kwargs["weights"])
        model = keras.applications.vgg16.VGG16(**{**kwargs, "weights": None})
        for layer in model.layers:
            layer.set_weights([np.full(w.shape, 0.5, "float32") for w in layer.weights])
        return model

    monkeypatch.setattr(keras.applications, "VGG16", vgg16)
    model = build()
    assert asked == ["imagenet"]
    np.testing.assert_array_equal(model.get_layer("block5_conv3").kernel.numpy(), 0.5)


# ------------------------------------------------------------------------ other heads
def test_build_puts_a_head_on_a_model_backbone_and_routes_the_kwargs():
    model = zoo.build(
        "alexnet_gap", 4, head="embedding", dim=8, dropout=0.25, pooling="max", **TINY
    )
    assert model.name == "alexnet_embedding"
    assert model.get_layer("fc").units == 8 and model.get_layer("fc_dropout").rate == 0.25
    assert isinstance(model.get_layer("pool"), keras.layers.GlobalMaxPooling2D)
    assert model.get_layer("conv1").filters == 6  # width 1/16 went to the backbone: 96 / 16
    with pytest.raises(TypeError, match="dim"):
        zoo.build("alexnet", 4, head="cam", dim=8)


def test_the_cam_head_on_a_backbone_is_the_registered_model():
    by_head = zoo.build("alexnet", 3, head="cam", **TINY)
    builder = zoo.alexnet_gap(3, **TINY)
    assert layer_table(by_head) == layer_table(builder) and by_head.name == builder.name
    assert by_head.count_params() == builder.count_params()
    temporal = zoo.build("temporal", 3, head="cam", pooling="max", input_shape=(None, 5))
    assert layer_table(temporal) == layer_table(zoo.temporal_cam_net(3, input_shape=(None, 5)))


def test_the_registered_models_are_flat():
    """No nested model: a .weights.h5 file keys variables by the same paths as before."""
    for name in ("alexnet_gap", "temporal_cam_net"):
        kwargs = TINY if name == "alexnet_gap" else {"input_shape": (None, 5), "filters": 2}
        model = zoo.build(name, 3, **kwargs)
        assert not any(isinstance(layer, keras.Model) for layer in model.layers)


def test_builders_share_one_signature_shape():
    for name, builder in registry.MODELS.items():
        parameters = list(inspect.signature(builder).parameters)
        assert parameters[:4] == ["num_classes", "input_shape", "pooling", "has"], name
        assert parameters[-1] == "weights", name

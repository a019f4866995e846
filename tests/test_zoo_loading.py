"""Loading a classifier or localizer: from a preset, a `.keras` model, or `.weights.h5` weights."""

import warnings

import keras
import numpy as np
import pytest

from keras_has import HideAndSeek, Localizer, zoo
from keras_has.zoo import files, presets, registry, shipped

CONFIG = {"num_classes": 3, "input_shape": (67, 67, 3), "width": 1 / 16}
X = np.random.default_rng(0).uniform(0, 1, (4, 67, 67, 3)).astype("float32")
SHIPPED = presets.WEIGHTS_DIR / "googlenet_has_builtin.weights.h5"
BUILTIN = {"builder": "googlenet_gap", **shipped.BUILTIN_CONFIG}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny AlexNet-GAP trained with HaS: (.weights.h5, .keras, predictions)."""
    has = HideAndSeek(patch_size=2, mode="feature_map", seed=0)
    model = zoo.alexnet_gap(**CONFIG, has=has)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(X, np.arange(4) % 3, batch_size=2, epochs=1, verbose=0)
    folder = tmp_path_factory.mktemp("weights")
    model.save_weights(folder / "tiny.weights.h5")
    model.save(folder / "tiny.keras")
    expected = model.predict(X, verbose=0)
    return folder / "tiny.weights.h5", folder / "tiny.keras", expected


@pytest.fixture
def tiny(trained, monkeypatch):
    """The preset "alexnet_gap.tiny" of the trained weights, threshold 0.35, for one test."""
    path = trained[0]
    made = presets.Preset("alexnet_gap.tiny", path, files.sha256(path), CONFIG, cam_threshold=0.35)
    monkeypatch.setitem(registry.PRESETS, made.name, made)
    return made


def predictions(model):
    return model.predict(X, verbose=0)


def assert_same_predictions(actual, expected):
    # The same weights and ops; float32 sums may be ordered differently by CPU threads.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_a_preset_loads_identically(trained, tiny):
    model = zoo.load_classifier("alexnet_gap.tiny")
    # Trained with HaS, rebuilt without: HaS is the identity at inference.
    assert_same_predictions(predictions(model), trained[2])


def test_a_preset_config_can_be_overridden_where_no_weight_depends_on_it(trained, tiny):
    model = zoo.load_classifier("alexnet_gap.tiny", input_shape=(None, None, 3), pooling="avg")
    assert model.input.shape == (None, None, None, 3)
    assert_same_predictions(predictions(model), trained[2])
    with pytest.raises(ValueError, match="fix `width`=0.0625"):
        zoo.load_classifier("alexnet_gap.tiny", width=0.25)


def test_load_gives_a_ready_localizer_with_the_preset_threshold(trained, tiny):
    localizer = zoo.load("alexnet_gap.tiny")
    assert isinstance(localizer, Localizer) and localizer.threshold == 0.35
    reference = Localizer(zoo.load_classifier("alexnet_gap.tiny"), threshold=0.35)(X)
    out = localizer(X)
    # Class and box are decisions on the same computation (same ops, shapes and weights, in
    # this process), so exact: float32 noise could move them only at a tie of the top two
    # classes or a normalized CAM value within rounding of the threshold.
    np.testing.assert_array_equal(out["class"], reference["class"])
    np.testing.assert_array_equal(out["box"], reference["box"])
    for key in ("score", "cam"):  # float32, same weights; thread order may differ
        np.testing.assert_allclose(out[key], reference[key], rtol=1e-5, atol=1e-6)
    assert zoo.load(trained[0], builder="alexnet_gap", **CONFIG).threshold == 0.2


def test_load_gives_preset_localizers_their_input_range(trained, tiny, monkeypatch):
    made = []
    monkeypatch.setattr(
        "keras_has.localizer.Localizer", lambda classifier, **kwargs: made.append(kwargs)
    )
    zoo.load("alexnet_gap.tiny", crop_size=None)
    zoo.load(trained[0], builder="alexnet_gap", **CONFIG)
    assert made == [
        {"threshold": 0.35, "crop_size": None, "input_range": (-1.0, 1.0)},
        {"threshold": 0.2, "crop_size": None},  # a user's file: its range is unknown
    ]


def test_presets_take_no_builder_or_sha256(trained, tiny):
    for argument in ("builder", "sha256"):
        with pytest.raises(ValueError, match=f"do not pass `{argument}`"):
            zoo.load_classifier("alexnet_gap.tiny", **{argument: tiny.sha256})


def test_keras_file_loads_with_its_has_layer(trained):
    _, keras_file, expected = trained
    model = zoo.load_classifier(keras_file)
    assert_same_predictions(predictions(model), expected)
    assert any(isinstance(layer, HideAndSeek) for layer in model.layers)
    with pytest.raises(ValueError, match="`builder`"):
        zoo.load_classifier(keras_file, builder="alexnet_gap")


def test_weights_file_needs_its_builder(trained):
    path, _, expected = trained
    with pytest.raises(ValueError, match="pass `builder`"):
        zoo.load_classifier(path)
    by_name = zoo.load_classifier(path, builder="alexnet_gap", **CONFIG)
    by_callable = zoo.load_classifier(str(path), builder=zoo.alexnet_gap, **CONFIG)
    assert_same_predictions(predictions(by_name), expected)
    assert_same_predictions(predictions(by_callable), expected)
    with pytest.raises(ValueError, match="`builder` must be one of the registered models"):
        zoo.load_classifier(path, builder="lenet", **CONFIG)
    with pytest.raises(TypeError, match="`builder` must be a model name or a callable"):
        zoo.load_classifier(path, builder=3, **CONFIG)


def test_missing_files_and_names(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        zoo.load_classifier(tmp_path / "nothing.weights.h5")
    with pytest.raises(FileNotFoundError, match=r"neither a preset \(presets: \['googlenet_gap"):
        zoo.load_classifier("alexnet_gap.has_ilsvrc")
    gone = presets.Preset("alexnet_gap.gone", tmp_path / "gone.weights.h5", "0" * 64, CONFIG)
    monkeypatch.setitem(registry.PRESETS, gone.name, gone)
    with pytest.raises(FileNotFoundError, match="gone.weights.h5"):
        zoo.load_classifier("alexnet_gap.gone")


def test_other_suffix_is_refused(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=".keras or a .weights.h5"):
        zoo.load_classifier(path)


def test_own_file_sha256_is_checked_before_building(trained):
    path, keras_file, expected = trained
    built = []

    def builder(**config):
        built.append(config)
        return zoo.alexnet_gap(**config)

    digest = files.sha256(path)
    model = zoo.load_classifier(path, builder=builder, sha256=digest.upper(), **CONFIG)
    assert_same_predictions(predictions(model), expected)
    assert len(built) == 1
    with pytest.raises(ValueError, match="sha256 mismatch") as error:
        zoo.load_classifier(path, builder=builder, sha256="0" * 64, **CONFIG)
    message = str(error.value)
    assert str(path) in message and "0" * 64 in message and digest in message
    assert "not the one you meant" in message and "download" not in message
    assert len(built) == 1  # refused before building or loading anything
    keras_digest = files.sha256(keras_file)
    assert zoo.load_classifier(keras_file, sha256=keras_digest).count_params() > 0
    with pytest.raises(ValueError, match="sha256 mismatch"):
        zoo.load_classifier(keras_file, sha256=digest)
    with pytest.raises(ValueError, match="`sha256` must be None or 64 hex digits"):
        zoo.load_classifier(path, builder=builder, sha256="abc", **CONFIG)


def assert_refused_quietly(call, match, capfd, caplog):
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=match):
            call()
    noise = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert noise == [] and caplog.records == []
    assert "Skipping nested container" not in capfd.readouterr().err


def test_wrong_input_shape_is_named_before_loading_without_warnings(capfd, caplog):
    assert_refused_quietly(
        lambda: zoo.load("googlenet_gap.has_builtin", input_shape=(136, 136, 1)),
        r"`input_shape` must keep the 3 channels .* Received: input_shape=\(136, 136, 1\)",
        capfd,
        caplog,
    )
    assert_refused_quietly(
        lambda: zoo.load("googlenet_gap.has_builtin", num_classes=5),
        "fix `num_classes`=8",
        capfd,
        caplog,
    )
    # A user's file: the structure check names the variable before Keras loads anything.
    assert_refused_quietly(
        lambda: zoo.load(SHIPPED, **{**BUILTIN, "input_shape": (None, None, 1)}),
        r"conv1/kernel: the model's \(7, 7, 1, 16\) is \(7, 7, 3, 16\) in the file",
        capfd,
        caplog,
    )

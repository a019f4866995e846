"""The weights registry: sha256 checks and the three ways to load a classifier."""

import hashlib
import shutil

import keras
import numpy as np
import pytest

import zoo
from keras_has import HideAndSeek, Localizer
from zoo import weights

CONFIG = {"num_classes": 3, "input_shape": (67, 67, 3), "width": 1 / 16}
X = np.random.default_rng(0).uniform(0, 1, (4, 67, 67, 3)).astype("float32")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny AlexNet-GAP trained with HaS: (model, .weights.h5, .keras, predictions)."""
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
def registry(monkeypatch, tmp_path):
    """An empty registry, package folder and download cache for one test."""
    monkeypatch.setattr(weights, "REGISTRY", {})
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "package")
    (tmp_path / "cache").mkdir()  # Keras falls back to /tmp for a missing one.
    monkeypatch.setattr(weights, "CACHE_DIR", str(tmp_path / "cache"))
    return weights.REGISTRY


def entry(**changes):
    fields = {
        "name": "alexnet-tiny",
        "file": "x.weights.h5",
        "sha256": "0" * 64,
        "builder": "alexnet_gap",
        "config": CONFIG,
        "cam_threshold": 0.2,
    }
    return weights.Entry(**{**fields, **changes})


def predictions(model):
    return model.predict(X, verbose=0)


def test_sha256_streams_in_chunks(tmp_path):
    path = tmp_path / "data.bin"
    data = np.random.default_rng(1).bytes(10_000)
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert weights.sha256(path) == expected
    assert weights.sha256(path, chunk_size=7) == expected


def test_registered_weights_load_identically(trained, registry):
    path, _, expected = trained
    registered = weights.register(entry(file=path, sha256=weights.sha256(path)))
    assert registry == {"alexnet-tiny": registered}
    model = weights.load_classifier("alexnet-tiny")
    # Trained with HaS, rebuilt without: HaS is the identity at inference.
    np.testing.assert_array_equal(predictions(model), expected)
    assert registry["alexnet-tiny"].cam_threshold == 0.2


def test_load_gives_a_ready_localizer_with_the_entry_threshold(trained, registry):
    path, _, _ = trained
    weights.register(entry(file=path, sha256=weights.sha256(path), cam_threshold=0.35))
    localizer = zoo.load("alexnet-tiny")
    assert isinstance(localizer, Localizer) and localizer.threshold == 0.35
    reference = Localizer(weights.load_classifier("alexnet-tiny"), threshold=0.35)(X)
    for key, value in localizer(X).items():
        np.testing.assert_array_equal(value, reference[key])
    assert zoo.load(path, builder="alexnet_gap", **CONFIG).threshold == 0.2


def test_registered_config_can_be_overridden(trained, registry):
    path, _, expected = trained
    weights.register(entry(file=path, sha256=weights.sha256(path)))
    model = weights.load_classifier("alexnet-tiny", input_shape=(None, None, 3))
    assert model.input.shape == (None, None, None, 3)
    np.testing.assert_allclose(predictions(model), expected, rtol=1e-5, atol=1e-6)


def test_relative_file_is_in_the_package_folder(trained, registry):
    path, _, expected = trained
    weights.WEIGHTS_DIR.mkdir()
    shutil.copy(path, weights.WEIGHTS_DIR / "tiny.weights.h5")
    weights.register(entry(file="tiny.weights.h5", sha256=weights.sha256(path)))
    np.testing.assert_array_equal(predictions(weights.load_classifier("alexnet-tiny")), expected)


def test_url_is_downloaded_into_the_cache(trained, registry, tmp_path):
    path, _, expected = trained
    weights.register(entry(file=path.as_uri(), sha256=weights.sha256(path)))
    model = weights.load_classifier("alexnet-tiny")
    np.testing.assert_array_equal(predictions(model), expected)
    digest = weights.sha256(path)
    cached = tmp_path / "cache" / weights.CACHE_SUBDIR / digest[:16] / path.name
    assert weights.sha256(cached) == digest


def test_tampered_file_is_refused_before_loading(trained, registry, tmp_path):
    path, _, _ = trained
    tampered = tmp_path / "tampered.weights.h5"
    shutil.copy(path, tampered)
    expected_hash = weights.sha256(tampered)
    with open(tampered, "ab") as f:
        f.write(b"\0")
    weights.register(entry(file=tampered, sha256=expected_hash))
    with pytest.raises(ValueError, match="sha256") as error:
        weights.load_classifier("alexnet-tiny")
    message = str(error.value)
    assert str(tampered) in message
    assert expected_hash in message
    assert weights.sha256(tampered) in message


def test_other_file_is_refused(trained, registry, tmp_path):
    path, _, _ = trained
    other = tmp_path / "other.weights.h5"
    zoo.alexnet_gap(**CONFIG).save_weights(other)
    weights.register(entry(file=other, sha256=weights.sha256(path)))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        weights.load_classifier("alexnet-tiny")


def test_keras_file_loads_with_its_has_layer(trained):
    _, keras_file, expected = trained
    model = weights.load_classifier(keras_file)
    np.testing.assert_array_equal(predictions(model), expected)
    assert any(isinstance(layer, HideAndSeek) for layer in model.layers)
    with pytest.raises(ValueError, match="`builder`"):
        weights.load_classifier(keras_file, builder="alexnet_gap")


def test_weights_file_needs_its_builder(trained):
    path, _, expected = trained
    with pytest.raises(ValueError, match="pass `builder`"):
        weights.load_classifier(path)
    by_name = weights.load_classifier(path, builder="alexnet_gap", **CONFIG)
    by_callable = weights.load_classifier(str(path), builder=zoo.alexnet_gap, **CONFIG)
    np.testing.assert_array_equal(predictions(by_name), expected)
    np.testing.assert_array_equal(predictions(by_callable), expected)
    with pytest.raises(ValueError, match="`builder` must be one of"):
        weights.load_classifier(path, builder="lenet", **CONFIG)


def test_missing_files(registry, tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a registered name"):
        weights.load_classifier(tmp_path / "nothing.weights.h5")
    with pytest.raises(FileNotFoundError, match="neither a registered name"):
        weights.load_classifier("alexnet-has-ilsvrc")
    weights.register(entry(file=tmp_path / "gone.weights.h5"))
    with pytest.raises(FileNotFoundError, match="gone.weights.h5"):
        weights.load_classifier("alexnet-tiny")


def test_other_suffix_is_refused(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=".keras or a .weights.h5"):
        weights.load_classifier(path)


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"sha256": "abc"}, "sha256"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"builder": "lenet"}, "builder"),
        ({"file": "tiny.h5"}, "file"),
        ({"cam_threshold": 1.5}, "cam_threshold"),
        ({"config": None}, "config"),
        ({"name": ""}, "name"),
    ],
)
def test_register_refuses_bad_entries(registry, changes, problem):
    with pytest.raises(ValueError, match=problem):
        weights.register(entry(**changes))
    assert registry == {}


def test_register_refuses_a_taken_name(registry):
    weights.register(entry())
    with pytest.raises(ValueError, match="not registered yet"):
        weights.register(entry(file="y.weights.h5"))
    with pytest.raises(TypeError, match="Entry"):
        weights.register({"name": "dict"})

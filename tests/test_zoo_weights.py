"""The weights registry: sha256 checks and the three ways to load a classifier."""

import hashlib
import re
import shutil
import warnings

import h5py
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


def assert_same_predictions(actual, expected):
    # The same weights and ops; float32 sums may be ordered differently by CPU threads.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


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
    assert_same_predictions(predictions(model), expected)
    assert registry["alexnet-tiny"].cam_threshold == 0.2


def test_load_gives_a_ready_localizer_with_the_entry_threshold(trained, registry):
    path, _, _ = trained
    weights.register(entry(file=path, sha256=weights.sha256(path), cam_threshold=0.35))
    localizer = zoo.load("alexnet-tiny")
    assert isinstance(localizer, Localizer) and localizer.threshold == 0.35
    reference = Localizer(weights.load_classifier("alexnet-tiny"), threshold=0.35)(X)
    out = localizer(X)
    # Class and box are decisions on the same computation (same ops, shapes and weights, in
    # this process), so exact: float32 noise could move them only at a tie of the top two
    # classes or a normalized CAM value within rounding of the threshold.
    np.testing.assert_array_equal(out["class"], reference["class"])
    np.testing.assert_array_equal(out["box"], reference["box"])
    for key in ("score", "cam"):  # float32, same weights; thread order may differ
        np.testing.assert_allclose(out[key], reference[key], rtol=1e-5, atol=1e-6)
    assert zoo.load(path, builder="alexnet_gap", **CONFIG).threshold == 0.2


def test_registered_config_can_be_overridden(trained, registry):
    path, _, expected = trained
    weights.register(entry(file=path, sha256=weights.sha256(path)))
    model = weights.load_classifier("alexnet-tiny", input_shape=(None, None, 3))
    assert model.input.shape == (None, None, None, 3)
    assert_same_predictions(predictions(model), expected)


def test_relative_file_is_in_the_package_folder(trained, registry):
    path, _, expected = trained
    weights.WEIGHTS_DIR.mkdir()
    shutil.copy(path, weights.WEIGHTS_DIR / "tiny.weights.h5")
    weights.register(entry(file="tiny.weights.h5", sha256=weights.sha256(path)))
    assert_same_predictions(predictions(weights.load_classifier("alexnet-tiny")), expected)


def test_url_is_downloaded_into_the_cache(trained, registry, tmp_path):
    path, _, expected = trained
    weights.register(entry(file=path.as_uri(), sha256=weights.sha256(path)))
    model = weights.load_classifier("alexnet-tiny")
    assert_same_predictions(predictions(model), expected)
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
    assert_same_predictions(predictions(model), expected)
    assert any(isinstance(layer, HideAndSeek) for layer in model.layers)
    with pytest.raises(ValueError, match="`builder`"):
        weights.load_classifier(keras_file, builder="alexnet_gap")


def test_weights_file_needs_its_builder(trained):
    path, _, expected = trained
    with pytest.raises(ValueError, match="pass `builder`"):
        weights.load_classifier(path)
    by_name = weights.load_classifier(path, builder="alexnet_gap", **CONFIG)
    by_callable = weights.load_classifier(str(path), builder=zoo.alexnet_gap, **CONFIG)
    assert_same_predictions(predictions(by_name), expected)
    assert_same_predictions(predictions(by_callable), expected)
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


# ------------------------------------------------------------ damaged and foreign files
SHIPPED = weights.WEIGHTS_DIR / "googlenet_has_builtin.weights.h5"
BUILTIN = {"builder": "googlenet_gap", **weights.BUILTIN_CONFIG}


def set_exponent_bits(path, dataset):
    """Flips the exponent bits of the first float32 of `dataset` in the file to ones (inf/NaN)."""
    with h5py.File(path, "r") as f:
        assert f[dataset].dtype == "<f4"
        offset = f[dataset].id.get_offset()  # contiguous, uncompressed data
    with open(path, "r+b") as f:
        f.seek(offset + 2)
        low, high = f.read(2)
        f.seek(offset + 2)
        f.write(bytes([low | 0x80, high | 0x7F]))


def test_bit_flipped_weights_are_refused_naming_the_variable(tmp_path, registry):
    flipped = tmp_path / "flipped.weights.h5"
    shutil.copy(SHIPPED, flipped)
    with h5py.File(flipped, "r") as f:
        assert f["layers/conv2d/vars"].attrs["name"] == "conv1"
    set_exponent_bits(flipped, "layers/conv2d/vars/0")
    with pytest.raises(ValueError, match="values non-finite") as error:
        weights.load_classifier(flipped, **BUILTIN)
    assert str(flipped) in str(error.value) and "'conv1/kernel'" in str(error.value)
    # A registered file whose sha256 was taken after the damage is refused the same way.
    weights.register(
        weights.Entry(
            "flipped", flipped, weights.sha256(flipped), "googlenet_gap", weights.BUILTIN_CONFIG
        )
    )
    with pytest.raises(ValueError, match="'conv1/kernel' holds 1 of 2352 values non-finite"):
        zoo.load("flipped")


def test_non_finite_keras_model_is_refused(tmp_path):
    model = zoo.alexnet_gap(**CONFIG)
    bias = model.get_layer("logits").bias
    bias.assign(np.array([0.0, np.nan, np.inf], "float32"))
    model.save(tmp_path / "nan.keras")
    with pytest.raises(ValueError, match="'logits/bias' holds 2 of 3 values non-finite"):
        weights.load_classifier(tmp_path / "nan.keras")


def flip_middle_byte(data):
    middle = len(data) // 2  # inside model.weights.h5, the archive's largest member
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def keras_archive(tmp_path):
    path = tmp_path / "model.keras"
    zoo.alexnet_gap(**CONFIG).save(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("garbage.keras", lambda tmp: b"not a model" * 50, "it is not a zip archive"),
        ("cut.keras", lambda tmp: keras_archive(tmp)[:5000], "damaged or truncated zip archive"),
        ("flipped.keras", lambda tmp: flip_middle_byte(keras_archive(tmp)), "fails its CRC check"),
        ("renamed.keras", lambda tmp: SHIPPED.read_bytes(), "it holds HDF5 data, not a .keras"),
        ("garbage.weights.h5", lambda tmp: b"not weights" * 50, "it is not HDF5"),
        ("empty.weights.h5", lambda tmp: b"", "it is not HDF5"),
        (
            "cut.weights.h5",
            lambda tmp: SHIPPED.read_bytes()[: SHIPPED.stat().st_size // 2],
            r"damaged or truncated HDF5 file \(.*truncated file",
        ),
        ("renamed.weights.h5", keras_archive, r"a zip archive, not HDF5.*name it \.keras"),
    ],
)
def test_unreadable_files_say_what_they_are(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    kwargs = BUILTIN if name.endswith(".weights.h5") else {}
    with pytest.raises(ValueError, match="is not a readable .keras / .weights.h5 file") as error:
        weights.load_classifier(path, **kwargs)
    message = str(error.value)
    assert str(path) in message and "not found" not in message
    assert re.search(reason, message), message


@pytest.mark.parametrize(
    "content, hint",
    [
        (lambda: SHIPPED.read_bytes(), "it holds HDF5 data: weights from `save_weights` go by"),
        (lambda: b"PK\x03\x04 zip", "it is a zip archive: a model from `model.save` goes by"),
        (lambda: b"", "neither HDF5 nor a zip archive"),
    ],
)
def test_other_suffix_says_what_the_file_holds(tmp_path, content, hint):
    path = tmp_path / "model.h5"
    path.write_bytes(content())
    with pytest.raises(ValueError, match="has neither suffix") as error:
        weights.load_classifier(path)
    assert hint in str(error.value)


def test_weights_of_another_architecture_name_the_variables(tmp_path):
    with pytest.raises(ValueError, match="do not fit the model of alexnet_gap") as error:
        weights.load_classifier(SHIPPED, builder="alexnet_gap", num_classes=8, width=1 / 16)
    message = str(error.value)
    # GoogLeNet's conv1 is 7x7 without bias; AlexNet's (width 1/16) 11x11 with 6 filters.
    assert "conv1/kernel: the model's (11, 11, 3, 6) is (7, 7, 3, 16) in the file" in message
    assert "conv1/bias: the model's (6,) is missing from the file" in message
    tiny = tmp_path / "tiny.weights.h5"
    zoo.alexnet_gap(**CONFIG).save_weights(tiny)
    with pytest.raises(ValueError, match="1 variable") as error:  # conv1/bias is extra for it
        weights.load_classifier(tiny, builder=alexnet_without_conv1_bias, **CONFIG)
    assert "conv1 variable 1: only in the file, (6,)" in str(error.value)
    with pytest.raises(ValueError, match=r"2 variable\(s\) differ") as error:
        weights.load_classifier(SHIPPED, **{**BUILTIN, "num_classes": 5})
    assert "logits/kernel: the model's (256, 5) is (256, 8) in the file" in str(error.value)


def alexnet_without_conv1_bias(**config):
    """`zoo.alexnet_gap`, but conv1 has no bias: the same layer paths, one variable fewer."""
    model = zoo.alexnet_gap(**config)
    clone = keras.models.clone_model(
        model,
        clone_function=lambda layer: (
            keras.layers.Conv2D.from_config({**layer.get_config(), "use_bias": False})
            if layer.name == "conv1"
            else layer.__class__.from_config(layer.get_config())
        ),
    )
    return clone


# ------------------------------------------------------------------ sha256 of own files
def test_own_file_sha256_is_checked_before_loading(trained):
    path, keras_file, expected = trained
    built = []

    def builder(**config):
        built.append(config)
        return zoo.alexnet_gap(**config)

    digest = weights.sha256(path)
    model = weights.load_classifier(path, builder=builder, sha256=digest.upper(), **CONFIG)
    assert_same_predictions(predictions(model), expected)
    assert len(built) == 1
    with pytest.raises(ValueError, match="sha256 mismatch") as error:
        weights.load_classifier(path, builder=builder, sha256="0" * 64, **CONFIG)
    message = str(error.value)
    assert str(path) in message and "0" * 64 in message and digest in message
    assert "not the one you meant" in message and "download" not in message
    assert len(built) == 1  # refused before building or loading anything
    keras_digest = weights.sha256(keras_file)
    assert weights.load_classifier(keras_file, sha256=keras_digest).count_params() > 0
    with pytest.raises(ValueError, match="sha256 mismatch"):
        weights.load_classifier(keras_file, sha256=digest)
    with pytest.raises(ValueError, match="`sha256` must be None or 64 hex digits"):
        weights.load_classifier(path, builder=builder, sha256="abc", **CONFIG)


def test_registry_names_take_no_sha256(trained, registry):
    path, _, _ = trained
    weights.register(entry(file=path, sha256=weights.sha256(path)))
    with pytest.raises(ValueError, match="do not pass `sha256`"):
        weights.load_classifier("alexnet-tiny", sha256=weights.sha256(path))


def test_sha256_mismatch_advice_is_true_for_where_the_file_is(trained, registry, tmp_path):
    path, _, _ = trained
    weights.WEIGHTS_DIR.mkdir()
    shutil.copy(path, weights.WEIGHTS_DIR / "tiny.weights.h5")
    local = [("package", "tiny.weights.h5"), ("absolute", str(path))]
    for name, file in local:
        weights.register(entry(name=name, file=file, sha256="1" * 64))
        with pytest.raises(ValueError, match="sha256 mismatch") as error:
            weights.load_classifier(name)
        assert "nothing is downloaded" in str(error.value)
        assert "to download it again" not in str(error.value)
    assert "shipped in the package folder zoo/weights/" in str(error_for(registry, "package"))
    weights.register(entry(name="url", file=path.as_uri(), sha256="1" * 64))
    message = str(error_for(registry, "url"))
    cached = tmp_path / "cache" / weights.CACHE_SUBDIR / ("1" * 16) / path.name
    assert f"delete {cached} to download it again" in message


def error_for(registry, name):
    with pytest.raises(ValueError) as error:
        weights.load_classifier(name)
    return error.value


# ------------------------------------------------------------ wrong shapes fail quietly
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
        lambda: zoo.load("googlenet_has_builtin", input_shape=(136, 136, 1)),
        r"`input_shape` must keep the 3 channels .* Received: input_shape=\(136, 136, 1\)",
        capfd,
        caplog,
    )
    assert_refused_quietly(
        lambda: zoo.load("googlenet_has_builtin", num_classes=5),
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


def test_load_gives_registered_localizers_their_input_range(trained, registry, monkeypatch):
    path, _, _ = trained
    weights.register(entry(file=path, sha256=weights.sha256(path)))
    made = []
    monkeypatch.setattr(
        "keras_has.localizer.Localizer", lambda classifier, **kwargs: made.append(kwargs)
    )
    zoo.load("alexnet-tiny", crop_size=None)
    zoo.load(path, builder="alexnet_gap", **CONFIG)
    assert made == [
        {"threshold": 0.2, "crop_size": None, "input_range": (-1.0, 1.0)},
        {"threshold": 0.2, "crop_size": None},  # a user's file: its range is unknown
    ]

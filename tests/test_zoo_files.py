"""File checks: sha256, files that are not what their suffix says, damage, misfits, NaN."""

import hashlib
import re
import shutil

import h5py
import keras
import numpy as np
import pytest

from keras_has import zoo
from keras_has.zoo import files, presets, registry, shipped

CONFIG = {"num_classes": 3, "input_shape": (67, 67, 3), "width": 1 / 16}


def test_sha256_streams_in_chunks(tmp_path):
    path = tmp_path / "data.bin"
    data = np.random.default_rng(1).bytes(10_000)
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert files.sha256(path) == expected
    assert files.sha256(path, chunk_size=7) == expected


# ------------------------------------------------------------ damaged and foreign files
SHIPPED = presets.WEIGHTS_DIR / "googlenet_has_builtin.weights.h5"
BUILTIN = {"builder": "googlenet_gap", **shipped.BUILTIN_CONFIG}


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


def test_bit_flipped_weights_are_refused_naming_the_variable(tmp_path, monkeypatch):
    flipped = tmp_path / "flipped.weights.h5"
    shutil.copy(SHIPPED, flipped)
    with h5py.File(flipped, "r") as f:
        assert f["layers/conv2d/vars"].attrs["name"] == "conv1"
    set_exponent_bits(flipped, "layers/conv2d/vars/0")
    with pytest.raises(ValueError, match="values non-finite") as error:
        zoo.load_classifier(flipped, **BUILTIN)
    assert str(flipped) in str(error.value) and "'conv1/kernel'" in str(error.value)
    # A preset whose sha256 was taken after the damage is refused the same way.
    preset = presets.Preset(
        "googlenet_gap.flipped", flipped, files.sha256(flipped), shipped.BUILTIN_CONFIG
    )
    monkeypatch.setitem(registry.PRESETS, preset.name, preset)
    with pytest.raises(ValueError, match="'conv1/kernel' holds 1 of 2352 values non-finite"):
        zoo.load("googlenet_gap.flipped")


def test_non_finite_keras_model_is_refused(tmp_path):
    model = zoo.alexnet_gap(**CONFIG)
    bias = model.get_layer("logits").bias
    bias.assign(np.array([0.0, np.nan, np.inf], "float32"))
    model.save(tmp_path / "nan.keras")
    with pytest.raises(ValueError, match="'logits/bias' holds 2 of 3 values non-finite"):
        zoo.load_classifier(tmp_path / "nan.keras")


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
        zoo.load_classifier(path, **kwargs)
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
        zoo.load_classifier(path)
    assert hint in str(error.value)


def test_weights_of_another_architecture_name_the_variables(tmp_path):
    with pytest.raises(ValueError, match="do not fit the model of alexnet_gap") as error:
        zoo.load_classifier(SHIPPED, builder="alexnet_gap", num_classes=8, width=1 / 16)
    message = str(error.value)
    # GoogLeNet's conv1 is 7x7 without bias; AlexNet's (width 1/16) 11x11 with 6 filters.
    assert "conv1/kernel: the model's (11, 11, 3, 6) is (7, 7, 3, 16) in the file" in message
    assert "conv1/bias: the model's (6,) is missing from the file" in message
    tiny = tmp_path / "tiny.weights.h5"
    zoo.alexnet_gap(**CONFIG).save_weights(tiny)
    with pytest.raises(ValueError, match="1 variable") as error:  # conv1/bias is extra for it
        zoo.load_classifier(tiny, builder=alexnet_without_conv1_bias, **CONFIG)
    assert "conv1 variable 1: only in the file, (6,)" in str(error.value)
    with pytest.raises(ValueError, match=r"2 variable\(s\) differ") as error:
        zoo.load_classifier(SHIPPED, **{**BUILTIN, "num_classes": 5})
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


def test_load_weights_keeps_the_model_and_checks_finiteness(tmp_path):
    source = zoo.alexnet_gap(**CONFIG)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    target = zoo.alexnet_gap(**CONFIG)
    assert files.load_weights(target, path, "alexnet_gap") is target
    for mine, theirs in zip(target.weights, source.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # loaded copies
    bias = source.get_layer("logits").bias
    bias.assign(np.array([0.0, np.inf, 0.0], "float32"))
    source.save_weights(path)
    with pytest.raises(ValueError, match="'logits/bias' holds 1 of 3 values non-finite"):
        files.load_weights(target, path, "alexnet_gap")

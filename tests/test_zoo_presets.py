"""Presets: their checked fields, "model.tag" names, config overrides, and fetching their file."""

import shutil

import pytest

from keras_has import HideAndSeek
from keras_has.zoo import files, presets

CONFIG = {"num_classes": 3, "input_shape": (67, 67, 3), "width": 1 / 16}


@pytest.fixture
def folders(monkeypatch, tmp_path):
    """An empty package folder and download cache for one test."""
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path / "package")
    (tmp_path / "cache").mkdir()  # Keras falls back to /tmp for a missing one.
    monkeypatch.setattr(presets, "CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def preset(**changes):
    fields = {
        "name": "alexnet_gap.tiny",
        "file": "x.weights.h5",
        "sha256": "0" * 64,
        "config": CONFIG,
        "cam_threshold": 0.2,
    }
    return presets.Preset(**{**fields, **changes})


def weights_file(folder, name="tiny.weights.h5", data=b"weights"):
    """A file with some bytes: fetching checks where it is and its sha256, not its content."""
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_preset_names_its_model_and_tag():
    made = preset(image_size=136, input_range=(0.0, 1.0), class_names=("a", "b", "c"))
    assert (made.model, made.tag) == ("alexnet_gap", "tiny")
    assert presets.split_name("googlenet_gap.has_builtin") == ("googlenet_gap", "has_builtin")
    assert made.input_range == (0.0, 1.0) and preset().input_range == (-1.0, 1.0)


@pytest.mark.parametrize(
    "name", ["googlenet_gap", "googlenet_gap.has.builtin", ".tag", "model.", "GoogLeNet.x", 3]
)
def test_preset_names_are_model_dot_tag(name):
    with pytest.raises(ValueError, match='`name` must be a preset name "model.tag"'):
        presets.split_name(name)
    with pytest.raises(ValueError, match='name: "model.tag"'):
        preset(name=name)


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"sha256": "abc"}, "sha256"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"file": "tiny.h5"}, "file"),
        ({"cam_threshold": 1.5}, "cam_threshold"),
        ({"config": None}, "config"),
        ({"config": {"num_classes": 3}}, "config: .* with num_classes and input_shape"),
        ({"image_size": 0}, "image_size"),
        ({"input_range": (1.0, -1.0)}, "input_range"),
        ({"input_range": (0.0, float("inf"))}, "input_range"),
        ({"class_names": ("a", "b")}, "class_names"),
    ],
)
def test_bad_fields_are_refused_on_creation(changes, problem):
    with pytest.raises(ValueError, match=f"Invalid preset; expected {problem}"):
        preset(**changes)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"input_shape": (None, None, 3)}, {"pooling": "max"}, {"has": HideAndSeek(8)}, CONFIG],
)
def test_overrides_that_shape_no_weight_are_taken(overrides):
    assert preset().config_with(overrides) == {**CONFIG, **overrides}


@pytest.mark.parametrize(
    "config, overrides, match",
    [
        (CONFIG, {"num_classes": 5}, "fix `num_classes`=3"),
        (CONFIG, {"width": 1.0}, "fix `width`=0.0625"),
        (CONFIG, {"filters": 5}, "fix `filters` to its default"),
        (CONFIG, {"input_shape": (67, 67, 1)}, r"keep the 3 channels .* \(height, width, 3\)"),
        (CONFIG, {"input_shape": (67, 3)}, "keep the 3 channels"),
        (
            {"num_classes": 3, "input_shape": (None, 4096)},
            {"input_shape": (None, 2048)},
            r"keep the 4096 channels .* \(T, 4096\)",
        ),
    ],
)
def test_overrides_of_what_shapes_the_weights_are_refused(config, overrides, match):
    with pytest.raises(ValueError, match=match):
        preset(config=config).config_with(overrides)


def test_a_relative_file_is_in_the_package_folder(folders):
    presets.WEIGHTS_DIR.mkdir()
    path = weights_file(presets.WEIGHTS_DIR)
    made = preset(file="tiny.weights.h5", sha256=files.sha256(path))
    assert presets.fetch(made) == path


def test_an_absolute_file_stays_where_it_is(folders):
    path = weights_file(folders)
    assert presets.fetch(preset(file=path, sha256=files.sha256(path))) == path


def test_a_url_is_downloaded_once_into_the_cache(folders):
    path = weights_file(folders)
    digest = files.sha256(path)
    made = preset(file=path.as_uri(), sha256=digest)
    cached = folders / "cache" / presets.CACHE_SUBDIR / digest[:16] / path.name
    assert presets.fetch(made) == cached and files.sha256(cached) == digest
    path.unlink()  # the second time comes from the cache
    assert presets.fetch(made) == cached


def test_a_missing_file_is_named(folders):
    with pytest.raises(FileNotFoundError, match="alexnet_gap.tiny.*gone.weights.h5"):
        presets.fetch(preset(file=folders / "gone.weights.h5"))


def test_a_tampered_file_is_refused_naming_both_hashes(folders):
    tampered = weights_file(folders)
    expected = files.sha256(tampered)
    with open(tampered, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="sha256 mismatch") as error:
        presets.fetch(preset(file=tampered, sha256=expected))
    message = str(error.value)
    assert str(tampered) in message and expected in message
    assert files.sha256(tampered) in message


def test_sha256_mismatch_advice_is_true_for_where_the_file_is(folders):
    presets.WEIGHTS_DIR.mkdir()
    shutil.copy(weights_file(folders), presets.WEIGHTS_DIR / "tiny.weights.h5")
    package = error_for(preset(file="tiny.weights.h5", sha256="1" * 64))
    absolute = error_for(preset(file=folders / "tiny.weights.h5", sha256="1" * 64))
    for message in (package, absolute):
        assert "nothing is downloaded" in message and "to download it again" not in message
    assert "shipped in the package folder zoo/weights/" in package
    assert "register this one with its own sha256" in absolute
    url = error_for(preset(file=(folders / "tiny.weights.h5").as_uri(), sha256="1" * 64))
    cached = folders / "cache" / presets.CACHE_SUBDIR / ("1" * 16) / "tiny.weights.h5"
    assert f"delete {cached} to download it again" in url


def error_for(made):
    with pytest.raises(ValueError, match="sha256 mismatch") as error:
        presets.fetch(made)
    return str(error.value)

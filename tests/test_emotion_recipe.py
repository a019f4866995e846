"""The emotion recipe end to end on tiny runs: the built-in faces with the four variants of
Table X, CK+ from a folder written here, flag errors before any data."""

import json

import cv2
import pytest
from test_data_ckplus import write_tree
from test_harness import flag_error

from keras_has.recipes import emotion

TINY = ["--train-images", "64", "--test-images", "24", "--epochs", "1", "--batch-size", "32"]


def test_builtin_faces_four_variants(tmp_path):
    results = emotion.main([*TINY, "--out", str(tmp_path)])
    assert list(results) == ["CNN", "CNN+A", "HaS", "A+HaS"]
    for name, result in results.items():
        # 24 test faces: accuracies are multiples of 1/24 (float64 division: 1e-12).
        assert result["accuracy"] * 24 == pytest.approx(round(result["accuracy"] * 24), abs=1e-9)
        assert 0 <= result["accuracy_covered"] <= 1 and 0 <= result["accuracy_uncovered"] <= 1
        config = json.loads((tmp_path / name.lower() / "config.json").read_text())
        assert ("patch_sizes" in config) == ("HaS" in name)
    picture = cv2.imread(str(tmp_path / "attention.png"))
    assert picture.shape == (30 + 6 * 132 - 4, 5 * 132 - 4, 3)  # 6 faces, image + 4 models


def test_ckplus_fold_from_a_written_tree(tmp_path):
    root = write_tree(tmp_path / "CK+")
    argv = [
        "--dataset", "ckplus", "--data-dir", str(root), "--num-folds", "2", "--fold", "1",
        "--image-size", "48", "--width", "0.25", "--has", "8", "--epochs", "1",
        "--batch-size", "4", "--variants", "CNN,HaS", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    results = emotion.main(argv)
    assert set(results) == {"CNN", "HaS"} and "accuracy_covered" not in results["HaS"]
    assert 0 <= results["HaS"]["accuracy"] <= 1


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "ckplus"], "--data-dir: --dataset ckplus needs the CK+ folder"),
        (["--image-size", "50"], "--image-size: 50 is not a multiple of 4"),
        (["--dataset", "ckplus", "--data-dir", ".", "--fold", "10"], "--fold: 10 is not below"),
        (["--has", "64"], "--has"),
        (["--train-images", "10"], "--batch-size: 64 is larger than the 10 training faces"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(
    argv, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(emotion.Emotion, "load", no_data)
    line = flag_error(emotion.main, [*argv, "--out", str(tmp_path)], capsys)
    assert line.startswith(f"{emotion.RECIPE.prog}: error: {message}"), line

"""The age / gender recipe end to end on tiny runs: built-in faces with the four variants of
Table XI, UTKFace and APPA-REAL folders written here, flag errors before any data."""

import json

import numpy as np
import pytest
from test_data_age_gender import appa_root, utk_folder
from test_harness import flag_error

from keras_has.recipes import age_gender

TINY = [
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--image-size",
    "32",
    "--depth",
    "10",
    "--width",
    "1",
]


def test_builtin_faces_four_variants(tmp_path):
    argv = [*TINY, "--train-images", "48", "--test-images", "20", "--has", "0,8"]
    results = age_gender.main([*argv, "--out", str(tmp_path)])
    assert list(results) == ["CNN", "CNN+A", "HaS", "A+HaS"]
    for result in results.values():
        # The expected age of a softmax over 0..100 is in [0, 100]; ages are uniform in 0-100.
        assert 0 <= result["age_mae"] <= 100 and 0 <= result["age_mae_covered"] <= 100
        assert result["gender_accuracy"] * 20 == pytest.approx(
            round(result["gender_accuracy"] * 20), abs=1e-9
        )
    config = json.loads((tmp_path / "a+has" / "config.json").read_text())
    assert config["patch_sizes"] == [0, 8] and config["depth"] == 10
    assert (tmp_path / "attention.png").is_file()


def test_utkface_folder_holds_out_a_fixed_fifth(tmp_path):
    names = [f"{20 + i}_{i % 2}_0_2017010402310{i:04d}.jpg.chip.jpg" for i in range(30)]
    folder = utk_folder(tmp_path, names)
    argv = [*TINY, "--dataset", "utkface", "--data-dir", str(folder), "--variants", "HaS"]
    results = age_gender.main([*argv, "--has", "8", "--out", str(tmp_path / "run")])
    assert 0 <= results["HaS"]["gender_accuracy"] <= 1 and "real_age_mae" not in results["HaS"]


def test_appa_real_scores_apparent_and_real_age(tmp_path):
    rows = [f"{i:06d}.jpg,10,{20 + i}.5,2.0,{30 + i}" for i in range(20)]
    categories = [
        f"{i:06d}.jpg,{'male' if i % 2 else 'female'},asian,no,young,neutral" for i in range(20)
    ]
    for split in ("train", "test"):
        root = appa_root(tmp_path, rows, split, categories=categories)
    argv = [*TINY, "--dataset", "appa_real", "--data-dir", str(root), "--variants", "CNN"]
    result = age_gender.main([*argv, "--out", str(tmp_path / "run")])["CNN"]
    # Apparent ages 20.5..39.5 and real ages 30..49 of the same faces: the two MAEs differ.
    assert result["age_mae"] != result["real_age_mae"]
    assert np.isfinite(result["real_age_mae"]) and 0 <= result["gender_accuracy"] <= 1


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "utkface"], "--data-dir: --dataset utkface needs its folder"),
        (["--depth", "12"], "--depth: 12 is not 6 n + 4"),
        (["--has", "64", "--image-size", "48"], "--has"),
        (["--train-images", "10"], "--batch-size: 64 is larger than the 10 training faces"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(
    argv, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(age_gender.AgeGender, "load", no_data)
    line = flag_error(age_gender.main, [*argv, "--out", str(tmp_path)], capsys)
    assert line.startswith(f"{age_gender.RECIPE.prog}: error: {message}"), line

"""The re-identification recipe end to end on tiny runs: the built-in people (written in
Market-1501's layout and read back), a Market-1501 folder, flag errors before any data."""

import json

import pytest
from test_harness import flag_error

from keras_has.data import synthetic_reid
from keras_has.recipes import reid

TINY = ["--epochs", "1", "--batch-size", "16", "--dim", "16", "--eval-batch-size", "64"]


def test_builtin_people_baseline_erasing_and_has(tmp_path):
    argv = [*TINY, "--identities", "100", "--images-per-camera", "2"]
    argv += ["--variants", "Baseline,RandomErasing,HaS", "--out", str(tmp_path)]
    results = reid.main(argv)
    assert list(results) == ["Baseline", "RandomErasing", "HaS"]
    for result in results.values():
        # 50 test persons x 4 cameras: 200 queries, each with 4 true matches in the gallery.
        assert result["num_valid_queries"] == 200
        assert 0 <= result["rank1"] <= result["rank5"] <= result["rank10"] <= 1
        assert 0 < result["map"] <= 1 and 0 <= result["occluded_map"] <= 1
    assert (tmp_path / "builtin-data-100x2" / "query").is_dir()
    assert json.loads((tmp_path / "has" / "config.json").read_text())["patch_sizes"] == [32]
    assert (tmp_path / "retrieval.png").is_file()


def test_market1501_folder(tmp_path):
    people = synthetic_reid.make(8, images_per_camera=2, num_cameras=2, distractors=3, junk=2)
    root = synthetic_reid.write_market(tmp_path / "Market-1501-v15.09.15", people)
    argv = [*TINY, "--batch-size", "8", "--dataset", "market1501", "--data-dir", str(root)]
    argv += ["--model", "mini_vgg", "--variants", "HaS-low", "--out", str(tmp_path / "run")]
    result = reid.main(argv)["HaS-low"]
    assert result["num_valid_queries"] == 8  # 4 test persons x 2 cameras
    assert "occluded_rank1" not in result  # the real layout says nothing of occluders
    config = json.loads((tmp_path / "run" / "has-low" / "config.json").read_text())
    assert config["low_hide_prob"] == 0.33 and "erasing_prob" not in config


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "30"], "--batch-size: 30 is not a multiple of 4"),
        (["--dataset", "duke"], "--data-dir: --dataset duke needs its folder"),
        (["--has", "96"], "--has"),
        (["--identities", "7"], "--identities: 7 is not an even int >= 4"),
        (["--images-per-camera", "1"], "--images-per-camera: 1 is below 2"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(
    argv, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(reid.ReID, "load", no_data)
    line = flag_error(reid.main, [*argv, "--out", str(tmp_path)], capsys)
    assert line.startswith(f"{reid.RECIPE.prog}: error: {message}"), line

"""The temporal recipe end to end on tiny runs: results, picture, resume, THUMOS files."""

import json
import shutil
import subprocess
import sys

import cv2
import pytest
from helpers import kill_and_rerun, run_module, write_thumos
from test_harness import flag_error

from keras_has import viz
from keras_has.recipes import temporal

TINY = [
    "--train-videos",
    "32",
    "--test-videos",
    "10",
    "--num-steps",
    "200",
    "--feature-dim",
    "8",
    "--filters",
    "8",
    "--segment",
    "20",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--figure-videos",
    "3",
]
KEYS = {"top1_cls", "map@0.1", "map@0.3", "map@0.5", "map_mean", "cam_on_key", "ap"}


def run(out, *extra, base=TINY):
    return run_module("keras_has.recipes.temporal", *base, "--out", out, *extra)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("temporal")
    return out, run(out)


def test_compare_run_writes_map_at_every_tiou_for_both_models(finished):
    out, stdout = finished
    results = json.loads((out / "results.json").read_text())
    for name in ("Video-full", "Video-HaS"):
        assert KEYS <= set(results[name])
        maps = [results[name][f"map@{t}"] for t in (0.1, 0.2, 0.3, 0.4, 0.5)]
        assert all(0 <= m <= 1 for m in maps) and maps == sorted(maps, reverse=True)
        # float64 host arithmetic on the same five numbers, maybe summed in another order.
        assert results[name]["map_mean"] == pytest.approx(sum(maps) / 5, abs=1e-12)
        assert json.loads((out / name.lower() / "results.json").read_text()) == results[name]
    for line in ("| mAP @ tIoU 0.1 |", "| mAP @ tIoU 0.5 |", "| key steps in the CAM"):
        assert line in stdout
    picture = cv2.imread(str(out / "fig8.png"))
    # Per video: a caption, ground truth, per model a CAM strip and segments, a time axis.
    bar = 20  # viz.timelines's default row height
    video = (bar + 8) + bar + 2 * 2 * bar + viz.AXIS
    assert picture.shape == (3 * video, viz.LABEL_WIDTH + 900, 3)
    # A variant's identity holds only what it uses: the baseline has no HaS flags.
    full = json.loads((out / "video-full" / "config.json").read_text())
    assert "segment" not in full and "hide_prob" not in full and "patch_sizes" not in full
    assert json.loads((out / "video-has" / "config.json").read_text())["patch_sizes"] == [20]
    mean = json.loads((out / "fill_mean.json").read_text())["mean"]
    assert len(mean) == 8


def test_a_finished_run_is_not_trained_again(finished):
    out, _ = finished
    before = json.loads((out / "results.json").read_text())
    stdout = run(out)
    assert stdout.count("the run is finished") == 2
    assert json.loads((out / "results.json").read_text()) == before


def test_a_finished_run_is_evaluated_again_with_other_evaluation_flags(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)  # the finished run stays as it is for the other tests
    before = json.loads((out / "results.json").read_text())
    again = run(out, "--cam-threshold", "0.3", "--figure-videos", "2", "--eval-batch-size", "7")
    assert "epoch 1/" not in again and again.count("the run is finished; loading") == 2
    after = json.loads((out / "results.json").read_text())
    phases = [k for k in before["Video-HaS"] if k.startswith("cam_on_")]
    for name in ("Video-full", "Video-HaS"):  # the same models, a lower threshold
        assert after[name]["top1_cls"] == before[name]["top1_cls"]
        # normalized >= 0.3 keeps every step that >= 0.5 kept, and (continuous CAMs) more.
        assert all(after[name][k] >= before[name][k] for k in phases)
        assert sum(after[name][k] for k in phases) > sum(before[name][k] for k in phases)


def test_a_killed_run_continues_where_it_was(finished, tmp_path):
    """SIGKILL once Video-full has backed up epoch 1; the same command finishes the job."""
    out = tmp_path / "killed"
    stdout = kill_and_rerun("keras_has.recipes.temporal", [*TINY, "--out", out], out / "video-full")

    assert "1 of 2 epochs done, continuing with epoch 2" in stdout
    expected = json.loads((finished[0] / "results.json").read_text())
    got = json.loads((out / "results.json").read_text())
    for name in ("Video-full", "Video-HaS"):
        for key in ("top1_cls", "map@0.1", "map@0.5", "map_mean", "cam_on_key"):
            assert got[name][key] == pytest.approx(expected[name][key], abs=1e-6), (name, key)


def test_thumos_files_end_to_end(tmp_path):
    features, annotations = write_thumos(tmp_path, count=8, corrupt=["video_validation_0000007"])
    base = ["--dataset", "thumos", "--features-dir", str(features)]
    base += ["--annotations-dir", str(annotations), "--num-steps", "32", "--segment", "8"]
    base += ["--filters", "4"]
    base += [
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--figure-videos",
        "2",
        "--variants",
        "video-has",
    ]
    stdout = run(tmp_path / "out", base=base)
    assert "training set: skipped 1 files" in stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["models"] == ["Video-HaS"] and set(results["Video-HaS"]["ap"]) == {"0", "1"}
    assert (tmp_path / "out" / "fig8.png").exists()


def test_paper_defaults_and_help(tmp_path):
    from keras_has.training import has_flags

    args = temporal.RECIPE.parse_args([])
    assert (args.num_steps, args.segment, args.hide_prob, args.cam_threshold) == (
        2000,
        "100",
        0.5,
        0.5,
    )
    assert args.pooling == "max" and args.variants == "Video-full,Video-HaS"
    folders = ["--features-dir", str(tmp_path), "--annotations-dir", str(tmp_path)]
    thumos_args = temporal.RECIPE.parse_args(["--dataset", "thumos", *folders])
    assert (thumos_args.filters, thumos_args.variants) == (500, "Video-HaS")
    for segment, segments in (("50,100", [50, 100]), ("0.05", [0.05])):
        args = temporal.RECIPE.parse_args(["--segment", segment])
        assert has_flags.check_has_flags(args, "temporal", args.num_steps) == segments
    text = subprocess.run(
        [sys.executable, "-m", "keras_has.recipes.temporal", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--segment", "--hide-prob", "--num-steps", "--strategy", "--out", "--optimizer"):
        assert flag in text


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--segment", "-5"], "--segment: Each `patch_size` value must be"),
        (["--segment", "16.7"], "--segment: Each `patch_size` value must be"),
        (["--segment", "100.0"], "--segment: Each `patch_size` value must be"),
        (["--segment", "50,3000"], "--segment: 3000 steps is larger than --num-steps 2000"),
        (["--hide-prob", "2"], "--hide-prob: `hide_prob` must be a number in [0, 1]"),
        (["--classes", "1"], "--classes: the built-in videos have at least 2 classes"),
        (["--train-videos", "8"], "--batch-size: 32 is larger than the 8 training videos"),
        (["--dataset", "thumos"], "--features-dir: --dataset thumos needs the folder"),
        (
            ["--dataset", "thumos", "--features-dir", "/no/such/folder", "--annotations-dir", "."],
            "--features-dir: no folder /no/such/folder",
        ),
        (
            ["--dataset", "thumos", "--features-dir", ".", "--annotations-dir", "."]
            + ["--labels-file", "/no/such/file"],
            "--labels-file: no file /no/such/file",
        ),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(argv, message, monkeypatch, capsys):
    monkeypatch.setattr(temporal.Temporal, "load", no_data)
    line = flag_error(temporal.main, [*argv, "--out", "/no/such/run"], capsys)
    assert line.startswith(f"python -m keras_has.recipes.temporal: error: {message}"), line


def test_thumos_file_problems_name_the_flag(tmp_path, monkeypatch, capsys):
    """Found while reading the files, before the mean feature and training."""
    monkeypatch.setattr(temporal.Temporal, "compute_mean", no_data)
    monkeypatch.setattr(temporal.Temporal, "build", no_data)
    features, annotations = write_thumos(tmp_path, count=8)
    out = ["--out", str(tmp_path / "run"), "--num-steps", "32", "--segment", "8"]
    thumos = ["--dataset", "thumos", "--features-dir", str(features), *out]
    line = flag_error(temporal.main, [*thumos, "--annotations-dir", str(features)], capsys)
    assert line == (
        "python -m keras_has.recipes.temporal: error: --annotations-dir: no '<Class>_val.txt' files in "
        f"'{features}'."
    )
    line = flag_error(temporal.main, [*thumos, "--annotations-dir", str(annotations)], capsys)
    assert line == (
        "python -m keras_has.recipes.temporal: error: --batch-size: 32 is larger than the 8 training "
        "videos: an epoch would have no batch; use at most 8"
    )
    evaluation = ["--annotations-dir", str(annotations), "--eval-features-dir", str(annotations)]
    line = flag_error(temporal.main, [*thumos, *evaluation, "--batch-size", "4"], capsys)
    assert line.startswith(
        "python -m keras_has.recipes.temporal: error: --eval-features-dir: no usable feature files in"
    )
    assert not (tmp_path / "run").exists()

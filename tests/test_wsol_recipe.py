"""The WSOL recipe end to end on a tiny built-in run: results, picture, resume."""

import json
import subprocess
import sys

import cv2
import pytest
from helpers import kill_and_rerun, run_module

from recipes import wsol

TINY = [
    "--train-images",
    "96",
    "--test-images",
    "30",
    "--epochs",
    "2",
    "--width",
    "0.125",
    "--resize",
    "72",
    "--crop",
    "64",
    "--has",
    "0,16",
    "--batch-size",
    "32",
    "--figure-images",
    "2",
    "--eval-batch-size",
    "15",
]


def run(out, *extra):
    return run_module("recipes.wsol", *TINY, "--out", out, *extra)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("wsol")
    return out, run(out)


def test_compare_run_writes_every_metric_for_both_models(finished):
    out, stdout = finished
    results = json.loads((out / "results.json").read_text())
    keys = {"top1_cls", "top1_loc", "gt_known_loc", "maxboxacc", "maxboxacc_v2", "pxap"}
    for name in ("GAP", "HaS"):
        assert keys <= set(results[name])
        # MaxBoxAcc is the best over thresholds, GT-known Loc one of them.
        assert 0 <= results[name]["gt_known_loc"] <= results[name]["maxboxacc"] + 1e-9
        assert json.loads((out / name.lower() / "results.json").read_text()) == results[name]
    assert len(results["dataset_mean"]) == 3
    for line in ("| GT-known Loc (IoU >= 0.5) |", "| MaxBoxAccV2 (IoU 0.3/0.5/0.7) |", "| PxAP |"):
        assert line in stdout
    picture = cv2.imread(str(out / "fig5.png"))
    assert picture.shape == (28 + 2 * 72, 4 * 72, 3)
    # The baseline trained without hiding, the HaS model with the patch sizes.
    assert json.loads((out / "gap" / "config.json").read_text())["patch_sizes"] is None
    assert json.loads((out / "has" / "config.json").read_text())["patch_sizes"] == [0, 16]


def test_a_finished_run_is_not_trained_again(finished):
    out, _ = finished
    before = json.loads((out / "results.json").read_text())
    stdout = run(out)
    assert stdout.count("the run is finished") == 2
    assert json.loads((out / "results.json").read_text()) == before


def test_a_killed_run_continues_where_it_was(finished, tmp_path):
    """SIGKILL once the baseline has backed up epoch 1; the same command finishes the job."""
    out = tmp_path / "killed"
    first_row = []

    def keep_first_row():  # the baseline's log as the kill left it
        first_row.extend((out / "gap" / "log.csv").read_text().splitlines()[:2])

    stdout = kill_and_rerun("recipes.wsol", [*TINY, "--out", out], out / "gap", keep_first_row)

    assert "1 of 2 epochs done, continuing with epoch 2" in stdout
    assert stdout.count("epoch 1/2 done") == 1  # the HaS model's, not the baseline's again
    rows = (out / "gap" / "log.csv").read_text().splitlines()
    assert rows[:2] == first_row and [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    # The data of every epoch is a function of the seed and the epoch, and the backup holds the
    # optimizer state: the resumed job ends with the uninterrupted one's numbers.
    expected = json.loads((finished[0] / "results.json").read_text())
    got = json.loads((out / "results.json").read_text())
    for name in ("GAP", "HaS"):
        for key in ("top1_cls", "gt_known_loc", "maxboxacc_v2", "pxap"):
            assert got[name][key] == pytest.approx(expected[name][key], abs=1e-6), (name, key)


def test_help_documents_every_flag():
    with pytest.raises(SystemExit):
        wsol.parse_args(["--help"])
    parser_help = subprocess.run(
        [sys.executable, "-m", "recipes.wsol", "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for flag in (
        "--dataset",
        "--model",
        "--pooling",
        "--has",
        "--hide-prob",
        "--epochs",
        "--batch-size",
        "--lr",
        "--lr-end",
        "--lr-schedule",
        "--resize",
        "--crop",
        "--strategy",
        "--mixed-precision",
        "--xla",
        "--out",
        "--cam-threshold",
    ):
        assert flag in parser_help


def test_paper_defaults_for_ilsvrc():
    alexnet = wsol.parse_args(["--dataset", "imagenet"])
    assert (alexnet.model, alexnet.batch_size, alexnet.lr, alexnet.lr_end, alexnet.epochs) == (
        "alexnet_gap",
        128,
        0.01,
        1e-4,
        55,
    )
    assert (alexnet.cam_threshold, alexnet.crop, alexnet.compare) == (0.2, 227, False)
    googlenet = wsol.parse_args(["--dataset", "imagenet", "--model", "googlenet_gap"])
    assert (googlenet.epochs, googlenet.cam_threshold, googlenet.crop) == (40, 0.3, 224)
    assert wsol.parse_args(["--has", "off"]).patch_sizes is None
    assert wsol.parse_args(["--has", "0,16,0.25"]).patch_sizes == [0, 16, 0.25]
    with pytest.raises(SystemExit):
        wsol.parse_args(["--has", "big"])


def test_cub_path_on_mocked_tfds(tmp_path):
    """--dataset cub end to end, in this process, on TFDS mock data (12 consistent examples)."""
    import numpy as np
    import tensorflow_datasets as tfds
    from test_data_sources import cub_as_dataset_fn

    rng = np.random.default_rng(0)
    examples = [
        {
            "image": rng.integers(0, 256, (60 + 4 * k, 80, 3), dtype=np.uint8),
            "image/filename": f"{k:03d}.Bird/Bird_{k}.jpg",
            "label": np.int64(k * 16),
            "label_name": "bird",
            "bbox": np.array([0.1, 0.2, 0.8, 0.9], np.float32),
            "segmentation_mask": rng.choice([0, 255], (60 + 4 * k, 80, 1)).astype(np.uint8),
        }
        for k in range(12)
    ]
    out = tmp_path / "cub"
    flags = [*TINY, "--dataset", "cub", "--no-compare", "--data-dir", str(tmp_path / "tfds")]
    flags += ["--epochs", "1", "--batch-size", "4", "--out", str(out)]
    mock = tfds.testing.mock_data(
        num_examples=12,
        policy=tfds.testing.MockPolicy.USE_CODE,
        as_dataset_fn=cub_as_dataset_fn(examples),
    )
    with mock:
        results = wsol.main(flags)
    assert list(results) == ["HaS"]
    has = results["HaS"]
    assert has["num_images"] == 12 and 0 <= has["pxap"] <= 1  # CUB's test split has masks
    assert "cam_on_head" not in has  # the part analysis is for the built-in data only
    config = json.loads((out / "has" / "config.json").read_text())
    assert config["dataset"] == "cub" and config["patch_sizes"] == [0, 16]
    rows = (out / "has" / "log.csv").read_text().splitlines()
    assert len(rows) == 2  # a header and one epoch
    stored = json.loads((out / "dataset_mean.json").read_text())
    assert stored["key"] == {"dataset": "cub", "resize": 72} and len(stored["mean"]) == 3
    assert cv2.imread(str(out / "fig5.png")).shape == (28 + 2 * 72, 2 * 72, 3)


def test_mixed_precision_and_xla(tmp_path):
    out = tmp_path / "bf16"
    stdout = run(out, "--no-compare", "--epochs", "1", "--mixed-precision", "bfloat16", "--xla")
    assert "precision mixed_bfloat16; XLA on" in stdout
    has = json.loads((out / "results.json").read_text())["HaS"]
    assert has["num_images"] == 30 and 0 <= has["gt_known_loc"] <= 1 and 0 <= has["pxap"] <= 1

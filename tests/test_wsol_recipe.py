"""The WSOL recipe end to end on a tiny built-in run: results, picture, resume."""

import json
import subprocess
import sys

import cv2
import pytest
from helpers import kill_and_rerun, run_module
from test_harness import flag_error

from keras_has import viz
from keras_has.recipes import wsol

TINY_MODEL = [
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
TINY = ["--train-images", "96", "--test-images", "30", *TINY_MODEL]


def fig5_shape(images, side, methods):
    """viz.comparison's layout for square images: legend and header, then per image its
    panels over an IoU band; two panels (boxes, CAM) per method."""
    height = viz.LEGEND + viz.HEADER + images * (viz.PANEL + viz.CAPTION)
    return (height, 2 * methods * (viz.PANEL + viz.GAP) - viz.GAP, 3)


def run(out, *extra):
    return run_module("keras_has.recipes.wsol", *TINY, "--out", out, *extra)


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
    assert len(results["fill_mean"]) == 3
    for line in ("| GT-known Loc (IoU >= 0.5) |", "| MaxBoxAccV2 (IoU 0.3/0.5/0.7) |", "| PxAP |"):
        assert line in stdout
    picture = cv2.imread(str(out / "fig5.png"))
    assert picture.shape == fig5_shape(images=2, side=72, methods=2)
    # The baseline trained without hiding, the HaS model with the patch sizes.
    gap = json.loads((out / "gap" / "config.json").read_text())
    assert not {"patch_sizes", "has", "hide_prob", "cam_threshold", "ten_crop"} & set(gap)
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

    stdout = kill_and_rerun(
        "keras_has.recipes.wsol", [*TINY, "--out", out], out / "gap", keep_first_row
    )

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
        wsol.RECIPE.parse_args(["--help"])
    parser_help = subprocess.run(
        [sys.executable, "-m", "keras_has.recipes.wsol", "--help"],
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


def test_paper_defaults_for_ilsvrc(tmp_path):
    imagenet = ["--dataset", "imagenet", "--val-boxes-dir", str(tmp_path)]
    alexnet = wsol.RECIPE.parse_args(imagenet)
    assert (alexnet.model, alexnet.batch_size, alexnet.lr, alexnet.lr_end, alexnet.epochs) == (
        "alexnet_gap",
        128,
        0.01,
        1e-4,
        55,
    )
    assert (alexnet.cam_threshold, alexnet.crop, alexnet.variants) == (0.2, 227, "HaS")
    googlenet = wsol.RECIPE.parse_args([*imagenet, "--model", "googlenet_gap"])
    assert (googlenet.epochs, googlenet.cam_threshold, googlenet.crop) == (40, 0.3, 224)


def test_model_choices_are_the_zoo_builders():
    from keras_has import zoo

    # Not the temporal network, the 32x32 CIFAR ResNets (recipes.classification's), the
    # segmentation recipes' mini_vgg, nor the face networks.
    others = {"temporal_cam_net", "mini_vgg_gap", "wrn_age_gender", "zero_bias_cnn"}
    others |= {m for m in zoo.list_models() if m.startswith("cifar_")}
    assert set(wsol.PAPER) == set(zoo.list_models()) - others


@pytest.mark.parametrize("has,sizes", [("0,16,0.25", [0, 16, 0.25]), ("128", [128])])
def test_has_sizes_by_the_layer_rules(has, sizes):
    from keras_has.training import has_flags

    args = wsol.RECIPE.parse_args(["--has", has])
    assert has_flags.check_has_flags(args, "image", args.crop) == sizes


@pytest.mark.parametrize(
    "given,chosen", [(None, "GAP,HaS"), ("has", "HaS"), ("HaS,gap", "GAP,HaS"), ("GAP", "GAP")]
)
def test_variants_are_chosen_by_name_in_the_recipe_order(given, chosen):
    argv = [] if given is None else ["--variants", given]
    assert wsol.RECIPE.parse_args(argv).variants == chosen


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--has", "-5"], "--has: Each `patch_size` value must be"),
        (["--has", "16.7"], "--has: Each `patch_size` value must be"),
        (["--has", "16.0"], "--has: Each `patch_size` value must be"),  # floats are fractions
        (["--has", "1.5"], "--has: Each `patch_size` value must be"),
        (["--has", "0.5,300"], "--has: 300 pixels is larger than --crop 128"),
        (["--hide-prob", "2"], "--hide-prob: `hide_prob` must be a number in [0, 1]"),
        (["--hide-prob", "-0.5"], "--hide-prob: `hide_prob` must be a number in [0, 1]"),
        (["--crop", "200"], "--crop: 200 is larger than --resize 136"),
        (["--resize", "50", "--crop", "40"], "--resize: the built-in images are at least 64"),
        (["--batch-size", "3000"], "--batch-size: 3000 is larger than the 2400 training images"),
        (["--train-images", "10"], "--batch-size: 64 is larger than the 10 training images"),
        (["--dataset", "cub", "--data-dir", "/no/such/folder"], "--data-dir: no folder"),
        (["--dataset", "imagenet"], "--val-boxes-dir: --dataset imagenet is evaluated on"),
        (["--lr", "0.01", "--lr-end", "0.1"], "--lr-end: 0.1 is above --lr 0.01"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(argv, message, monkeypatch, capsys):
    monkeypatch.setattr(wsol.WSOL, "load", no_data)
    line = flag_error(wsol.main, [*argv, "--out", "/no/such/run"], capsys)
    assert line.startswith(f"python -m keras_has.recipes.wsol: error: {message}"), line


def test_missing_cub_data_is_a_data_dir_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(wsol.WSOL, "compute_mean", no_data)
    monkeypatch.setattr(wsol.WSOL, "build", no_data)
    argv = ["--dataset", "cub", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")]
    line = flag_error(wsol.main, argv, capsys)
    assert line.startswith(
        f"python -m keras_has.recipes.wsol: error: --data-dir: no CUB-200-2011 (caltech_birds2011) in "
        f"{tmp_path}."
    )
    assert "tfds build caltech_birds2011 --data_dir DIR" in line
    assert not (tmp_path / "run").exists()


def test_flags_of_another_dataset_are_warned_about(tmp_path, capsys):
    args = wsol.RECIPE.parse_args(
        ["--data-dir", "/x", "--train-images", "64", "--batch-size", "32"]
    )
    assert args.train_images == 64
    assert capsys.readouterr().err == (
        "python -m keras_has.recipes.wsol: warning: --data-dir is for --dataset cub or imagenet, not "
        "builtin; ignored\n"
    )
    cub = ["--dataset", "cub", "--data-dir", str(tmp_path), "--train-images", "2400"]
    wsol.RECIPE.parse_args(cub)  # given, even at its default value
    assert capsys.readouterr().err == (
        "python -m keras_has.recipes.wsol: warning: --train-images is for --dataset builtin, not cub; "
        "ignored\n"
    )
    wsol.RECIPE.parse_args(["--dataset", "cub"])
    assert capsys.readouterr().err == ""


def test_cub_path_on_mocked_tfds(tmp_path, capsys):
    """--dataset cub end to end, in this process, on TFDS mock data (12 consistent examples)."""
    import numpy as np
    import tensorflow_datasets as tfds
    from test_data_cub import cub_as_dataset_fn

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
    (tmp_path / "tfds").mkdir()
    flags = [
        *TINY_MODEL,
        "--dataset",
        "cub",
        "--variants",
        "HaS",
        "--data-dir",
        str(tmp_path / "tfds"),
    ]
    flags += ["--epochs", "1", "--batch-size", "4", "--out", str(out)]
    mock = tfds.testing.mock_data(
        num_examples=12,
        policy=tfds.testing.MockPolicy.USE_CODE,
        as_dataset_fn=cub_as_dataset_fn(examples),
    )
    with mock:
        line = flag_error(wsol.main, [*flags, "--batch-size", "16"], capsys)
        results = wsol.main(flags)
    assert line == (
        "python -m keras_has.recipes.wsol: error: --batch-size: 16 is larger than the 12 training images: "
        "an epoch would have no batch; use at most 12"
    )
    assert list(results) == ["HaS"]
    has = results["HaS"]
    assert has["num_images"] == 12 and 0 <= has["pxap"] <= 1  # CUB's test split has masks
    assert "cam_on_head" not in has  # the part analysis is for the built-in data only
    config = json.loads((out / "has" / "config.json").read_text())
    assert config["dataset"] == "cub" and config["patch_sizes"] == [0, 16]
    rows = (out / "has" / "log.csv").read_text().splitlines()
    assert len(rows) == 2  # a header and one epoch
    stored = json.loads((out / "fill_mean.json").read_text())
    assert (
        stored["key"] == {"dataset": "cub", "resize": 72, "recipe": wsol.RECIPE.prog}
        and len(stored["mean"]) == 3
    )
    assert cv2.imread(str(out / "fig5.png")).shape == fig5_shape(images=2, side=72, methods=1)


def test_mixed_precision_and_xla(tmp_path):
    out = tmp_path / "bf16"
    stdout = run(
        out, "--variants", "HaS", "--epochs", "1", "--mixed-precision", "bfloat16", "--xla"
    )
    assert "precision mixed_bfloat16; XLA on" in stdout
    has = json.loads((out / "results.json").read_text())["HaS"]
    assert has["num_images"] == 30 and 0 <= has["gt_known_loc"] <= 1 and 0 <= has["pxap"] <= 1

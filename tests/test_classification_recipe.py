"""The classification recipe end to end on tiny runs: the built-in animals with Full, HaS and
Random Erasing; Fashion-MNIST from IDX files written here; flag errors before any data."""

import json

import cv2
import numpy as np
import pytest
from test_data_idx import write_fashion
from test_harness import flag_error

from keras_has.recipes import classification

TINY = [
    "--train-images",
    "64",
    "--test-images",
    "40",
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--occlusion-images",
    "20",
    "--occlusion-fractions",
    "0.25,0.5",
    "--eval-batch-size",
    "20",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("classification")
    argv = [*TINY, "--variants", "Full,HaS,RandomErasing", "--out", str(out)]
    return out, classification.main(argv)


def test_every_variant_has_its_errors_and_occlusion_curves(finished):
    out, results = finished
    assert list(results) == ["Full", "HaS", "RandomErasing"]
    summary = json.loads((out / "results.json").read_text())
    assert summary["models"] == ["Full", "HaS", "RandomErasing"]
    for name, result in results.items():
        assert json.loads((out / name.lower() / "results.json").read_text()) == summary[name]
        # 40 test images: error is a multiple of 1/40 (float64 division: 1e-12).
        for key in ("top1_error", "top5_error"):
            assert 0 <= result[key] <= 1
            assert result[key] * 40 == pytest.approx(round(result[key] * 40), abs=1e-9)
        for curve in ("occluded_accuracy", "cam_occluded_accuracy"):
            assert sorted(result[curve]) == ["0", "0.25", "0.5"]
            for value in result[curve].values():  # 20 images
                assert value * 20 == pytest.approx(round(value * 20), abs=1e-9)
        assert result["occluded_accuracy"]["0"] == result["cam_occluded_accuracy"]["0"]
    picture = cv2.imread(str(out / "occlusion.png"))
    assert picture is not None and picture.shape == (400, 1000, 3)  # two 5x4-inch panels at 100 dpi


def test_evaluation_flags_do_not_train_again(finished, capsys):
    out, _ = finished
    argv = [*TINY, "--occlusion-fractions", "0.1", "--variants", "HaS", "--out", str(out)]
    results = classification.main(argv)
    printed = capsys.readouterr().out
    assert "the run is finished; loading" in printed and "epoch 1/1" not in printed
    assert sorted(results["HaS"]["occluded_accuracy"]) == ["0", "0.1"]
    assert "accuracy, 10% hidden (random cells)" in printed


def test_fashion_mnist_from_idx_files(tmp_path):
    folder = tmp_path / "fashion"
    written = write_fashion(folder, train=48, test=10)
    argv = [
        "--dataset",
        "fashion_mnist",
        "--data-dir",
        str(folder),
        "--train-images",
        "40",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--occlusion-images",
        "10",
        "--variants",
        "Full",
        "--occlusion-fractions",
        "0.5",
        "--out",
        str(tmp_path / "run"),
    ]
    results = classification.main(argv)
    assert results["Full"]["top1_error"] * 10 == pytest.approx(
        round(results["Full"]["top1_error"] * 10), abs=1e-9
    )
    fill = json.loads((tmp_path / "run" / "fill_mean.json").read_text())
    # The fill is the mean of the first 40 training images padded to 32x32 (zeros); float64.
    expected = np.pad(written["train"][0][:40], [(0, 0), (2, 2), (2, 2)]).mean()
    assert fill["mean"] == pytest.approx([expected], rel=1e-9)


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "resnet50_gap"], "--model: resnet50_gap is the ImageNet model"),
        (
            ["--dataset", "imagenet", "--model", "cifar_resnet20_gap"],
            "--model: --dataset imagenet trains",
        ),
        (["--has", "64"], "--has: 64 pixels is larger than the 32-pixel images"),
        (["--has", "2.5"], "--has: Each `patch_size` value must be"),
        (
            ["--dataset", "fashion_mnist", "--data-dir", "/no/such"],
            "--data-dir: no folder /no/such",
        ),
        (["--train-images", "10"], "--batch-size: 64 is larger than the 10 training images"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(argv, message, monkeypatch, capsys):
    monkeypatch.setattr(classification.Classification, "load", no_data)
    line = flag_error(classification.main, [*argv, "--out", "/no/such/run"], capsys)
    assert line.startswith(f"python -m keras_has.recipes.classification: error: {message}"), line


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--image-prob", "1.5"], "--image-prob: must be in [0, 1]"),
        (
            ["--occlusion-fractions", "0,0.5"],
            "--occlusion-fractions: expected increasing fractions in (0, 1)",
        ),
        (["--lr-milestones", "0.75,0.5"], "--lr-milestones: expected increasing fractions"),
    ],
)
def test_malformed_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        classification.RECIPE.parse_args(argv)
    assert exited.value.code == 2
    assert f"error: argument {message}" in capsys.readouterr().err


def test_broken_idx_files_are_a_data_dir_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(classification.Classification, "build", no_data)
    write_fashion(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    argv = ["--dataset", "fashion_mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")]
    line = flag_error(classification.main, argv, capsys)
    assert f"error: --data-dir: {path} has" in line and "(truncated)" in line


def test_cifar10_on_mocked_tfds(tmp_path, capsys):
    """--dataset cifar10 end to end on TFDS mock data (40 random 32x32 images)."""
    from data_helpers import mock

    (tmp_path / "tfds").mkdir()
    argv = [
        "--dataset",
        "cifar10",
        "--data-dir",
        str(tmp_path / "tfds"),
        "--model",
        "cifar_resnet20_gap",
        "--epochs",
        "1",
        "--occlusion-images",
        "10",
        "--occlusion-fractions",
        "0.5",
        "--eval-batch-size",
        "20",
        "--out",
        str(tmp_path / "run"),
    ]
    with mock(40):
        line = flag_error(classification.main, [*argv, "--batch-size", "64"], capsys)
        results = classification.main([*argv, "--batch-size", "20"])
    assert line.endswith(
        "--batch-size: 64 is larger than the 40 training images: an epoch "
        "would have no batch; use at most 40"
    )
    assert list(results) == ["HaS"]  # real data sets train the HaS model by default
    assert set(results["HaS"]) == {
        "top1_error",
        "top5_error",
        "occluded_accuracy",
        "cam_occluded_accuracy",
    }
    stored = json.loads((tmp_path / "run" / "fill_mean.json").read_text())
    assert stored["key"]["dataset"] == "cifar10" and len(stored["mean"]) == 3
    config = json.loads((tmp_path / "run" / "has" / "config.json").read_text())
    assert config["patch_sizes"] == [8] and config["image_prob"] == 0.5

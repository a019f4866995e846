"""The segmentation recipes end to end on tiny runs: FCN (pre-trained with and without HaS,
then fine-tuned) and weakly-supervised segmentation (classifier -> pseudo-labels -> network)
on the built-in scenes, FCN on a VOC / SBD folder written here, flag errors before any data."""

import json

import cv2
import keras
import numpy as np
import pytest
from test_data_voc import make_mask, make_sbd, make_voc
from test_harness import flag_error

from keras_has import zoo
from keras_has.recipes import segmentation, wsss

SEG = ["--seg-epochs", "1", "--seg-batch-size", "16", "--train-scenes", "32"]
TINY_FCN = [*SEG, "--pretrain-images", "64", "--epochs", "1", "--batch-size", "32"]
TINY_WSSS = [*SEG, "--epochs", "1", "--batch-size", "16", "--test-scenes", "12"]
SCORES = ("mean_iou", "pixel_accuracy", "mean_accuracy", "fw_iou")


@pytest.fixture(scope="module")
def fcn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("segmentation")
    argv = [*TINY_FCN, "--test-scenes", "12", "--out", str(out)]
    return out, argv, segmentation.main(argv)


def check_scores(result, num_classes=9):
    for key in SCORES:
        assert 0 <= result[key] <= 1, key
    # frequency-weighted IU <= pixel accuracy, mean IU <= mean accuracy (per class IU <= acc).
    assert result["fw_iou"] <= result["pixel_accuracy"] + 1e-12
    assert result["mean_iou"] <= result["mean_accuracy"] + 1e-12
    assert len(result["per_class_iou"]) == num_classes


def test_fcn_recipe_pretrains_then_finetunes_each_variant(fcn_run):
    out, _, results = fcn_run
    assert list(results) == ["Baseline", "HaS"]
    for name, result in results.items():
        check_scores(result)
        assert 0 <= result["pretrain_top1"] <= 1
        for stage in ("pretrain", "finetune"):
            assert (out / name.lower() / stage / "final.weights.h5").is_file()
        config = json.loads((out / name.lower() / "pretrain" / "config.json").read_text())
        assert config["stage"] == "pretrain" and "seg_epochs" not in config
        assert ("patch_sizes" in config) == (name == "HaS")
        finetune = json.loads((out / name.lower() / "finetune" / "config.json").read_text())
        assert finetune["epochs"] == 1 and finetune["batch_size"] == 16  # the --seg-* flags
    summary = json.loads((out / "results.json").read_text())
    assert summary["models"] == ["Baseline", "HaS"] and summary["HaS"] == results["HaS"]
    picture = cv2.imread(str(out / "segmentation.png"))
    # 6 rows of 128-pixel panels (image, truth, 2 variants) under a 30-pixel header, gaps 4.
    assert picture.shape == (30 + 6 * 132 - 4, 4 * 132 - 4, 3)


def test_changing_the_finetuning_keeps_the_pretrained_classifier(fcn_run, capsys):
    out, argv, _ = fcn_run
    argv = [*argv, "--variants", "HaS", "--skips", "fcn32s", "--overwrite"]
    results = segmentation.main(argv)
    printed = capsys.readouterr().out
    assert f"{out / 'has' / 'pretrain'}: the run is finished; loading" in printed
    assert "epoch 1/1 done: loss" in printed  # the fine-tuning trains again (a new FCN)
    check_scores(results["HaS"])


def test_the_finetuned_network_starts_from_the_pretrained_backbone(fcn_run):
    out, _, _ = fcn_run
    classifier = zoo.build("mini_vgg_gap", 8, input_shape=(64, 64, 3))
    classifier.load_weights(out / "has" / "pretrain" / "final.weights.h5")
    fcn = zoo.build("mini_vgg", 9, head="fcn", backbone_weights=classifier)
    for name in ("conv1", "conv5_bn"):
        for mine, theirs in zip(fcn.get_layer(name).weights, classifier.get_layer(name).weights):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # copied bit for bit
    with pytest.raises(ValueError, match="another width or channel count"):
        zoo.build("mini_vgg", 9, head="fcn", backbone_weights=classifier, width=0.5)
    inputs = keras.Input((4,))
    other = keras.Model(inputs, keras.layers.Dense(2, name="fc")(inputs), name="other")
    with pytest.raises(ValueError, match="'other'.* has no layer 'conv1'"):
        zoo.build("mini_vgg", 9, head="fcn", backbone_weights=other)
    with pytest.raises(ValueError, match="pass `head` too"):
        zoo.build("mini_vgg_gap", 9, backbone_weights=classifier)


def test_wsss_recipe_scores_the_network_and_its_pseudo_labels(tmp_path):
    results = wsss.main([*TINY_WSSS, "--out", str(tmp_path)])
    assert list(results) == ["GAP", "HaS"]
    for name, result in results.items():
        check_scores(result)
        assert 0 <= result["pseudo_mean_iou"] <= result["pseudo_best_mean_iou"] <= 1
        assert result["pseudo_best_background"] in wsss.SWEEP + (0.3,)
        classifier = zoo.build("mini_vgg", 8, head="cam", activation="sigmoid")
        classifier.load_weights(tmp_path / name.lower() / "classifier" / "final.weights.h5")
        assert classifier.get_layer("predictions").activation is keras.activations.sigmoid
    picture = cv2.imread(str(tmp_path / "segmentation.png"))
    assert picture.shape[1] == 6 * 132 - 4  # image, truth, 2 pseudo-labels, 2 networks


def fake_wsol_run(folder):
    """The --out folder of a keras-has-wsol run: gap/ and has/ with final weights and config."""
    for variant in ("gap", "has"):
        run = folder / variant
        run.mkdir(parents=True)
        model = zoo.build("mini_vgg_gap", 1000, input_shape=(64, 64, 3), width=0.25)
        model.save_weights(run / "final.weights.h5")
        (run / "config.json").write_text(json.dumps({"model": "mini_vgg_gap", "width": 0.25}))
    return folder


def test_fcn_recipe_on_voc_folders(tmp_path):
    masks = {f"2008_{i:06d}": make_mask([1 + i % 20, 15]) for i in range(6)}
    ids = sorted(masks)
    voc = make_voc(tmp_path / "VOCdevkit" / "VOC2011", masks, {"val": ids})
    sbd = make_sbd(tmp_path / "benchmark_RELEASE" / "dataset", masks, {"train": ids[:4]})
    argv = [
        "--dataset", "voc", "--voc-dir", str(voc.parent), "--sbd-dir", str(sbd.parent.parent),
        "--pretrained", str(fake_wsol_run(tmp_path / "wsol")), "--model", "mini_vgg",
        "--crop", "64", "--seg-epochs", "1", "--seg-batch-size", "2", "--eval-batch-size", "2",
        "--variants", "HaS", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    results = segmentation.main(argv)
    assert "pretrain_top1" not in results["HaS"]  # no pre-training here: --pretrained
    assert len(results["HaS"]["per_class_iou"]) == 21
    # Scored on the 2 VOC2011 val images that SBD train does not hold (seg11valid), on their
    # pixels that are not void: the pixel accuracy is a multiple of 1 / that count.
    scored = sum(np.count_nonzero(masks[i] != 255) for i in ids[4:])
    accuracy = results["HaS"]["pixel_accuracy"] * scored
    assert accuracy == pytest.approx(round(accuracy), abs=1e-9)
    assert not (tmp_path / "run" / "has" / "pretrain").exists()


def no_data(*args, **kwargs):
    pytest.fail("data was read or generated before the flags were checked")


@pytest.mark.parametrize(
    "recipe, argv, message",
    [
        (segmentation, ["--dataset", "voc"], "--voc-dir: --dataset voc needs it"),
        (wsss, ["--dataset", "voc", "--voc-dir", "/no/such"], "--voc-dir: no folder /no/such"),
        (segmentation, ["--crop", "32"], "--crop: must be at least 64"),
        (
            wsss,
            ["--seg-batch-size", "500", "--train-scenes", "100"],
            "--seg-batch-size: 500 is larger than the 100 training scenes",
        ),
        (segmentation, ["--pretrain-images", "10"], "--batch-size: 64 is larger than the 10"),
        (
            wsss,
            [
                "--dataset",
                "voc",
                "--voc-dir",
                ".",
                "--sbd-dir",
                ".",
                "--model",
                "mini_vgg",
                "--backbone-weights",
                "imagenet",
            ],
            "--backbone-weights: only --model vgg16 and resnet50",
        ),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_data(
    recipe, argv, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(type(recipe.RECIPE), "load", no_data)
    line = flag_error(recipe.main, [*argv, "--out", str(tmp_path)], capsys)
    assert line.startswith(f"{recipe.RECIPE.prog}: error: {message}"), line


def test_malformed_values_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exited:
        wsss.RECIPE.parse_args(["--background", "1.5"])
    assert exited.value.code == 2
    assert "error: argument --background: must be in [0, 1]" in capsys.readouterr().err


def test_voc_needs_the_pretrained_classifiers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(segmentation.Segmentation, "load", no_data)
    (tmp_path / "wsol" / "gap").mkdir(parents=True)
    argv = ["--dataset", "voc", "--voc-dir", str(tmp_path), "--sbd-dir", str(tmp_path)]
    line = flag_error(segmentation.main, [*argv, "--pretrained", str(tmp_path / "wsol")], capsys)
    assert "--pretrained: no file" in line and "gap/final.weights.h5" in line, line


def test_wsss_recipe_on_voc_folders(tmp_path):
    """SBD train + val without VOC2012 val's images, pseudo-labels of images of two sizes (one
    at a time), scored on VOC2012 val."""
    masks = {f"2008_{i:06d}": make_mask([1 + i % 3], 10 + 2 * (i % 2), 12) for i in range(8)}
    ids = sorted(masks)
    voc = make_voc(tmp_path / "VOCdevkit" / "VOC2012", masks, {"val": ids[6:]})
    sbd = make_sbd(
        tmp_path / "benchmark_RELEASE" / "dataset", masks, {"train": ids[:5], "val": ids[5:]}
    )
    argv = [
        "--dataset", "voc", "--voc-dir", str(voc.parent), "--sbd-dir", str(sbd.parent.parent),
        "--model", "mini_vgg", "--crop", "64", "--epochs", "1", "--batch-size", "2",
        "--seg-epochs", "1", "--seg-batch-size", "2", "--eval-batch-size", "2",
        "--variants", "HaS", "--has", "16", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    result = wsss.main(argv)["HaS"]
    check_scores(result, 21)
    # 6 training images (SBD train + val without the 2 VOC2012 val ones): pseudo-labels scored on
    # their non-void pixels.
    scored = sum(np.count_nonzero(masks[i] != 255) for i in ids[:6])
    accuracy = result["pseudo_pixel_accuracy"] * scored
    assert accuracy == pytest.approx(round(accuracy), abs=1e-9)

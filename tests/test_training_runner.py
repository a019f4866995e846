"""The declarative recipe runner (keras_has.training.runner) and results tables
(keras_has.training.tables): the example recipe of docs/ end to end, run identity per variant,
units, TensorBoard CAM pictures. Re-evaluating a finished run: tests/test_temporal_recipe.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_has.recipes import temporal, wsol
from keras_has.training import runner
from keras_has.training.tables import Metric, metric_table

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "docs", "examples", "tiny_recipe.py")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    command = [sys.executable, EXAMPLE, "--epochs", "2", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


def test_the_docs_example_recipe_trains_both_variants(example):
    out, stdout = example
    results = json.loads((out / "results.json").read_text())
    assert results["models"] == ["Baseline", "HaS"] and len(results["fill_mean"]) == 3
    for name in ("Baseline", "HaS"):
        assert 0 <= results[name]["accuracy"] <= 1 and np.isfinite(results[name]["loss"])
        assert json.loads((out / name.lower() / "results.json").read_text()) == results[name]
    # Units: a percentage and a loss in one table, each row saying its unit.
    assert "| metric | Baseline | HaS |" in stdout
    base, has = (results[n]["loss"] for n in ("Baseline", "HaS"))
    assert f"| test loss (loss) | {base:.4f} | {has:.4f} |" in stdout
    acc = [100 * results[n]["accuracy"] for n in ("Baseline", "HaS")]
    assert f"| Top-1 accuracy (%) | {acc[0]:.1f} | {acc[1]:.1f} |" in stdout


def test_tensorboard_shows_the_cams_of_a_fixed_batch_every_epoch(example):
    import tensorflow as tf

    out, _ = example
    folder = out / "has" / "logs" / "cams"
    steps, shapes = [], []
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(str(folder / name)):
            for value in event.summary.value:
                if value.tag == "cams":
                    steps.append(event.step)
                    shapes.append(tuple(tf.make_ndarray(value.tensor)[:2]))
    # Two epochs; each summary holds 4 images of 64x64 (width and height are the first values).
    assert sorted(steps) == [1, 2]
    assert all(s == (b"64", b"64") for s in shapes), shapes


def test_a_variant_identity_holds_only_what_it_uses(tmp_path):
    args = temporal.RECIPE.parse_args(["--segment", "50", "--cam-threshold", "0.2"])
    out = str(tmp_path)
    full, has = (runner.Run(v, s, out) for v, s in zip(temporal.RECIPE.variants, (None, [50])))
    base = temporal.RECIPE.identity(args, full)
    hiding = temporal.RECIPE.identity(args, has)
    runtime = {"out", "overwrite", "strategy", "deterministic", "keep_checkpoints", "variants"}
    for config in (base, hiding):
        assert not ({"cam_threshold", "figure_videos", "eval_batch_size"} | runtime) & set(config)
        assert config["epochs"] == args.epochs and config["dataset"] == "builtin"
    assert not {"segment", "hide_prob", "patch_sizes"} & set(base)
    assert (hiding["segment"], hiding["hide_prob"], hiding["patch_sizes"]) == ("50", 0.5, [50])
    # Another --segment changes the HaS run's identity only.
    other = temporal.RECIPE.parse_args(["--segment", "60"])
    assert temporal.RECIPE.identity(other, full) == base
    assert temporal.RECIPE.identity(other, has._replace(patch_sizes=[60])) != hiding


def test_a_flag_only_one_variant_uses_is_in_its_identity_alone(tmp_path):
    class TwoVariants(runner.Recipe):
        prog = "two"
        variants = (runner.Variant("Base"), runner.Variant("Erasing", flags=("erase_prob",)))

        def add_flags(self, parser, defaults, known):
            parser.add_argument("--erase-prob", type=float, default=0.5)
            parser.add_argument("--crop", type=int, default=32)

    recipe = TwoVariants()
    args = recipe.parse_args(["--erase-prob", "0.3"])
    base, erasing = (recipe.identity(args, runner.Run(v, None, "x")) for v in recipe.variants)
    assert "erase_prob" not in base and erasing["erase_prob"] == 0.3
    assert "has" not in erasing and base["crop"] == erasing["crop"] == 32


@pytest.mark.parametrize("bad", ["nope", "GAP,nope", ",", ""])
def test_unknown_variants_are_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        wsol.RECIPE.parse_args(["--variants", bad])
    assert exited.value.code == 2
    assert "--variants: expected names of GAP, HaS separated by commas" in capsys.readouterr().err


def test_metric_table_formats_each_unit():
    results = {"A": {"acc": 0.91234, "mae": 5.4321, "n": 3.0}, "B": {"acc": 0.5}}
    percent = metric_table(results, [("acc", "accuracy")])
    assert percent.splitlines() == [
        "| metric (%) | A | B |",
        "|---|---:|---:|",
        "| accuracy | 91.2 | 50.0 |",
    ]
    rows = [Metric("acc", "accuracy"), Metric("mae", "age MAE", "years"), Metric("n", "n", "count")]
    assert metric_table(results, rows).splitlines()[2:] == [
        "| accuracy (%) | 91.2 | 50.0 |",
        "| age MAE (years) | 5.43 | nan |",
        "| n (count) | 3.0 | nan |",
    ]
    assert metric_table(results, [Metric("other", "absent")]).count("\n") == 1  # header only
    nested = {"A": {"curve": {"0.1": 0.25}}, "B": {"curve": {}}}
    assert metric_table(nested, [Metric("curve/0.1", "at 0.1")]).splitlines()[2] == (
        "| at 0.1 | 25.0 | nan |"
    )
    with pytest.raises(ValueError, match="unit of 'acc' must be one of"):
        metric_table(results, [Metric("acc", "accuracy", "furlongs")])

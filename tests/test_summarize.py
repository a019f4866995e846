"""recipes/summarize.py: mean, spread and paired difference over runs."""

import json

import pytest

from keras_has.recipes import summarize


def write(folder, gap, has, threshold):
    folder.mkdir()
    results = {
        "dataset_mean": [1.0, 2.0, 3.0],
        "GAP": {
            "gt_known_loc": gap,
            "maxboxacc_threshold": threshold,
            "note": "x",
            "curve": {"0.1": gap, "0.5": threshold, "label": "x"},
        },
        "HaS": {"gt_known_loc": has, "maxboxacc_threshold": threshold},
    }
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


def test_mean_spread_and_paired_difference(tmp_path):
    runs = [
        write(tmp_path / "a", 0.40, 0.70, 0.3),
        write(tmp_path / "b", 0.42, 0.80, 0.4),
        write(tmp_path / "c", 0.44, 0.60, 0.5),
    ]
    table = summarize.load(runs)
    assert table["GAP"]["gt_known_loc"] == [0.40, 0.42, 0.44]
    assert "note" not in table["GAP"] and "curve/label" not in table["GAP"]  # only numbers
    assert table["GAP"]["curve/0.5"] == [0.3, 0.4, 0.5]  # a curve: one row per point
    mean, sd, low, high = summarize.spread(table["HaS"]["gt_known_loc"])
    # float64 host arithmetic on three decimals (not exact in binary): 1e-12 absolute.
    assert (mean, low, high) == pytest.approx((0.70, 0.60, 0.80), abs=1e-12)
    assert sd == pytest.approx(0.1, abs=1e-12)  # sample standard deviation
    lines = summarize.summary(table).splitlines()
    assert lines[0] == "| metric | GAP | HaS | HaS - GAP |"
    # Fractions in percent; the difference is per run: 30, 38, 16 -> 28 ± 11.1.
    assert lines[2] == (
        "| gt_known_loc (%) | 42.0 ± 2.0 (40.0..44.0) | 70.0 ± 10.0 (60.0..80.0) "
        "| 28.0 ± 11.1 (16.0..38.0) |"
    )
    assert lines[3].startswith("| maxboxacc_threshold | 0.40 ± 0.10 (0.30..0.50) |")


def error_line(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        summarize.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_unreadable_runs_are_one_line_errors_naming_them(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert error_line([str(missing)], capsys).startswith(
        f"python -m keras_has.recipes.summarize: error: runs: cannot read {missing}: "
    )
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.json").write_text("{}")
    assert error_line([str(tmp_path / "empty")], capsys) == (
        "python -m keras_has.recipes.summarize: error: runs: "
        f"{tmp_path / 'empty' / 'results.json'} holds no model results (dicts of metrics)"
    )


def test_the_recipes_model_order_puts_the_baseline_first(tmp_path):
    # JSON files keep keys sorted ("Video-HaS" < "Video-full"); "models" keeps the recipe's order.
    results = {
        "models": ["Video-full", "Video-HaS"],
        "Video-HaS": {"m": 0.5},
        "Video-full": {"m": 0.2},
    }
    (tmp_path / "results.json").write_text(json.dumps(results, sort_keys=True))
    table = summarize.load([str(tmp_path)])
    assert list(table) == ["Video-full", "Video-HaS"]
    assert summarize.summary(table).splitlines()[0].endswith("| Video-HaS - Video-full |")

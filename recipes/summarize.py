"""Mean and seed-to-seed spread of several runs of a recipe.

    python -m keras_has.recipes.summarize runs/wsol runs/wsol-seed1 runs/wsol-seed2

Reads each run's results.json (one entry per model, e.g. "GAP" and "HaS",
each a dict of metrics, in the order of its "models" list if it has one; a metric that is a
dict of numbers, a curve, gives one row per point, "name/point") and prints, for every metric the runs share, each
model's mean and sample standard deviation over the runs with its range, and
the paired difference of the last model minus the first (per run, then mean
and spread): a gain counts when it is larger than its spread. Fractions are
printed as percentages.
"""

import argparse
import json
import os
import statistics
import sys

from keras_has.training import flags

PROG = "python -m keras_has.recipes.summarize"


def load(paths):
    """{model: {metric: [value per run]}} from the runs' results.json files."""
    table = {}
    for path in paths:
        file = os.path.join(path, "results.json") if os.path.isdir(path) else path
        try:
            with open(file) as f:
                results = json.load(f)
        except (OSError, ValueError) as e:
            raise flags.FlagError("runs", f"cannot read {file}: {e}") from e
        models = {k: v for k, v in results.items() if isinstance(v, dict)}
        order = results.get("models", sorted(models))  # the recipe's order: baseline first
        models = {k: models[k] for k in order if k in models}
        if not models:
            raise flags.FlagError("runs", f"{file} holds no model results (dicts of metrics)")
        for model, metrics in models.items():
            for key, value in _flat(metrics):
                table.setdefault(model, {}).setdefault(key, []).append(value)
    runs = len(paths)
    return {
        model: {k: v for k, v in metrics.items() if len(v) == runs}
        for model, metrics in table.items()
    }


def _flat(metrics):
    """(key, number) pairs of a model's metrics; a dict of numbers (a curve, e.g.
    {"0.1": ..., "0.2": ...}) gives keys "name/0.1", ..."""
    for key, value in metrics.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                yield (key if sub is None else f"{key}/{sub}"), float(v)


def spread(values):
    """(mean, sample standard deviation (0 for one value), min, max)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), sd, min(values), max(values)


def _cell(values, percent):
    scale, digits = (100, 1) if percent else (1, 2)
    mean, sd, low, high = (scale * v for v in spread(values))
    return f"{mean:.{digits}f} ± {sd:.{digits}f} ({low:.{digits}f}..{high:.{digits}f})"


def summary(table, keys=None):
    """A Markdown table: metric rows, model columns (mean ± sd (min..max)), then the difference."""
    models = list(table)
    shared = [k for k in table[models[0]] if all(k in table[m] for m in models)]
    keys = [k for k in (keys or shared) if k in shared]
    with_difference = len(models) > 1
    header = ["metric", *models] + ([f"{models[-1]} - {models[0]}"] if with_difference else [])
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for key in keys:
        values = [table[m][key] for m in models]
        percent = all(0 <= v <= 1 for column in values for v in column) and "threshold" not in key
        cells = [_cell(column, percent) for column in values]
        if with_difference:
            cells.append(_cell([b - a for a, b in zip(values[0], values[-1])], percent))
        name = f"{key} (%)" if percent else key
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@flags.cli(PROG)
def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=flags.HelpFormatter
    )
    parser.add_argument("runs", nargs="+", help="Run folders (or their results.json files).")
    parser.add_argument(
        "--metrics",
        default=None,
        help="Comma-separated metric keys to show, in order. (default: all the runs share)",
    )
    args = parser.parse_args(argv)
    table = load(args.runs)
    keys = args.metrics.split(",") if args.metrics else None
    print(f"{len(args.runs)} runs: mean ± sample sd (min..max)")
    print(summary(table, keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Results tables whose values carry their unit. No TensorFlow."""

import math
from typing import NamedTuple

# unit -> how one value is written: fractions as percentages, the rest as they are.
UNITS = {
    "%": lambda v: f"{100 * v:.1f}",
    "years": lambda v: f"{v:.2f}",
    "loss": lambda v: f"{v:.4f}",
    "count": lambda v: f"{v:.1f}",
    "fraction": lambda v: f"{v:.3f}",
}


class Metric(NamedTuple):
    """A results row: the results key, its label, and its unit (a key of `UNITS`): "%" for a
    fraction shown as a percentage, "years" for a mean absolute error in years, "loss",
    "count" (a mean count), "fraction" (shown as it is)."""

    key: str
    label: str
    unit: str = "%"


def metric_table(results, metrics):
    """A Markdown table of `results` {method: {key: value}}: one row per `Metric` (or
    (key, label) pair, a percentage) that some method has, one column per method.

    When every row is a percentage the header says so once ("metric (%)"); otherwise each
    label carries its unit. A key "a/b" is the entry b of the dict results[method]["a"]. A
    missing value is "nan".
    """
    metrics = [Metric(*m) for m in metrics]
    for m in metrics:
        if m.unit not in UNITS:
            raise ValueError(f"unit of {m.key!r} must be one of {sorted(UNITS)}, got {m.unit!r}")
    names = list(results)
    rows = [m for m in metrics if any(_value(results[n], m.key) is not None for n in names)]
    one_unit = all(m.unit == "%" for m in rows)
    lines = [
        f"| metric{' (%)' if one_unit else ''} | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for m in rows:
        values = [_value(results[n], m.key, math.nan) for n in names]
        label = m.label if one_unit else f"{m.label} ({m.unit})"
        lines.append(f"| {label} | " + " | ".join(UNITS[m.unit](v) for v in values) + " |")
    return "\n".join(lines)


def _value(results, key, missing=None):
    """results[key], or for "a/b" results["a"]["b"]; `missing` if absent."""
    for part in key.split("/"):
        if not isinstance(results, dict) or part not in results:
            return missing
        results = results[part]
    return results

"""A run's files: atomic writes, the run's identity (config.json), results, the CSV log.

Every file is written to a temporary name in its folder and renamed, so a kill never leaves half
a file. Functions that write take `strategy`: only the chief process writes.
"""

import csv
import io
import json
import math
import os
import shutil

import numpy as np

from keras_has import _keras_private
from keras_has.training.flags import RUNTIME_FLAGS, FlagError
from keras_has.training.strategies import is_chief

CONFIG_FILE = "config.json"

FINAL_WEIGHTS = "final.weights.h5"

RESULTS_FILE = "results.json"

CSV_LOG = "log.csv"

BACKUP_DIR = "backup"

CHECKPOINT_DIR = "checkpoints"

LOG_DIR = "logs"

TMP_PREFIX = ".tmp-"


class RunConfigError(FlagError):
    """`--out` holds a run with different flags."""

    def __init__(self, message):
        super().__init__("--out", message)


def run_config(args, ignore=()):
    """The run's identity: its flags as a JSON-ready dict, without `RUNTIME_FLAGS` and `ignore`."""
    skip = RUNTIME_FLAGS | set(ignore)
    config = {k: v for k, v in sorted(vars(args).items()) if k not in skip}
    return json.loads(json.dumps(config, default=str))


def _fsync(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic(path, write):
    """Writes `path` by `write(tmp)` to a temporary name in the same folder, then a rename."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{name}")  # keeps the suffix
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync(folder)
    return path


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    return atomic(path, write)


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _to_json(value.tolist())
    if hasattr(value, "numpy"):  # a tensor
        return _to_json(value.numpy())
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"results: cannot write {type(value).__name__} {value!r} as JSON")


def read_json(path):
    """The JSON value in `path`, or None if there is no such file."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_json(path, value, strategy=None):
    """Writes `value` (numbers, NumPy values, lists, nested dicts) as JSON to `path`.

    Atomic, chief only (other workers write nothing). Returns the path, or None off the chief.
    """
    if not is_chief(strategy):
        return None
    return write_text(path, json.dumps(_to_json(value), indent=2, sort_keys=True) + "\n")


def stored_mean(path, key, compute):
    """A data set's mean, computed once: the array kept in `path` under `key`, else
    `compute()`, written there (by the chief) with its key. Returns a NumPy array."""
    stored = read_json(path)
    if stored is not None and stored["key"] == key:
        return np.array(stored["mean"])
    mean = np.asarray(compute())
    write_json(path, {"key": key, "mean": mean})
    return mean


def save_model_weights(model, path):
    """The model's weights without the optimizer state (what the zoo's builders load)."""
    _keras_private.save_weights_only(model, path)


def load_model_weights(model, path):
    """Loads weights written by `save_model_weights` (the optimizer is left as it is)."""
    _keras_private.load_weights_only(model, path)


def write_results(out_dir, results, strategy=None):
    """`write_json` of `results` to out_dir/results.json."""
    return write_json(os.path.join(out_dir, RESULTS_FILE), results, strategy)


def remove_stale_tmp(*folders):
    for folder in folders:
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if name.startswith(TMP_PREFIX):
                    os.remove(os.path.join(folder, name))


def config_differences(stored, config):
    lines = []
    for key in sorted(set(stored) | set(config)):
        flag = "--" + key.replace("_", "-")
        if key not in stored:
            lines.append(f"  {flag}: not in the stored run, {config[key]!r} now")
        elif key not in config:
            lines.append(f"  {flag}: {stored[key]!r} in the stored run, absent now")
        elif stored[key] != config[key]:
            lines.append(f"  {flag}: {stored[key]!r} in the stored run, {config[key]!r} now")
    return lines


def delete_run(out):
    """Deletes the run's files in `out` (only those): final and backup first, config last."""
    for name in (FINAL_WEIGHTS, RESULTS_FILE, CSV_LOG):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    for name in (BACKUP_DIR, CHECKPOINT_DIR, LOG_DIR):
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    if os.path.exists(os.path.join(out, CONFIG_FILE)):
        os.remove(os.path.join(out, CONFIG_FILE))


def read_csv_rows(path):
    """Complete rows of a CSV log (a row cut by a kill, or unparsable, is dropped)."""
    if not os.path.exists(path):
        return None, []
    with open(path, newline="") as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]  # cut by a kill
    reader = csv.reader(lines)
    header = next(reader, None)
    rows = []
    for values in reader:
        if header and len(values) == len(header):
            try:
                row = {
                    k: int(v) if k == "epoch" else float(v) if v else math.nan
                    for k, v in zip(header, values)
                }
            except ValueError:
                continue
            rows.append(row)
    return header, rows


def format_csv(header, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return buffer.getvalue()

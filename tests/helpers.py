"""Oracles for Hide-and-Seek outputs, independent of the library's code; a process killer;
THUMOS14-style files."""

import json
import math
import signal
import subprocess
import sys
import time

import numpy as np


def hidden_map(out, x, fill, channel_axis=-1):
    """Per-position hidden map (batch, *spatial) of an output.

    Asserts that every position is either untouched in all channels or equal
    to the fill in all channels. `x` must never equal `fill` anywhere.
    """
    out = np.moveaxis(np.asarray(out), channel_axis, -1)
    x = np.moveaxis(np.asarray(x), channel_axis, -1)
    assert out.shape == x.shape and out.dtype == x.dtype
    fill = np.broadcast_to(np.asarray(fill, out.dtype), out.shape[-1:])
    assert not np.any(np.all(x == fill, axis=-1)), "test input equals fill"
    is_fill = np.all(out == fill, axis=-1)
    untouched = np.all(out == x, axis=-1)
    bad = ~(is_fill | untouched)
    assert not bad.any(), f"{bad.sum()} positions neither untouched nor fill"
    return is_fill


def cell_lengths(size, lengths):
    """Per-axis cell lengths of one `patch_size` entry (0: no hiding)."""
    if size == 0:
        return None
    if isinstance(size, float) and size < 1:
        return tuple(max(1, math.floor(size * n + 0.5)) for n in lengths)
    return (int(size),) * len(lengths)


def constant_on_cells(hidden, cells):
    """True if a single image's map is constant on each cell of the grid."""
    origins = [(np.arange(n) // c) * c for n, c in zip(hidden.shape, cells)]
    return np.array_equal(hidden, hidden[np.ix_(*origins)])


def cell_values(hidden, cells):
    """The hidden flag of each cell (grid origin values) of one image."""
    return hidden[np.ix_(*[np.arange(0, n, c) for n, c in zip(hidden.shape, cells)])]


def chosen_option(hidden, options):
    """Index of the `patch_size` option an image's pattern was drawn with.

    The coarsest grid the pattern is constant on (a finer grid's random
    pattern is almost never constant on a coarser one); 0-size if nothing is
    hidden. Returns None if no option fits.
    """
    fits = []
    for i, size in enumerate(options):
        cells = cell_lengths(size, hidden.shape)
        if cells is None:
            if not hidden.any():
                fits.append((math.inf, i))
        elif constant_on_cells(hidden, cells):
            fits.append((math.prod(cells), i))
    return max(fits)[1] if fits else None


def run_module(module, *args, timeout=600):
    """`python -m module args...`; asserts it exits 0 and returns its stdout."""
    command = [sys.executable, "-m", module, *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def kill_after_backup(command, metadata, epoch, timeout, env=None):
    """Runs `command`, SIGKILLs it once `metadata` (a backup's training_metadata.json) records
    `epoch` or later, and returns the epoch the backup then holds. Fails if the process ends
    first or nothing is backed up within `timeout` seconds.
    """
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert process.poll() is None, process.stdout.read()[-3000:]
            assert time.monotonic() < deadline, f"no backup of epoch {epoch} in {timeout} s"
            try:
                if json.loads(metadata.read_text())["epoch"] >= epoch:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
    return json.loads(metadata.read_text())["epoch"]


def kill_and_rerun(module, args, model_dir, after_kill=None):
    """Runs `python -m module args...`, SIGKILLs it once `model_dir` has backed up epoch 1
    (before the model finished), calls `after_kill()` if given, then runs the same command to
    the end; returns its stdout."""
    command = [sys.executable, "-m", module, *map(str, args)]
    assert kill_after_backup(command, model_dir / "backup" / "training_metadata.json", 1, 300) == 1
    assert not (model_dir / "final.weights.h5").exists()
    if after_kill is not None:
        after_kill()
    return run_module(module, *args)


def write_thumos(folder, count=6, dim=8, corrupt=()):
    """Feature files and annotation files the way THUMOS14 lays them out."""
    features, annotations = folder / "features", folder / "annotations"
    features.mkdir()
    annotations.mkdir()
    rng = np.random.default_rng(0)
    lines = {"HighJump": [], "Diving": [], "Ambiguous": []}
    for i in range(count):
        name = f"video_validation_{i:07d}"
        array = rng.normal(size=(100 + 50 * i, dim)).astype(np.float32)
        np.save(features / f"{name}.npy", array)
        cls = "HighJump" if i % 2 else "Diving"
        lines[cls].append(f"{name} {1.5 + i:.1f} {4.0 + i:.1f}")
        lines[cls].append(f"{name}  {6.0:.1f}  {7.5:.1f}")
        lines["Ambiguous"].append(f"{name} 0.0 1.0")
    for name in corrupt:
        (features / f"{name}.npy").write_bytes(b"\x93NUMPY garbage")
    for cls, rows in lines.items():
        (annotations / f"{cls}_val.txt").write_text("\n".join(rows) + "\n")
    return features, annotations

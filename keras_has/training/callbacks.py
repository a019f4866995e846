"""The training loop's callbacks: the backup a killed run resumes from, epoch checkpoints, the
CSV log, one line per epoch, and CAM pictures in TensorBoard."""

import json
import math
import os
import shutil
import time

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import keras
import numpy as np
import tensorflow as tf

from keras_has.training import run_files
from keras_has.training.run_files import TMP_PREFIX, atomic, read_json, write_text


class Backup(keras.callbacks.Callback):
    """The last finished epoch's model and optimizer state, surviving a kill at any instant.

    After epoch e the weights go to `epoch_XXX.weights.h5` (temporary name + rename), then
    `training_metadata.json` (same) names that file; older files are removed after. A kill
    between the two leaves the previous, matching pair. `on_train_begin` restores from
    `read_dir` (the chief's backup); saves go to `write_dir` (a worker's temporary folder off
    the chief). Not deleted at the end of `fit`: the loop deletes it after the final weights.
    """

    METADATA = "training_metadata.json"

    def __init__(self, read_dir, write_dir):
        super().__init__()
        self.read_dir, self.write_dir = read_dir, write_dir

    def saved(self):
        """The restorable state's metadata {"epoch": epochs done, "weights": file}, or None."""
        meta = read_json(os.path.join(self.read_dir, self.METADATA))
        if meta and os.path.exists(os.path.join(self.read_dir, meta.get("weights", ""))):
            return meta
        return None

    def saved_epoch(self):
        meta = self.saved()
        return int(meta["epoch"]) if meta else 0

    def restore(self):
        """Loads the saved state into the model (optimizer built first), if there is one."""
        meta = self.saved()
        if meta is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.read_dir, meta["weights"]))

    def on_train_begin(self, logs=None):
        self.restore()

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch_{epoch + 1:03d}.weights.h5"
        atomic(os.path.join(self.write_dir, name), self.model.save_weights)
        meta = json.dumps({"epoch": epoch + 1, "batch": 0, "weights": name})
        write_text(os.path.join(self.write_dir, self.METADATA), meta)
        for old in os.listdir(self.write_dir):
            if old.endswith(".weights.h5") and old != name and not old.startswith(TMP_PREFIX):
                os.remove(os.path.join(self.write_dir, old))

    def delete(self):
        shutil.rmtree(self.write_dir, ignore_errors=True)


class EpochCheckpoints(keras.callbacks.Callback):
    """checkpoints/epoch_XXX.weights.h5 after every epoch (model only), atomically.

    Keeps the last `keep` epochs' files and the best epoch's: the lowest `monitor` among the
    epochs logged in `log` (a `CSVLog`, so a resumed run knows the earlier epochs) and this
    one. keep=0 keeps all. `temporary`: a worker off the chief, whose files go at once.
    """

    def __init__(self, folder, keep, temporary, monitor, log):
        super().__init__()
        self.folder, self.keep, self.temporary = folder, keep, temporary
        self.monitor, self.log = monitor, log

    def on_epoch_end(self, epoch, logs=None):
        path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.weights.h5")
        atomic(path, lambda tmp: run_files.save_model_weights(self.model, tmp))
        if self.temporary:  # a worker off the chief: the save ran, the file goes
            os.remove(path)
            return
        if not self.keep:
            return
        values = {row["epoch"]: row.get(self.monitor, math.nan) for row in self.log.rows}
        values[epoch + 1] = float((logs or {}).get(self.monitor, math.nan))
        scored = [(v, e) for e, v in values.items() if not math.isnan(v)]
        epochs = {
            int(n[len("epoch_") :].split(".")[0]): n
            for n in os.listdir(self.folder)
            if n.startswith("epoch_")
        }
        kept = set(sorted(epochs)[-self.keep :]) | ({min(scored)[1]} if scored else set())
        for e, name in epochs.items():
            if e not in kept:
                os.remove(os.path.join(self.folder, name))


class CSVLog(keras.callbacks.Callback):
    """log.csv: one row per finished epoch (1-based), kept across resumes, no epoch twice.

    At the start it keeps the rows of the epochs the backup holds (1..initial_epoch) and drops
    later ones (an epoch logged but not backed up before a kill runs again) and a row cut by a
    kill. `path=None`: rows kept in memory only (workers off the chief).
    """

    def __init__(self, path, initial_epoch):
        super().__init__()
        self.path, self.initial_epoch = path, initial_epoch
        self.header, self.rows = None, []

    def on_train_begin(self, logs=None):
        if self.path is None:
            return
        header, rows = run_files.read_csv_rows(self.path)
        self.header = header
        self.rows = [r for r in rows if 1 <= r["epoch"] <= self.initial_epoch]
        if header:
            write_text(self.path, run_files.format_csv(header, self.rows))

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0})
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row["seconds"] = round(time.perf_counter() - self._start, 3)
        self.rows.append(row)
        if self.path is None:
            return
        new_keys = [k for k in row if k not in (self.header or [])]
        if new_keys:  # first row, or a column that was not there (validation_freq > 1)
            self.header = [*(self.header or []), *new_keys]
            write_text(self.path, run_files.format_csv(self.header, self.rows))
            return
        line = run_files.format_csv(self.header, [row]).split("\n", 1)[1]
        with open(self.path, "a", newline="") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class Announce(keras.callbacks.Callback):
    """One line per finished epoch: its metrics and seconds."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items() if np.ndim(v) == 0)
        seconds = time.perf_counter() - self._start
        print(f"epoch {epoch + 1}/{self.epochs} done: {shown} ({seconds:.1f} s)", flush=True)


class CAMImages(keras.callbacks.Callback):
    """TensorBoard pictures after every epoch: the CAMs of a fixed batch for its true classes,
    blended over the images (2-D CAMs) or as one strip per sequence over time (1-D CAMs), so
    one watches the CAM spread over the object as training goes. Under `log_dir`/cams.

    Args:
        inputs: the model's input batch (B, ...).
        class_ids: (B,) int, the class of each example's CAM.
        pixels: (B, H, W, 3) uint8 images to draw on (2-D CAMs), or None (1-D CAMs).
    """

    STRIP = 24  # rows of a 1-D CAM's strip

    def __init__(self, log_dir, inputs, class_ids, pixels=None):
        super().__init__()
        self.log_dir, self.inputs, self.pixels = log_dir, inputs, pixels
        self.class_ids = np.asarray(class_ids, np.int32).reshape(-1, 1)

    def on_train_begin(self, logs=None):
        from keras_has.cam import CAMModel

        self.cams = CAMModel(self.model, classes="given")
        self.writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "cams"))

    def on_epoch_end(self, epoch, logs=None):
        from keras_has import viz

        maps = keras.ops.convert_to_numpy(self.cams(self.inputs, class_ids=self.class_ids)["cams"])
        maps = maps[..., 0]
        if self.pixels is not None:
            pictures = np.stack([viz.overlay(p, m) for p, m in zip(self.pixels, maps)])
        else:
            pictures = np.concatenate(
                [np.repeat(viz.heatmap(m[None]), self.STRIP, 0) for m in maps]
            )
            pictures = pictures[None]
        with self.writer.as_default():
            tf.summary.image("cams", pictures, step=epoch + 1, max_outputs=len(pictures))
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()

"""The one training harness under the recipes: strategy, training, resuming, results.

Its flags are in `recipes._flags` (which imports no TensorFlow: parse first, then import this).
A recipe is a thin script on top of both:

    parser = argparse.ArgumentParser(description=__doc__)
    flags.add_training_flags(parser, {"epochs": 30, "batch_size": 64, "lr": 0.01, "lr_end": 1e-4})
    parser.add_argument("--classes", type=int, default=16)   # the recipe's own flags
    args = parser.parse_args()
    from recipes import _harness as harness
    strategy = harness.setup(args)   # FIRST: before any other TensorFlow op (multiworker needs it)

    base = tf.data.Dataset.from_tensor_slices((images, labels))
    def train_epoch(epoch):          # one epoch, batched with the GLOBAL batch
        return base.shuffle(len(images), seed=args.seed * 1000 + epoch).batch(args.batch_size)

    model, history = harness.train(lambda: zoo.alexnet_gap(16), train_epoch, args, val_data=val)
    harness.write_results(args.out, {"top1_loc": ...})

What `train` does, in `--out`:

    config.json                   the run's flags; a different run in the same --out is refused
    backup/                       the last finished epoch's model + optimizer state (BackupAndRestore)
    checkpoints/epoch_XXX.weights.h5   model weights after each epoch (XXX counts from 1): the
                                  last --keep-checkpoints and the best (lowest val_loss, or
                                  loss without validation data)
    logs/                         TensorBoard (when the tensorboard package is installed)
    log.csv                       one row per finished epoch, kept across resumes, never twice
    final.weights.h5              the trained model's weights; once there, the run is finished
    results.json                  what the recipe passes to `write_results`

Resuming. Start a killed run again with the same command: it restores the backup (weights,
optimizer state, step counter, so the learning rate continues) and continues with the next epoch.
Every file is written to a temporary name and renamed, so a kill never leaves half a file. A
finished run (final weights there, same flags) is loaded and returned, not trained again. With
`train_data` given as a function of the epoch (above), a resumed run sees exactly the batches an
uninterrupted run sees, so its result is the same; a plain `tf.data.Dataset` starts its iteration
(and its shuffle order) afresh after a resume.

Batches under strategies. `--batch-size` is the GLOBAL batch: datasets are batched with it, and
Keras's `fit` passes them to `strategy.experimental_distribute_dataset`, which splits each global
batch into per-replica batches of `batch_size / replicas` (the harness refuses a batch that does
not split evenly). With MultiWorkerMirroredStrategy every worker runs the same input pipeline and
tf.data shards it by the dataset's `options().experimental_distribute.auto_shard_policy`: AUTO
(the default) shards by FILE when the pipeline reads files (each worker reads its own files:
cheap, but batches differ from a one-process run) and otherwise by DATA (each worker runs the
whole pipeline and keeps its part of every global batch, so the global batches equal a
one-process run's). Set DATA or FILE explicitly to choose. With several workers only the chief
writes into `--out`; the other workers run the same saves (a save may need collectives) into
`--out/.worker-<id>/`, which they delete, and read the chief's backup and config when they
resume: `--out` must be on a file system that every worker sees.

Keras 3.15 and MultiWorkerMirroredStrategy: `fit` fails with several workers (keras-team/keras
#20585): it reduces a distributed batch with `strategy.reduce` before training, and it reduces the
scalar metric values with `axis=0`. The harness builds the model from the dataset's element spec
instead (for every strategy, which also keeps `fit` from pulling a batch through an extra
iterator) and, with several workers, averages the metric values over the replicas with
`axis=None`. Both patches are in this file (`_build_from_specs`, `_patch_keras_multiworker`).
"""

import csv
import glob
import importlib.util
import io
import json
import math
import os
import shutil
import time
import zlib

import keras_has  # noqa: F401  first: it imports Keras (and TensorFlow) quietly

# isort: split
import keras
import numpy as np
import tensorflow as tf

from recipes._flags import (
    PRECISIONS,
    RUNTIME_FLAGS,
    SCHEDULES,
    STRATEGIES,
    FlagError,
    check_flags,
)

CONFIG_FILE = "config.json"
FINAL_WEIGHTS = "final.weights.h5"
RESULTS_FILE = "results.json"
CSV_LOG = "log.csv"
BACKUP_DIR = "backup"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
_TMP_PREFIX = ".tmp-"
# Variables without weight decay (as the Caffe models' decay_mult 0): biases, batch-norm scale/shift.
NO_DECAY = r"(^|/)(bias|gamma|beta)(:\d+)?$"


class RunConfigError(FlagError):
    """`--out` holds a run with different flags."""

    def __init__(self, message):
        super().__init__("--out", message)


# ---------------------------------------------------------------------------------------------
# Run identity


def run_config(args, ignore=()):
    """The run's identity: its flags as a JSON-ready dict, without `RUNTIME_FLAGS` and `ignore`."""
    skip = RUNTIME_FLAGS | set(ignore)
    config = {k: v for k, v in sorted(vars(args).items()) if k not in skip}
    return json.loads(json.dumps(config, default=str))


# ---------------------------------------------------------------------------------------------
# Strategy


class _State:
    strategy = None
    args = None


def _tf_config():
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {text[:200]}") from None
    fields = config if isinstance(config, dict) else {}
    cluster, task = (fields.get(k) for k in ("cluster", "task"))
    if not all(isinstance(v, dict) for v in (cluster, task)):
        raise ValueError(
            'TF_CONFIG needs "cluster" and "task", e.g. {"cluster": {"worker": ["host1:port", '
            f'"host2:port"]}}, "task": {{"type": "worker", "index": 0}}}}; got {text[:200]}'
        )
    if task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise ValueError(f"TF_CONFIG's task {task} is not a task of its cluster {cluster}")
    return config


def _cluster_size(config):
    if config is None:
        return 0
    return sum(len(v) for k, v in config["cluster"].items() if k in ("chief", "worker"))


def _tpu_resolver(required):
    """A TPUClusterResolver that resolves, or None (`required`: raise instead, saying why)."""
    resolver_cls = tf.distribute.cluster_resolver.TPUClusterResolver
    try:
        return resolver_cls()  # TPU_NAME, Colab, GCE metadata
    except (ValueError, RuntimeError) as e:
        reason = str(e)
    # A Cloud TPU VM: the chips are local (/dev/accel*, or TPU_ACCELERATOR_TYPE in newer images).
    if glob.glob("/dev/accel*") or os.environ.get("TPU_ACCELERATOR_TYPE"):
        return resolver_cls(tpu="local")
    if required:
        raise RuntimeError(
            f"--strategy tpu: no TPU found: TPUClusterResolver() could not resolve ({reason}) and "
            "this machine has no local TPU (/dev/accel*, TPU_ACCELERATOR_TYPE). Set TPU_NAME, or use "
            "--strategy auto, default or mirrored."
        )
    return None


def _tpu_strategy(resolver):
    try:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (tf.errors.OpError, ValueError, RuntimeError) as e:
        raise RuntimeError(f"a TPU resolved ({resolver.master()!r}) but did not start: {e}") from e
    return tf.distribute.TPUStrategy(resolver)


def _multiworker_strategy(config):
    if config is None:
        raise ValueError(
            "--strategy multiworker needs TF_CONFIG naming the cluster and this process's task, "
            'e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (index 1 on the second host)'
        )
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
        if "startup" in str(e):
            raise RuntimeError(
                "make_strategy('multiworker') must run before any other TensorFlow op (it "
                "configures collective ops when the runtime starts): call harness.setup(args) "
                f"first in the recipe, before making datasets or models ({e})"
            ) from e
        raise
    _patch_keras_multiworker()
    return strategy


def make_strategy(name="auto"):
    """The tf.distribute strategy called `name` (one of `STRATEGIES`).

    auto: TF_CONFIG naming several workers -> multiworker; a TPU that a TPUClusterResolver
    resolves -> TPUStrategy; several GPUs -> MirroredStrategy; else the default strategy.
    default: one device. mirrored: MirroredStrategy over all GPUs, or over all logical CPU
    devices when there is no GPU (one replica unless the process split its CPU into logical
    devices). multiworker: MultiWorkerMirroredStrategy from TF_CONFIG. tpu: TPUStrategy.

    Multiworker (and so auto with TF_CONFIG) must be made before any other TensorFlow op in the
    process: `setup(args)` calls this; call it first.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return _multiworker_strategy(_tf_config())
    if name == "tpu":
        return _tpu_strategy(_tpu_resolver(required=True))
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    # auto
    config = _tf_config()
    if _cluster_size(config) > 1:
        return _multiworker_strategy(config)
    resolver = _tpu_resolver(required=False)
    if resolver is not None:
        return _tpu_strategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def _current_strategy(strategy=None):
    return strategy or _State.strategy or tf.distribute.get_strategy()


def _multiworker(strategy):
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def is_chief(strategy=None):
    """True in the process that writes the run's files (always, unless multi-worker)."""
    return bool(getattr(_current_strategy(strategy).extended, "should_checkpoint", True))


def _task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0) or 0


def setup(args):
    """Call first in a recipe, before any other TensorFlow op. Returns the strategy.

    Checks the flags, makes the strategy (`--strategy`), seeds everything (`--seed`), enables op
    determinism (`--deterministic`), sets the global mixed-precision policy
    (`--mixed-precision`, before any model is built; the zoo keeps its softmax in float32), and
    checks that the global batch splits evenly over the replicas.
    """
    check_flags(args)
    strategy = make_strategy(args.strategy)
    keras.utils.set_random_seed(args.seed)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(PRECISIONS[args.mixed_precision])
    replicas = strategy.num_replicas_in_sync
    if args.batch_size % replicas:
        raise FlagError(
            "--batch-size",
            f"{args.batch_size} (the global batch) does not split evenly over {replicas} "
            f"replicas; use a multiple of {replicas}",
        )
    _State.strategy, _State.args = strategy, args
    if is_chief(strategy):
        print(
            f"strategy: {type(strategy).__name__}, {replicas} replica(s), global batch "
            f"{args.batch_size} = {args.batch_size // replicas} per replica; precision "
            f"{PRECISIONS[args.mixed_precision]}; XLA {'on' if args.xla else 'off'}",
            flush=True,
        )
    return strategy


# ---------------------------------------------------------------------------------------------
# Learning rate


@keras.saving.register_keras_serializable(package="keras_has")
class LRSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """From `lr` at step 0 to `lr_end` at step `total_steps - 1`, then `lr_end`; never rising.

    kind: exponential (lr * (lr_end / lr) ** p, p = step / (total_steps - 1)), cosine
    (lr_end + (lr - lr_end) * (1 + cos(pi p)) / 2), step (n = max(1, round(log10(lr / lr_end)))
    equal drops at the starts of n + 1 equally long stages), constant (lr).
    """

    def __init__(self, kind, lr, lr_end, total_steps):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self.kind, self.lr, self.lr_end = kind, float(lr), float(lr_end)
        self.total_steps = int(total_steps)
        self.drops = max(1, round(math.log10(self.lr / self.lr_end))) if lr_end < lr else 1

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        if self.kind == "constant" or self.lr_end >= self.lr:
            return ops.full_like(step, self.lr)
        last = float(max(1, self.total_steps - 1))
        p = ops.clip(step / last, 0.0, 1.0)
        lr, end = self.lr, self.lr_end
        if self.kind == "exponential":
            value = lr * ops.exp(p * math.log(end / lr))
        elif self.kind == "cosine":
            value = end + (lr - end) * 0.5 * (1.0 + ops.cos(math.pi * p))
        else:  # step: stage k of n + 1 has lr * (end / lr) ** (k / n)
            n = self.drops
            stage = ops.minimum(ops.floor(step * (n + 1) / self.total_steps), n)
            value = lr * ops.exp(stage / n * math.log(end / lr))
        # Exactly --lr at the first step and --lr-end from the last on (no rounding at the ends).
        value = ops.where(step <= 0, lr, value)
        return ops.where(step >= last, end, value)

    def get_config(self):
        return {
            "kind": self.kind,
            "lr": self.lr,
            "lr_end": self.lr_end,
            "total_steps": self.total_steps,
        }


def make_schedule(args, total_steps):
    """The `--lr-schedule` from `--lr` to `--lr-end` over `total_steps` steps."""
    return LRSchedule(args.lr_schedule, args.lr, args.lr_end, total_steps)


def make_optimizer(args, total_steps):
    """`--optimizer` (SGD with `--momentum`, or Adam), the `--lr-schedule` over `total_steps`,
    and `--weight-decay`.

    The decay is Keras's decoupled one (each step w -= lr * wd * w, before the update), on kernels
    only (not on biases and batch-norm gamma/beta, as the Caffe models' decay_mult 0). It is not
    Caffe's L2 term in the gradient, which momentum amplifies by 1 / (1 - momentum).
    Under mixed_float16, `compile` wraps it in a LossScaleOptimizer.
    """
    schedule, decay = make_schedule(args, total_steps), args.weight_decay or None
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(schedule, weight_decay=decay)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=args.momentum, weight_decay=decay)
    optimizer.exclude_from_weight_decay(var_names=[NO_DECAY])
    return optimizer


# ---------------------------------------------------------------------------------------------
# Files


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


def _atomic(path, write):
    """Writes `path` by `write(tmp)` to a temporary name in the same folder, then a rename."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f"{_TMP_PREFIX}{os.getpid()}-{name}")  # keeps the suffix
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync(folder)
    return path


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    return _atomic(path, write)


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _to_json(value.tolist())
    if isinstance(value, tf.Tensor):
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
    return _write_text(path, json.dumps(_to_json(value), indent=2, sort_keys=True) + "\n")


def metric_table(results, metrics):
    """A Markdown table of `results` {method: {key: fraction}} in percent, one row per
    (key, label) of `metrics` that some method has, one column per method."""
    names = list(results)
    lines = ["| metric (%) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in metrics:
        if not any(key in results[n] for n in names):
            continue
        values = [results[n].get(key, float("nan")) for n in names]
        lines.append(f"| {label} | " + " | ".join(f"{100 * v:.1f}" for v in values) + " |")
    return "\n".join(lines)


def stored_mean(path, key, compute):
    """A data set's mean, computed once: the array kept in `path` under `key`, else
    `compute()`, written there (by the chief) with its key. Returns a NumPy array."""
    stored = read_json(path)
    if stored is not None and stored["key"] == key:
        return np.array(stored["mean"])
    mean = np.asarray(compute())
    write_json(path, {"key": key, "mean": mean})
    return mean


def write_results(out_dir, results, strategy=None):
    """`write_json` of `results` to out_dir/results.json."""
    return write_json(os.path.join(out_dir, RESULTS_FILE), results, strategy)


def _save_model_weights(model, path):
    """The model's weights without the optimizer state (what the zoo's builders load)."""
    try:
        from keras.src.saving import saving_lib

        saving_lib.save_weights_only(model, path, objects_to_skip=[model.optimizer])
    except (ImportError, TypeError, AttributeError):  # another Keras: with the optimizer
        model.save_weights(path)


def _load_model_weights(model, path):
    """Loads weights written by `_save_model_weights` (the optimizer is left as it is)."""
    try:
        from keras.src.saving import saving_lib

        saving_lib.load_weights_only(model, path, objects_to_skip=[model.optimizer])
    except (ImportError, TypeError, AttributeError):
        model.load_weights(path)


def _remove_stale_tmp(*folders):
    for folder in folders:
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if name.startswith(_TMP_PREFIX):
                    os.remove(os.path.join(folder, name))


def _config_differences(stored, config):
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


def _delete_run(out):
    """Deletes the harness's files in `out` (only those): final and backup first, config last."""
    for name in (FINAL_WEIGHTS, RESULTS_FILE, CSV_LOG):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    for name in (BACKUP_DIR, CHECKPOINT_DIR, LOG_DIR):
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    if os.path.exists(os.path.join(out, CONFIG_FILE)):
        os.remove(os.path.join(out, CONFIG_FILE))


# ---------------------------------------------------------------------------------------------
# Callbacks


class _Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a kill at any instant.

    Keras's writes the weights and then the epoch in place; a kill in between leaves a pair that
    does not match (or half a file). Here the weights of epoch e go to `epoch_XXX.weights.h5`
    (temporary name + rename), then `training_metadata.json` (same) names that file; older
    files are removed after. Loads from `read_dir` (the chief's backup), saves to `backup_dir`
    (a worker's temporary folder off the chief). Not deleted at the end of `fit`: the harness
    deletes it after the final weights are written.
    """

    def __init__(self, read_dir, write_dir):
        super().__init__(write_dir, save_freq="epoch", delete_checkpoint=False)
        self.read_dir = read_dir
        self._metadata_name = os.path.basename(self._training_metadata_path)

    def saved(self):
        """The restorable state's metadata {"epoch": epochs done, "weights": file}, or None."""
        meta = read_json(os.path.join(self.read_dir, self._metadata_name))
        if meta and os.path.exists(os.path.join(self.read_dir, meta.get("weights", ""))):
            return meta
        return None

    def saved_epoch(self):
        meta = self.saved()
        return int(meta["epoch"]) if meta else 0

    def _load_model(self):
        meta = self.saved()
        if meta is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.read_dir, meta["weights"]))
        self.model._initial_epoch = int(meta["epoch"])

    def _save_model(self):
        name = f"epoch_{self._current_epoch:03d}.weights.h5"
        _atomic(os.path.join(self.backup_dir, name), self.model.save_weights)
        meta = json.dumps({"epoch": self._current_epoch, "batch": 0, "weights": name})
        _write_text(self._training_metadata_path, meta)
        for old in os.listdir(self.backup_dir):
            if old.endswith(".weights.h5") and old != name and not old.startswith(_TMP_PREFIX):
                os.remove(os.path.join(self.backup_dir, old))

    def delete(self):
        shutil.rmtree(self.backup_dir, ignore_errors=True)


class _EpochCheckpoints(keras.callbacks.Callback):
    """checkpoints/epoch_XXX.weights.h5 after every epoch (model only), atomically.

    Keeps the last `keep` epochs' files and the best epoch's: the lowest `monitor` among the
    epochs logged in `log` (a `_CSVLog`, so a resumed run knows the earlier epochs) and this
    one. keep=0 keeps all. `temporary`: a worker off the chief, whose files go at once.
    """

    def __init__(self, folder, keep, temporary, monitor, log):
        super().__init__()
        self.folder, self.keep, self.temporary = folder, keep, temporary
        self.monitor, self.log = monitor, log

    def on_epoch_end(self, epoch, logs=None):
        path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.weights.h5")
        _atomic(path, lambda tmp: _save_model_weights(self.model, tmp))
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


def _read_csv_rows(path):
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


def _format_csv(header, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return buffer.getvalue()


class _CSVLog(keras.callbacks.Callback):
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
        header, rows = _read_csv_rows(self.path)
        self.header = header
        self.rows = [r for r in rows if 1 <= r["epoch"] <= self.initial_epoch]
        if header:
            _write_text(self.path, _format_csv(header, self.rows))

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
            _write_text(self.path, _format_csv(self.header, self.rows))
            return
        line = _format_csv(self.header, [row]).split("\n", 1)[1]
        with open(self.path, "a", newline="") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class _Announce(keras.callbacks.Callback):
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


# ---------------------------------------------------------------------------------------------
# Keras 3.15 with MultiWorkerMirroredStrategy (keras-team/keras#20585)


def _build_from_specs(model, strategy):
    """`fit`/`evaluate` build the model from the data's element spec, not from a batch.

    Keras's `_maybe_symbolic_build` pulls a batch through an extra iterator and reduces it with
    `strategy.reduce`, which fails with several workers and, for a shuffled dataset, moves the
    shuffle order on. The spec is all the build needs.
    """

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if data_batch is None and iterator is not None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    if getattr(model, "_distribute_strategy", None) is not None:
        model._maybe_symbolic_build = maybe_symbolic_build


def _patch_keras_multiworker():
    """With several workers, metric values are averaged over replicas with `axis=None`."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_harness_patch", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and _multiworker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica._harness_patch = True
    trainer.reduce_per_replica = reduce_per_replica


def _agree(strategy, values, what):
    """With several workers: checks that every worker has the same `values` (ints)."""
    if not _multiworker(strategy):
        return

    @tf.function
    def gather(v):
        def fn():
            return tf.distribute.get_replica_context().all_gather(v[None], axis=0)

        return strategy.run(fn)

    local = tf.constant(values, tf.int64)
    seen = strategy.experimental_local_results(gather(local))[0].numpy()
    if not (seen == seen[:1]).all():
        raise RuntimeError(
            f"the workers disagree on {what}: {seen.tolist()} (one row per replica). Start "
            "every worker with the same flags, with --out on a file system they all see."
        )


# ---------------------------------------------------------------------------------------------
# Training


def _epochs_dataset(make_epoch, first, last, steps):
    """Epochs first..last-1 of `make_epoch(epoch)`, each cut to `steps` batches, concatenated."""
    parts = [make_epoch(e).take(steps) for e in range(first, last)]
    while len(parts) > 1:  # a balanced tree of concatenations: depth log2(epochs)
        pairs = [parts[i].concatenate(parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + parts[len(parts) - len(parts) % 2 :]
    return parts[0]


def _tensorboard_installed():
    return importlib.util.find_spec("tensorboard") is not None


def _cardinality(dataset):
    n = int(dataset.cardinality())
    return n if n >= 0 else None


def _history_from_rows(rows):
    history = {}
    for row in rows:
        for key, value in row.items():
            history.setdefault(key, []).append(value)
    return history


def train(
    build_model,
    train_data,
    args,
    *,
    val_data=None,
    strategy=None,
    steps_per_epoch=None,
    validation_steps=None,
    validation_freq=1,
    loss=None,
    metrics=("accuracy",),
    callbacks=(),
    config=None,
    verbose="auto",
):
    """Builds, compiles and fits a model in `args.out`, resuming or loading a run that is there.

    Args:
        build_model: `() -> keras.Model`, called inside `strategy.scope()` (after `setup` set
            the mixed-precision policy). Outputs class probabilities (softmax).
        train_data: a function `epoch -> tf.data.Dataset` giving one epoch (epoch counts from 0;
            use it in the shuffle seed, so that a resumed run sees the batches an uninterrupted
            one sees), or a `tf.data.Dataset` of one epoch (or repeating, with
            `steps_per_epoch`). Batched with the GLOBAL batch `args.batch_size`; elements
            `(x, y)` or `(x, y, sample_weight)`.
        args: the parsed flags (`add_training_flags`).
        val_data: a `tf.data.Dataset` evaluated after every `validation_freq` epochs.
        strategy: default: the one `setup(args)` made (called here if it was not).
        steps_per_epoch: batches per epoch; default: the dataset's cardinality. The learning
            rate schedule runs over `epochs * steps_per_epoch` steps.
        loss, metrics: default sparse categorical cross-entropy on probabilities, accuracy.
        callbacks: more Keras callbacks, called before the harness's own.
        config: the run's identity (default `run_config(args)`), stored in config.json.

    Returns:
        (model, history): the compiled model with the trained weights, and a dict of lists,
        one entry per epoch from log.csv ("epoch", "loss", ..., "learning_rate", "seconds"),
        all the run's epochs (on workers off the chief: this process's epochs).
    """
    strategy = strategy or _State.strategy or setup(args)
    out = os.path.abspath(args.out)
    chief = is_chief(strategy)
    write_dir = out if chief else os.path.join(out, f".worker-{_task_id(strategy)}")
    config = run_config(args) if config is None else json.loads(json.dumps(config, default=str))

    # The run in --out: same flags (resume / load), or different (refuse, or start over).
    stored = read_json(os.path.join(out, CONFIG_FILE))
    if stored is not None:  # written before a flag became a runtime flag
        stored = {k: v for k, v in stored.items() if k not in RUNTIME_FLAGS}
    fresh = False
    if stored is not None and stored != config:
        differences = "\n".join(_config_differences(stored, config))
        if not args.overwrite:
            raise RunConfigError(
                f"{out} holds a run with different flags:\n{differences}\nRe-run with the "
                "stored flags to resume it, pass --overwrite to delete it and start over, or "
                "choose another --out."
            )
        fresh = True
        if chief:
            print(f"--overwrite: deleting the run in {out}; it differed in:\n{differences}")
            _delete_run(out)
    if chief:
        os.makedirs(out, exist_ok=True)
        _remove_stale_tmp(out, os.path.join(out, BACKUP_DIR), os.path.join(out, CHECKPOINT_DIR))
        if stored != config:
            _write_text(os.path.join(out, CONFIG_FILE), json.dumps(config, indent=2) + "\n")
    else:
        shutil.rmtree(write_dir, ignore_errors=True)

    final = os.path.join(out, FINAL_WEIGHTS)
    backup = _Backup(os.path.join(out, BACKUP_DIR), os.path.join(write_dir, BACKUP_DIR))
    finished = not fresh and os.path.exists(final)
    initial_epoch = 0 if fresh or finished else min(backup.saved_epoch(), args.epochs)
    config_crc = zlib.crc32(json.dumps(config, sort_keys=True).encode())
    _agree(strategy, [int(finished), initial_epoch, config_crc], "(finished, epoch, config)")

    # Steps per epoch, for the schedule.
    if callable(train_data) and not isinstance(train_data, tf.data.Dataset):
        probe = train_data(min(initial_epoch, args.epochs - 1))
    else:
        probe = train_data
    steps = steps_per_epoch or _cardinality(probe)
    if not steps:
        raise ValueError(
            "train: the training data's length is unknown or infinite; pass steps_per_epoch"
        )
    card = _cardinality(probe)
    if card is not None and card < steps:
        raise ValueError(f"train: an epoch has {card} batches, fewer than steps_per_epoch {steps}")

    # Seeded here, not only in `setup`: the initial weights depend on --seed alone, not on what
    # ran before in the process (a resumed job, or a recipe that trains several models).
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = build_model()
        model.compile(
            optimizer=make_optimizer(args, args.epochs * steps),
            loss=loss or keras.losses.SparseCategoricalCrossentropy(),
            metrics=list(metrics or []),
            jit_compile=bool(args.xla),
        )
    _build_from_specs(model, strategy)
    csv_path = os.path.join(out, CSV_LOG)

    if finished:
        print(f"{out}: the run is finished; loading {final} (not training again)", flush=True)
        _load_model_weights(model, final)
        return model, _history_from_rows(_read_csv_rows(csv_path)[1] if chief else [])

    csv_log = _CSVLog(csv_path if chief else None, initial_epoch)
    if initial_epoch:
        print(
            f"resuming {out}: {initial_epoch} of {args.epochs} epochs done, continuing with "
            f"epoch {initial_epoch + 1}",
            flush=True,
        )
    if initial_epoch < args.epochs:
        if callable(train_data) and not isinstance(train_data, tf.data.Dataset):
            dataset = _epochs_dataset(train_data, initial_epoch, args.epochs, steps)
            fit_steps = steps
        else:
            dataset, fit_steps = train_data, steps_per_epoch
        checkpoints = _EpochCheckpoints(
            os.path.join(write_dir, CHECKPOINT_DIR),
            args.keep_checkpoints,
            not chief,
            "loss" if val_data is None else "val_loss",
            csv_log,
        )
        harness_callbacks = [checkpoints, csv_log]
        if chief and _tensorboard_installed():
            harness_callbacks.append(
                keras.callbacks.TensorBoard(os.path.join(out, LOG_DIR), write_graph=False)
            )
        elif chief:
            print("no TensorBoard logs: the tensorboard package is not installed", flush=True)
        if chief:
            harness_callbacks.append(_Announce(args.epochs))
        model.fit(
            dataset,
            epochs=args.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=fit_steps,
            validation_data=val_data,
            validation_steps=validation_steps,
            validation_freq=validation_freq,
            callbacks=[*callbacks, *harness_callbacks, backup],  # backup last: epoch complete
            shuffle=False,  # the data's order is the recipe's
            verbose=verbose,
        )
    else:  # killed after the last backup, before the final weights: nothing left to train
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
        backup.set_model(model)
        backup._load_model()
        csv_log.set_model(model)
        csv_log.on_train_begin()

    final_write = os.path.join(write_dir, FINAL_WEIGHTS)
    _atomic(final_write, lambda tmp: _save_model_weights(model, tmp))
    backup.delete()  # after the final weights: a kill in between leaves a finished run
    if chief:
        print(f"final weights: {final}", flush=True)
    else:
        shutil.rmtree(write_dir, ignore_errors=True)
    return model, _history_from_rows(csv_log.rows)

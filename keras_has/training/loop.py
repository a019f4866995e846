"""The training loop: `train` builds, compiles and fits a model in a run folder, resuming or
loading the run that is there."""

import importlib.util
import json
import os
import shutil
import zlib

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import keras
import tensorflow as tf

from keras_has.training import callbacks as cb
from keras_has.training import run_files as files
from keras_has.training.flags import RUNTIME_FLAGS
from keras_has.training.optimizers import make_optimizer
from keras_has.training.strategies import _State, agree, is_chief, setup, task_id
from keras_has.training.workarounds import build_from_specs


def _epochs_dataset(make_epoch, first, last, steps):
    """Epochs first..last-1 of `make_epoch(epoch)`, each cut to `steps` batches, concatenated."""
    parts = [make_epoch(e).take(steps) for e in range(first, last)]
    while len(parts) > 1:  # a balanced tree of concatenations: depth log2(epochs)
        pairs = [parts[i].concatenate(parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + parts[len(parts) - len(parts) % 2 :]
    return parts[0]


def tensorboard_installed():
    return importlib.util.find_spec("tensorboard") is not None


def _cardinality(dataset):
    n = int(dataset.cardinality())
    return n if n >= 0 else None


def _history(rows):
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
    ignored=(),
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
        args: the parsed flags (`flags.add_training_flags`).
        val_data: a `tf.data.Dataset` evaluated after every `validation_freq` epochs.
        strategy: default: the one `setup(args)` made (called here if it was not).
        steps_per_epoch: batches per epoch; default: the dataset's cardinality. The learning
            rate schedule runs over `epochs * steps_per_epoch` steps.
        loss, metrics: default sparse categorical cross-entropy on probabilities, accuracy; a
            model of several outputs takes dicts by output name.
        callbacks: more Keras callbacks, called before the loop's own.
        config: the run's identity (default `run_config(args)`), stored in config.json.
        ignored: keys dropped from a stored config before comparing (flags that no longer
            make a run's identity, such as evaluation flags of earlier releases).

    Returns:
        (model, history): the compiled model with the trained weights, and a dict of lists,
        one entry per epoch from log.csv ("epoch", "loss", ..., "learning_rate", "seconds"),
        all the run's epochs (on workers off the chief: this process's epochs).
    """
    strategy = strategy or _State.strategy or setup(args)
    out = os.path.abspath(args.out)
    chief = is_chief(strategy)
    write_dir = out if chief else os.path.join(out, f".worker-{task_id(strategy)}")
    config = (
        files.run_config(args) if config is None else json.loads(json.dumps(config, default=str))
    )
    fresh = _open_run(out, config, args.overwrite, chief, set(ignored) | RUNTIME_FLAGS)
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)

    final = os.path.join(out, files.FINAL_WEIGHTS)
    backup = cb.Backup(
        os.path.join(out, files.BACKUP_DIR), os.path.join(write_dir, files.BACKUP_DIR)
    )
    finished = not fresh and os.path.exists(final)
    initial_epoch = 0 if fresh or finished else min(backup.saved_epoch(), args.epochs)
    config_crc = zlib.crc32(json.dumps(config, sort_keys=True).encode())
    agree(strategy, [int(finished), initial_epoch, config_crc], "(finished, epoch, config)")
    steps = _steps_per_epoch(train_data, min(initial_epoch, args.epochs - 1), steps_per_epoch)

    model = _compiled_model(build_model, args, strategy, steps, loss, metrics)
    csv_path = os.path.join(out, files.CSV_LOG)
    if finished:
        print(f"{out}: the run is finished; loading {final} (not training again)", flush=True)
        files.load_model_weights(model, final)
        return model, _history(files.read_csv_rows(csv_path)[1] if chief else [])

    csv_log = cb.CSVLog(csv_path if chief else None, initial_epoch)
    if initial_epoch:
        print(
            f"resuming {out}: {initial_epoch} of {args.epochs} epochs done, continuing with "
            f"epoch {initial_epoch + 1}",
            flush=True,
        )
    if initial_epoch < args.epochs:
        dataset, fit_steps = train_data, steps_per_epoch
        if callable(train_data) and not isinstance(train_data, tf.data.Dataset):
            dataset = _epochs_dataset(train_data, initial_epoch, args.epochs, steps)
            fit_steps = steps
        loop_callbacks = _loop_callbacks(args, out, write_dir, chief, val_data, csv_log)
        model.fit(
            dataset,
            epochs=args.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=fit_steps,
            validation_data=val_data,
            validation_steps=validation_steps,
            validation_freq=validation_freq,
            callbacks=[*callbacks, *loop_callbacks, backup],  # backup last: the epoch is complete
            shuffle=False,  # the data's order is the recipe's
            verbose=verbose,
        )
    else:  # killed after the last backup, before the final weights: nothing left to train
        _restore_without_training(model, strategy, backup, csv_log)
    _write_final(model, out, write_dir, chief, backup)
    return model, _history(csv_log.rows)


def _compiled_model(build_model, args, strategy, steps, loss, metrics):
    """`build_model()` compiled with the optimizer of the flags, seeded with --seed."""
    # Seeded here, not only in `setup`: the initial weights depend on --seed alone, not on what
    # ran before in the process (a resumed job, or a recipe that trains several models).
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = build_model()
        model.compile(
            optimizer=make_optimizer(args, args.epochs * steps),
            loss=loss or keras.losses.SparseCategoricalCrossentropy(),
            metrics=metrics if isinstance(metrics, dict) else list(metrics or []),
            jit_compile=bool(args.xla),
        )
    build_from_specs(model, strategy)
    return model


def _restore_without_training(model, strategy, backup, csv_log):
    """The state of a run killed after its last backup, before its final weights."""
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    backup.set_model(model)
    backup.restore()
    csv_log.set_model(model)
    csv_log.on_train_begin()


def _write_final(model, out, write_dir, chief, backup):
    """The final weights (the run is finished), then the backup goes."""
    final_write = os.path.join(write_dir, files.FINAL_WEIGHTS)
    files.atomic(final_write, lambda tmp: files.save_model_weights(model, tmp))
    backup.delete()  # after the final weights: a kill in between leaves a finished run
    if chief:
        print(f"final weights: {os.path.join(out, files.FINAL_WEIGHTS)}", flush=True)
    else:
        shutil.rmtree(write_dir, ignore_errors=True)


def _open_run(out, config, overwrite, chief, ignored):
    """The run in `out`: same identity (resume or load: False), none or --overwrite (a fresh
    run: True, its files deleted), or another one (RunConfigError). Writes config.json."""
    stored = files.read_json(os.path.join(out, files.CONFIG_FILE))
    if stored is not None:
        stored = {k: v for k, v in stored.items() if k not in ignored}
    fresh = False
    if stored is not None and stored != config:
        differences = "\n".join(files.config_differences(stored, config))
        if not overwrite:
            raise files.RunConfigError(
                f"{out} holds a run with different flags:\n{differences}\nRe-run with the "
                "stored flags to resume it, pass --overwrite to delete it and start over, or "
                "choose another --out."
            )
        fresh = True
        if chief:
            print(f"--overwrite: deleting the run in {out}; it differed in:\n{differences}")
            files.delete_run(out)
    if chief:
        os.makedirs(out, exist_ok=True)
        files.remove_stale_tmp(
            out, os.path.join(out, files.BACKUP_DIR), os.path.join(out, files.CHECKPOINT_DIR)
        )
        if stored != config:
            files.write_text(
                os.path.join(out, files.CONFIG_FILE), json.dumps(config, indent=2) + "\n"
            )
    return fresh


def _steps_per_epoch(train_data, epoch, steps_per_epoch):
    """Batches per epoch: `steps_per_epoch`, else the cardinality of the data (of `epoch`)."""
    probe = train_data
    if callable(train_data) and not isinstance(train_data, tf.data.Dataset):
        probe = train_data(epoch)
    steps = steps_per_epoch or _cardinality(probe)
    if not steps:
        raise ValueError(
            "train: the training data's length is unknown or infinite; pass steps_per_epoch"
        )
    card = _cardinality(probe)
    if card is not None and card < steps:
        raise ValueError(f"train: an epoch has {card} batches, fewer than steps_per_epoch {steps}")
    return steps


def _loop_callbacks(args, out, write_dir, chief, val_data, csv_log):
    """Checkpoints, the CSV log, TensorBoard and the epoch lines (the last two on the chief)."""
    checkpoints = cb.EpochCheckpoints(
        os.path.join(write_dir, files.CHECKPOINT_DIR),
        args.keep_checkpoints,
        not chief,
        "loss" if val_data is None else "val_loss",
        csv_log,
    )
    found = [checkpoints, csv_log]
    if chief and tensorboard_installed():
        found.append(
            keras.callbacks.TensorBoard(os.path.join(out, files.LOG_DIR), write_graph=False)
        )
    elif chief:
        print("no TensorBoard logs: the tensorboard package is not installed", flush=True)
    if chief:
        found.append(cb.Announce(args.epochs))
    return found

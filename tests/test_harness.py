"""recipes/_harness.py and recipes/_flags.py: flags, strategies, the LR schedule, resuming a
killed run, checkpoints, results; the recipes' command lines.

The training runs are subprocesses of tests/scripts/harness_task.py (a small CNN on generated
images, data order a function of the epoch), all with the same flags and --deterministic, so a
resumed run, a MirroredStrategy run on two logical CPUs and a two-process MultiWorkerMirrored
run are each compared with one uninterrupted default-strategy run.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import kill_after_backup

from keras_has import training as harness
from keras_has.training import flags

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "harness_task.py")
FLAGS = ["--epochs", "6", "--seed", "3", "--deterministic"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
ENV.pop("TF_CONFIG", None)


def command(out, *flags):
    return [sys.executable, SCRIPT, "--out", str(out), *FLAGS, *flags]


def run_task(out, *flags, check=True, env=None):
    result = subprocess.run(
        command(out, *flags),
        env=env or ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def weights(out):
    return np.array(results(out)["weights"])


def assert_same_training(out, reference):
    """Weights equal up to float rounding in another summation order (two half-batch sums).

    Six epochs grow the 1e-7 rounding differences to about 1e-4 of the weights' norm; training
    with a 2% different learning rate moves them by 5e-3, a different global batch far more.
    """
    a, b = weights(out), weights(reference)
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 5e-4, np.abs(a - b).max()
    assert results(out)["val"]["loss"] == pytest.approx(results(reference)["val"]["loss"], rel=1e-3)


def csv_rows(out):
    return harness.run_files.read_csv_rows(os.path.join(out, "log.csv"))[1]


def kept_checkpoints(out):
    """What --keep-checkpoints 2 (the default) keeps of a validated run: the last two epochs and
    the one of the lowest val_loss in log.csv."""
    rows = csv_rows(out)
    best = min(rows, key=lambda r: r["val_loss"])["epoch"]
    return sorted(f"epoch_{e:03d}.weights.h5" for e in {len(rows) - 1, len(rows), best})


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def leftovers(out):
    """Temporary files and worker folders anywhere under `out`."""
    found = []
    for folder, dirs, files in os.walk(out):
        found += [n for n in files + dirs if n.startswith((".tmp-", ".worker-"))]
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted 6-epoch run with the default strategy."""
    out = tmp_path_factory.mktemp("harness") / "reference"
    run_task(out, "--strategy", "default")
    return out


# ---------------------------------------------------------------------------------------------
# Runs


def test_reference_run_writes_the_run_directory(reference):
    names = set(os.listdir(reference))
    assert {"config.json", "final.weights.h5", "log.csv", "results.json", "checkpoints"} <= names
    assert "backup" not in names and not leftovers(reference)
    assert sorted(os.listdir(reference / "checkpoints")) == kept_checkpoints(reference)
    rows = csv_rows(reference)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1]["learning_rate"] == pytest.approx(0.005, rel=1e-6)  # --lr-end
    assert results(reference)["val"]["accuracy"] > 0.9  # it learned
    with open(reference / "config.json") as f:
        config = json.load(f)
    assert config["lr"] == 0.05 and config["epochs"] == 6
    assert "out" not in config and "strategy" not in config and "epoch_sleep" not in config
    if importlib.util.find_spec("tensorboard"):
        assert os.listdir(reference / "logs" / "train")


def test_killed_run_resumes_where_it_was(reference, tmp_path):
    out = tmp_path / "run"
    flags = ("--strategy", "default", "--epoch-sleep", "0.4")
    metadata = out / "backup" / "training_metadata.json"
    done = kill_after_backup(command(out, *flags), metadata, 2, timeout=120, env=ENV)
    assert 2 <= done < 6 and not (out / "final.weights.h5").exists()
    assert [r["epoch"] for r in csv_rows(out)][:done] == list(range(1, done + 1))
    with open(out / "log.csv", "a") as f:  # and a row cut by the kill
        f.write(f"{done + 1},0.5")

    second = run_task(out, *flags)  # the same command

    assert f"{done} of 6 epochs done, continuing with epoch {done + 1}" in second.stdout
    assert f"epoch {done}/6 done" not in second.stdout
    assert f"epoch {done + 1}/6 done" in second.stdout and "epoch 6/6 done" in second.stdout
    assert [r["epoch"] for r in csv_rows(out)] == [1, 2, 3, 4, 5, 6]
    assert not (out / "backup").exists() and not leftovers(out)
    assert sorted(os.listdir(out / "checkpoints")) == kept_checkpoints(reference)
    # The data order is a function of the epoch and the backup holds the optimizer state and
    # step, so the resumed run ends exactly where the uninterrupted one did.
    np.testing.assert_array_equal(weights(out), weights(reference))
    np.testing.assert_array_equal(
        [r["loss"] for r in csv_rows(out)], [r["loss"] for r in csv_rows(reference)]
    )


def test_finished_run_is_loaded_not_trained(reference):
    final = reference / "final.weights.h5"
    before = sha(final), (reference / "log.csv").read_text(), weights(reference)
    again = run_task(reference, "--strategy", "default")
    assert "the run is finished" in again.stdout and "not training again" in again.stdout
    assert "epoch 1/6 done" not in again.stdout
    assert sha(final) == before[0] and (reference / "log.csv").read_text() == before[1]
    np.testing.assert_array_equal(weights(reference), before[2])  # the loaded model's
    assert results(reference)["epochs_logged"] == [1, 2, 3, 4, 5, 6]


def test_other_flags_are_refused_and_overwrite_starts_over(reference, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    final = sha(out / "final.weights.h5")
    refused = run_task(out, "--lr", "0.02", "--epochs", "2", check=False)
    assert refused.returncode != 0
    assert (
        "RunConfigError" in refused.stderr and "holds a run with different flags" in refused.stderr
    )
    assert "--lr: 0.05 in the stored run, 0.02 now" in refused.stderr
    assert "--epochs: 6 in the stored run, 2 now" in refused.stderr
    assert "--overwrite" in refused.stderr and "--seed" not in refused.stderr
    assert sha(out / "final.weights.h5") == final

    redone = run_task(out, "--lr", "0.02", "--epochs", "2", "--overwrite")
    assert "--overwrite: deleting the run" in redone.stdout and "epoch 2/2 done" in redone.stdout
    assert [r["epoch"] for r in csv_rows(out)] == [1, 2]
    assert sorted(os.listdir(out / "checkpoints")) == [
        "epoch_001.weights.h5",
        "epoch_002.weights.h5",
    ]
    assert json.loads((out / "config.json").read_text())["lr"] == 0.02


def test_mirrored_on_two_logical_cpus_equals_default(reference, tmp_path):
    out = tmp_path / "mirrored"
    run = run_task(out, "--strategy", "mirrored", "--logical-cpus", "2")
    assert "MirroredStrategy, 2 replica(s), global batch 32 = 16 per replica" in run.stdout
    assert results(out)["replicas"] == 2
    assert_same_training(out, reference)


def test_global_batch_must_split_over_the_replicas(tmp_path):
    run = run_task(
        tmp_path / "odd",
        "--strategy",
        "mirrored",
        "--logical-cpus",
        "2",
        "--batch-size",
        "31",
        check=False,
    )
    assert run.returncode != 0
    assert "--batch-size: 31 (the global batch) does not split evenly over 2 replicas" in run.stderr


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_multiworker_equals_one_process(reference, tmp_path):
    out = tmp_path / "multiworker"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(
            subprocess.Popen(
                command(out, "--strategy", "multiworker"),
                env={**ENV, "TF_CONFIG": tf_config},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    chief, worker = (stdout for stdout, _ in outputs)
    assert "CollectiveAllReduceStrategy, 2 replica(s), global batch 32 = 16 per replica" in chief
    assert "chief: True" in chief and "chief: False, results: None" in worker
    assert results(out)["replicas"] == 2
    assert [r["epoch"] for r in csv_rows(out)] == [1, 2, 3, 4, 5, 6]
    assert not leftovers(out)  # the worker's temporary folder is gone
    assert_same_training(out, reference)


# ---------------------------------------------------------------------------------------------
# In this process


@pytest.mark.parametrize("kind", ["exponential", "cosine", "step"])
def test_lr_schedule_goes_from_lr_to_lr_end(kind):
    schedule = harness.LRSchedule(kind, 0.01, 1e-4, total_steps=1000)
    values = np.asarray(schedule(np.arange(1200)))
    assert values[0] == np.float32(0.01) and values[999] == np.float32(1e-4)
    assert (values[1000:] == np.float32(1e-4)).all()
    assert (np.diff(values) <= 0).all()  # never rises
    assert (values[1:999] < 0.01).any()
    if kind != "step":  # continuous: strictly between the ends inside
        assert (values[1:999] < 0.01).all() and (values[1:999] > 1e-4).all()
    if kind == "step":  # 0.01 -> 0.0001: two drops of 10x, three equal stages
        levels, starts = np.unique(values[:1000], return_index=True)
        np.testing.assert_allclose(levels, [1e-4, 1e-3, 1e-2], rtol=1e-6)
        assert sorted(starts) == [0, 334, 667]
    if kind == "exponential":  # geometric: the middle step is the geometric mean
        assert values[999 // 2] == pytest.approx(np.sqrt(0.01 * 1e-4), rel=1e-2)


def test_step_schedule_drops_at_the_milestones():
    """He et al.: 0.1, /10 at 50% and at 75% of training."""
    schedule = harness.LRSchedule("step", 0.1, 1e-3, total_steps=400, milestones=[0.5, 0.75])
    values = np.asarray(schedule(np.arange(400)))
    levels, starts = np.unique(values, return_index=True)
    # float32 rates from exp(log): compare at float32's precision.
    np.testing.assert_allclose(levels, [1e-3, 1e-2, 1e-1], rtol=1e-6)
    assert sorted(starts) == [0, 200, 300]
    for bad in ([], [0.75, 0.5], [0.5, 1.0]):
        with pytest.raises(ValueError, match="milestones must increase within"):
            harness.LRSchedule("step", 0.1, 1e-3, total_steps=400, milestones=bad)


def test_lr_schedule_from_flags():
    parser = argparse.ArgumentParser()
    flags.add_training_flags(parser)
    args = parser.parse_args(["--lr", "0.02", "--lr-end", "0.002", "--lr-schedule", "cosine"])
    values = np.asarray(harness.optimizers.make_schedule(args, 50)(np.arange(50)))
    assert values[0] == np.float32(0.02) and values[-1] == np.float32(0.002)
    args = parser.parse_args(["--lr", "0.02", "--lr-schedule", "constant"])
    assert (
        np.asarray(harness.optimizers.make_schedule(args, 50)(np.arange(60))) == np.float32(0.02)
    ).all()


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_weight_decay_shrinks_kernels_only(name):
    import keras

    parser = argparse.ArgumentParser()
    flags.add_training_flags(parser)
    argv = ["--lr", "0.1", "--weight-decay", "0.5", "--lr-schedule", "constant"]
    args = parser.parse_args([*argv, "--optimizer", name])
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, bias_initializer="ones"),
            keras.layers.BatchNormalization(beta_initializer="ones"),
        ]
    )
    optimizer = harness.make_optimizer(args, 10)
    assert type(optimizer).__name__ == {"sgd": "SGD", "adam": "Adam"}[name]
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    optimizer.apply_gradients(
        [(np.zeros(v.shape, "float32"), v) for v in model.trainable_variables]
    )
    for v in model.trainable_variables:
        expected = before[v.path] * (0.95 if v.path.endswith("kernel") else 1.0)
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6, err_msg=v.path)


def test_auto_picks_the_default_strategy_on_this_cpu(monkeypatch):
    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs: auto picks MirroredStrategy")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    for name in ("auto", "default"):
        strategy = harness.make_strategy(name)
        assert strategy is tf.distribute.get_strategy(), name
        assert type(strategy).__name__ == "_DefaultDistributionStrategy"
        assert harness.is_chief(strategy)


def test_impossible_strategies_fail_clearly(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="unknown strategy 'gpu'; choose one of auto, default"):
        harness.make_strategy("gpu")
    with pytest.raises(ValueError, match="multiworker needs TF_CONFIG"):
        harness.make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        harness.make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}}')
    with pytest.raises(ValueError, match='TF_CONFIG needs "cluster" and "task"'):
        harness.make_strategy("multiworker")
    # TensorFlow is already running in this process: too late for collective ops.
    tf.constant(1.0).numpy()
    port = free_ports(1)[0]
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": {"worker": [f"localhost:{port}"]}, "task": {"type": "worker", "index": 0}}
        ),
    )
    with pytest.raises(RuntimeError, match="must run before any other TensorFlow op"):
        harness.make_strategy("multiworker")
    if not (os.environ.get("TPU_NAME") or os.path.exists("/dev/accel0")):
        with pytest.raises(RuntimeError, match="--strategy tpu: no TPU found"):
            harness.make_strategy("tpu")


def parser_with_flags(defaults=None):
    parser = argparse.ArgumentParser(prog="recipe", formatter_class=flags.HelpFormatter)
    flags.add_training_flags(parser, defaults)
    return parser


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--strategy", "gpu"], "--strategy: invalid choice: 'gpu'"),
        (["--batch-size", "0"], "--batch-size: must be a positive int, got 0"),
        (["--epochs", "2.5"], "--epochs: expected a int, got '2.5'"),
        (["--lr", "-1"], "--lr: must be a positive float, got -1"),
        (["--lr", "nan"], "--lr: expected a finite number, got nan"),
        (["--momentum", "1.5"], "--momentum: must be in [0, 1), got 1.5"),
        (["--weight-decay", "-0.1"], "--weight-decay: must be >= 0, got -0.1"),
        (["--mixed-precision", "fp8"], "--mixed-precision: invalid choice: 'fp8'"),
        (["--lr-schedule", "linear"], "--lr-schedule: invalid choice: 'linear'"),
    ],
)
def test_bad_flag_values_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        parser_with_flags().parse_args(argv)
    assert message in capsys.readouterr().err


def test_flags_defaults_help_and_checks():
    parser = parser_with_flags({"epochs": 3, "lr": 0.02})
    args = parser.parse_args([])
    assert (args.epochs, args.lr, args.lr_end, args.momentum) == (3, 0.02, 1e-4, 0.9)
    assert (args.weight_decay, args.strategy, args.mixed_precision, args.xla) == (
        5e-4,
        "auto",
        "off",
        False,
    )
    assert parser.parse_args(["--xla", "--mixed-precision", "bfloat16"]).xla
    text = parser.format_help()
    for flag in (
        "--epochs",
        "--batch-size",
        "--lr",
        "--lr-end",
        "--lr-schedule",
        "--momentum",
        "--weight-decay",
        "--strategy",
        "--mixed-precision",
        "--xla",
        "--out",
        "--seed",
        "--deterministic",
        "--keep-checkpoints",
        "--overwrite",
    ):
        assert flag in text, flag
    assert "(default: 3)" in text and "(default: 2)" in text  # --epochs, --keep-checkpoints
    assert "GLOBAL batch" in text
    with pytest.raises(ValueError, match="unknown training defaults"):
        parser_with_flags({"epoch": 3})
    with pytest.raises(flags.FlagError, match="--lr-end: 0.1 is above --lr 0.01"):
        flags.check_flags(parser.parse_args(["--lr", "0.01", "--lr-end", "0.1"]))
    flags.check_flags(parser.parse_args(["--lr-end", "0.1", "--lr-schedule", "constant"]))
    config = harness.run_config(parser.parse_args(["--strategy", "default"]), ignore=("seed",))
    assert "strategy" not in config and "out" not in config and "seed" not in config
    assert "keep_checkpoints" not in config  # where files go, not what is computed
    assert config["lr"] == 0.02


def test_write_results_is_json_atomic_and_nested(tmp_path):
    path = harness.write_results(
        tmp_path, {"top1": np.float32(0.5), "per_class": {"a": np.arange(3), "b": [np.int64(2)]}}
    )
    with open(path) as f:
        assert json.load(f) == {"top1": 0.5, "per_class": {"a": [0, 1, 2], "b": [2]}}
    assert os.listdir(tmp_path) == ["results.json"]
    with pytest.raises(TypeError, match="cannot write object"):
        harness.write_results(tmp_path, {"bad": object()})
    assert os.listdir(tmp_path) == ["results.json"]  # the failed write left nothing


def test_kill_between_last_backup_and_final_weights(tmp_path):
    """In this process: the last epoch's backup is there, the final weights are not."""
    import keras

    parser = parser_with_flags({"epochs": 3, "batch_size": 8})
    args = parser.parse_args(["--out", str(tmp_path / "run"), "--keep-checkpoints", "2"])
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int32"))).batch(8)

    def build():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))

    class Killed(Exception):
        pass

    class KillAtTheEnd(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            raise Killed

    kill = KillAtTheEnd()
    strategy = tf.distribute.get_strategy()
    with pytest.raises(Killed):
        harness.train(build, data, args, strategy=strategy, callbacks=[kill], verbose=0)
    out = tmp_path / "run"
    assert not (out / "final.weights.h5").exists()
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 3
    assert sorted(os.listdir(out / "checkpoints")) == [
        "epoch_002.weights.h5",
        "epoch_003.weights.h5",
    ]

    model, history = harness.train(build, data, args, strategy=strategy, verbose=0)
    assert history["epoch"] == [1, 2, 3]
    assert (out / "final.weights.h5").exists() and not (out / "backup").exists()
    for got, expected in zip(model.get_weights(), kill.weights):
        np.testing.assert_array_equal(got, expected)
    model, history = harness.train(build, data, args, strategy=strategy, verbose=0)  # finished
    assert history["epoch"] == [1, 2, 3]
    for got, expected in zip(model.get_weights(), kill.weights):
        np.testing.assert_array_equal(got, expected)


def test_keep_checkpoints_default_keeps_the_last_two_and_the_best(tmp_path):
    """No validation data: "best" is the lowest training loss, also across a resume."""
    import keras

    parser = parser_with_flags({"epochs": 5, "batch_size": 8})
    args = parser.parse_args(["--out", str(tmp_path / "run")])
    assert args.keep_checkpoints == 2
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int32"))).batch(8)
    losses = [3.0, 1.0, 2.0, 4.0, 5.0]  # epoch 2 is the best, and not one of the last two

    def build():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))

    class Loss(keras.callbacks.Callback):
        """Sets the epoch's logged loss (the callbacks after it, the harness's, read it)."""

        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = losses[epoch]

    class Killed(Exception):
        pass

    class KillBeforeEpoch4(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise Killed

    strategy = tf.distribute.get_strategy()
    with pytest.raises(Killed):
        harness.train(
            build, data, args, strategy=strategy, callbacks=[Loss(), KillBeforeEpoch4()], verbose=0
        )
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(os.listdir(checkpoints)) == ["epoch_002.weights.h5", "epoch_003.weights.h5"]

    _, history = harness.train(build, data, args, strategy=strategy, callbacks=[Loss()], verbose=0)
    assert history["loss"] == losses  # the resumed run's log has every epoch
    assert sorted(os.listdir(checkpoints)) == [
        "epoch_002.weights.h5",  # the best, known to the resumed run from log.csv
        "epoch_004.weights.h5",
        "epoch_005.weights.h5",
    ]


RECIPES = ["keras_has.recipes.wsol", "keras_has.recipes.temporal"]
ALL_RECIPES = [
    *RECIPES,
    *(
        f"keras_has.recipes.{name}"
        for name in ("classification", "segmentation", "wsss", "emotion", "age_gender", "reid")
    ),
]
HEAVY = {"tensorflow", "keras", "zoo", "numpy", "cv2"}


def flag_error(main, argv, capsys):
    """The one line a recipe's `main(argv)` prints for a FlagError (it exits with status 2)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize("recipe", ALL_RECIPES)
@pytest.mark.parametrize(
    "argv,code", [(["--help"], 0), (["--epochs", "x"], 2), (["--hide-prob", "x"], 2)]
)
def test_help_and_argparse_errors_import_no_tensorflow(recipe, argv, code):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", recipe, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == code, result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "argparse" in imported and not imported & HEAVY, imported & HEAVY
    assert f"usage: python -m {recipe} [-h]" in result.stdout + result.stderr


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_every_flag_shows_its_default(recipe):
    parser = importlib.import_module(recipe).RECIPE.make_parser([])
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.dest != "help":
            assert "(default" in formatter._get_help_string(action), action.option_strings


@pytest.mark.parametrize("recipe", RECIPES)
def test_pooling_and_eval_batch_help(recipe):
    parser = importlib.import_module(recipe).RECIPE.make_parser([])
    text = " ".join(parser.format_help().split())
    assert "--pooling {avg,max} GAP or GMP (Table IV). (default: avg)" in text or (
        "--pooling {max,avg} Global max (paper) or average. (default: max)" in text
    )
    assert "per evaluation batch. (default: 50)" in text  # --eval-batch-size


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_flag_error_after_the_tensorflow_import_is_one_quiet_line(recipe):
    """--hide-prob is checked by the layer, so TensorFlow is imported and started; stderr
    holds the error alone (no start-up log lines), with TF_CPP_MIN_LOG_LEVEL unset."""
    env = {k: v for k, v in ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", recipe, "--hide-prob", "2", "--out", "/no/such/run"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m {recipe}: error: --hide-prob: `hide_prob` must be a number in [0, 1]. "
        "Received: hide_prob=2.0\n"
    )

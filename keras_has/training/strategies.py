"""tf.distribute strategies for training, and `setup`: the first call of a training script.

`setup(args)` makes the `--strategy` (multiworker must come before any other TensorFlow op),
seeds, determinism, the mixed-precision policy, and checks that the global batch splits evenly
over the replicas. `is_chief()` says whether this process writes the run's files.
"""

import glob
import json
import os

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import keras
import tensorflow as tf

from keras_has.training import workarounds
from keras_has.training.flags import PRECISIONS, STRATEGIES, FlagError, check_flags


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
                "configures collective ops when the runtime starts): call keras_has.training.setup(args) "
                f"first in the recipe, before making datasets or models ({e})"
            ) from e
        raise
    workarounds.patch_multiworker_metrics(is_multiworker)
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


def current_strategy(strategy=None):
    return strategy or _State.strategy or tf.distribute.get_strategy()


def is_multiworker(strategy):
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and _cluster_size(_tf_config()) > 1
    )


def is_chief(strategy=None):
    """True in the process that writes the run's files (always, unless multi-worker)."""
    return bool(getattr(current_strategy(strategy).extended, "should_checkpoint", True))


def task_id(strategy):
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


def agree(strategy, values, what):
    """With several workers: checks that every worker has the same `values` (ints)."""
    if not is_multiworker(strategy):
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

"""Every private Keras and TensorFlow name that keras-has uses, in one place.

No other module imports `keras.src` or `tensorflow.python`
(tests/test_keras_private.py checks), so a Keras release that moves one of
these breaks this file only. Tested with Keras 3.9 - 3.15 and TensorFlow
2.16 - 2.21 (docs/compatibility.md). Public Keras has no equivalent for:

- `DataLayer`: the base of Keras's preprocessing layers, which run on
  TensorFlow ops inside `tf.data` whatever the Keras backend, with a
  per-backend `SeedGenerator`. `keras.src.layers.preprocessing.data_layer.
  DataLayer` from Keras 3.12; `...tf_data_layer.TFDataLayer` in 3.9 - 3.11.
- `DynamicBackend` (`keras.src.utils.backend_utils`, all of 3.x): the backend
  module a `DataLayer` computes with, switched at call time.
- `in_tf_graph`, `is_in_jax_tracing_scope` (`keras.src.utils.backend_utils`,
  `keras.src.utils.jax_utils`, all of 3.x): where a call runs, as
  `DataLayer.__call__` decides it.
- `tf_outside_xla`: TensorFlow's `control_flow_util.GraphOrParentsInXlaContext`
  (`tensorflow.python`, all of TF 2.x).
- `view`: `keras.ops.view` from Keras 3.12; a bitcast of the backend before.
- `save_weights_only`, `load_weights_only`: `keras.src.saving.saving_lib`'s
  (`objects_to_skip` from Keras 3.9): model weights without the optimizer.
- `patch_tf_trainer_reduce`: replaces `reduce_per_replica` of
  `keras.src.backend.tensorflow.trainer` (all of 3.x), which the TensorFlow
  trainer reduces metric values across replicas with.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
from keras.src.utils.backend_utils import DynamicBackend, in_tf_graph
from keras.src.utils.jax_utils import is_in_jax_tracing_scope

try:  # Keras >= 3.12
    from keras.src.layers.preprocessing.data_layer import DataLayer
except ImportError:  # Keras 3.9 - 3.11
    from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as DataLayer

__all__ = [
    "DataLayer",
    "DynamicBackend",
    "bitcast",
    "in_tf_graph",
    "is_in_jax_tracing_scope",
    "load_weights_only",
    "patch_tf_trainer_reduce",
    "save_weights_only",
    "tf_outside_xla",
    "view",
]


def tf_outside_xla():
    """True when TensorFlow's current graph (or eager context) is not XLA-compiled.

    False where TensorFlow lacks the internal function: callers then take
    their generic path, correct under XLA or not.
    """
    try:
        from tensorflow.python.framework import ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:
        return False
    return not control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())


def view(backend, x, dtype):
    """`x`'s bits as `dtype` of the same item size, with `backend` (a Keras backend module).

    `backend.numpy.view` where Keras has it (3.12 on), else `bitcast`.
    """
    if hasattr(backend.numpy, "view"):
        return backend.numpy.view(x, dtype)
    return bitcast(backend, x, dtype)


def bitcast(backend, x, dtype):
    """`x`'s bits as `dtype`, of the same item size as `x`'s, shape unchanged.

    `keras.ops.view` for Keras before 3.12, per backend.
    """
    x = backend.convert_to_tensor(x)
    if backend.name == "tensorflow":
        import tensorflow as tf

        return tf.bitcast(x, dtype)
    if backend.name == "jax":
        import jax

        return jax.lax.bitcast_convert_type(x, dtype)
    if backend.name == "torch":
        import torch

        return x.view(getattr(torch, dtype))
    return x.view(dtype)  # NumPy


def save_weights_only(model, path):
    """Writes `model`'s weights to `path` (`.weights.h5`) without the optimizer's.

    Falls back to `model.save_weights` (the optimizer's included) where Keras
    lacks `saving_lib.save_weights_only`.
    """
    saving_lib = _saving_lib()
    if saving_lib is None:
        model.save_weights(path)
    else:
        saving_lib.save_weights_only(model, path, objects_to_skip=[model.optimizer])


def load_weights_only(model, path):
    """Loads weights that `save_weights_only` wrote; the optimizer is left as it is.

    Falls back to `model.load_weights` where Keras lacks
    `saving_lib.load_weights_only`.
    """
    saving_lib = _saving_lib()
    if saving_lib is None:
        model.load_weights(path)
    else:
        saving_lib.load_weights_only(model, path, objects_to_skip=[model.optimizer])


def _saving_lib():
    try:
        from keras.src.saving import saving_lib
    except ImportError:
        return None
    if hasattr(saving_lib, "save_weights_only") and hasattr(saving_lib, "load_weights_only"):
        return saving_lib
    return None


def patch_tf_trainer_reduce(make_reduce):
    """Installs `make_reduce(original)` as the TensorFlow trainer's metric reduction.

    `original` is Keras's `reduce_per_replica(values, strategy, reduction)`;
    `make_reduce` returns a function of the same arguments (which may call
    `original`). Installs once per process: later calls do nothing.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_keras_has_patch", False):
        return
    reduce_per_replica = make_reduce(trainer.reduce_per_replica)
    reduce_per_replica._keras_has_patch = True
    trainer.reduce_per_replica = reduce_per_replica


def build_from_element_spec(model, strategy):
    """Makes `fit`/`evaluate` build a distributed `model` from the data's element spec
    (`Trainer._maybe_symbolic_build` replaced; it uses `_symbolic_build` and the iterator's
    data adapter, Keras 3.9 to 3.15). A model without a strategy is left as it is."""

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if data_batch is None and iterator is not None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    if getattr(model, "_distribute_strategy", None) is not None:
        model._maybe_symbolic_build = maybe_symbolic_build

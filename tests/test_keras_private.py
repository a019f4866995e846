"""keras_has/_keras_private.py: the one module with private Keras/TF names, and its fallbacks."""

import ast
import importlib
import importlib.util
import pathlib

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_has import _keras_private

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKED = ("keras_has", "zoo", "recipes", "benchmarks")
PRIVATE = ("keras.src", "tensorflow.python")
ALLOWED = pathlib.Path("keras_has/_keras_private.py")
BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b)]
# (float, int) pairs of equal item size, as the Hide-and-Seek kernels view them.
PAIRS = [
    ("float32", "int32"),
    ("float16", "int16"),
    ("bfloat16", "int16"),
    ("float64", "int64"),
    ("uint8", "int8"),
]
INT_VIEWS = {1: "int8", 2: "int16", 4: "int32", 8: "int64"}


def _private_uses(path):
    """(line, what) of each import of, or attribute access to, a private module in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names = [f"{node.value.id}.{node.attr}".replace("tf.", "tensorflow.", 1)]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "keras.src" or n.startswith(PRIVATE)]
    return found


def test_only_keras_private_uses_private_keras_or_tensorflow():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.relative_to(ROOT) != ALLOWED
        for line, name in _private_uses(path)
    ]
    assert not offenders, (
        f"only {ALLOWED} may use {' or '.join(PRIVATE)}; move these there:\n" + "\n".join(offenders)
    )


def test_private_uses_finds_each_form(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import keras.src.ops\n"
        "from tensorflow.python.ops import control_flow_util\n"
        "x = keras.src.backend\n"
        "y = tf.python.framework\n"
        "from keras import ops\n"
        "z = keras.ops.view\n"
    )
    assert [line for line, _ in _private_uses(source)] == [1, 2, 3, 4]


def _backend(name, dtype):
    """The Keras backend module `name`; skips 64-bit dtypes that JAX truncates to 32 bits."""
    if name == "jax" and np.dtype(dtype).itemsize == 8:
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without jax_enable_x64 has no 64-bit dtypes")
    return _keras_private.DynamicBackend(name)


def _random_bits(dtype, shape=(3, 8)):
    """Random bytes (NaN and infinity patterns included) viewed as `dtype`."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("source, target", PAIRS)
def test_bitcast_is_numpy_view(backend_name, source, target):
    backend = _backend(backend_name, source)
    x = _random_bits(source)
    # Integer results convert to NumPy exactly: compare all bits (bitcasts are exact).
    ints = backend.convert_to_numpy(_keras_private.bitcast(backend, x, target))
    assert ints.dtype == np.dtype(target)
    np.testing.assert_array_equal(ints, x.view(target))
    # And back: the round trip gives every bit of the integers again.
    floats = _keras_private.bitcast(backend, ints, source)
    assert keras.backend.standardize_dtype(floats.dtype) == source
    back = backend.convert_to_numpy(_keras_private.bitcast(backend, floats, target))
    np.testing.assert_array_equal(back, ints)


@pytest.mark.skipif(not hasattr(keras.ops, "view"), reason="keras.ops.view is Keras >= 3.12")
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("source, target", PAIRS + [(t, s) for s, t in PAIRS])
def test_bitcast_is_keras_view(backend_name, source, target):
    backend = _backend(backend_name, source)
    x = backend.convert_to_tensor(_random_bits(source))
    ours = _keras_private.bitcast(backend, x, target)
    theirs = backend.numpy.view(x, target)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    # Exact: both are bitcasts. Compared as integers, so NaN bit patterns count too.
    ints = INT_VIEWS[np.dtype(target).itemsize]
    np.testing.assert_array_equal(
        backend.convert_to_numpy(backend.numpy.view(ours, ints)),
        backend.convert_to_numpy(backend.numpy.view(theirs, ints)),
    )


def test_data_layer_is_the_base_of_keras_preprocessing_layers():
    assert isinstance(keras.layers.RandomFlip(), _keras_private.DataLayer)
    assert not isinstance(keras.layers.Dense(1), _keras_private.DataLayer)


def test_tf_outside_xla():
    seen = []

    def probe():
        seen.append(_keras_private.tf_outside_xla())
        return tf.constant(0)

    probe()
    tf.function(probe)()
    tf.function(probe, jit_compile=True)()
    assert seen == [True, True, False]


def _trained_model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=seed + 1, verbose=0)
    return model


def test_weights_only_round_trip_leaves_the_optimizer(tmp_path):
    path = str(tmp_path / "model.weights.h5")
    saved, loaded = _trained_model(0), _trained_model(1)
    _keras_private.save_weights_only(saved, path)
    with h5py.File(path) as f:
        assert "optimizer" not in f
    steps = int(loaded.optimizer.iterations)
    _keras_private.load_weights_only(loaded, path)
    # Exact: the weights come back from the file as they were written.
    for a, b in zip(saved.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.optimizer.iterations) == steps == 2


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the TensorFlow trainer")
def test_patch_tf_trainer_reduce(monkeypatch):
    trainer = "keras.src.backend.tensorflow.trainer"
    original = importlib.import_module(trainer).reduce_per_replica
    monkeypatch.setattr(f"{trainer}.reduce_per_replica", original)  # restored after the test
    calls = []

    def make_reduce(keras_reduce):
        assert keras_reduce is original

        def reduce_per_replica(values, strategy, reduction):
            calls.append(reduction)
            return keras_reduce(values, strategy, reduction)

        return reduce_per_replica

    _keras_private.patch_tf_trainer_reduce(make_reduce)
    _keras_private.patch_tf_trainer_reduce(lambda _: pytest.fail("installed twice"))
    _trained_model(0)
    assert "auto" in calls, "the trainer did not reduce its metrics through the patch"

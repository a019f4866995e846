"""HideAndSeek as a Keras layer: harness, tf.data, XLA, precision, saving."""

import hashlib
import json
import math
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import chosen_option, constant_on_cells, hidden_map
from keras.src.testing import TestCase

from keras_has import HideAndSeek


def images(shape=(4, 20, 24, 3), dtype="float32", seed=0):
    """Values in [0, 200), never equal to the fills used here (>= 250)."""
    x = np.random.default_rng(seed).integers(0, 200, shape)
    return x.astype(dtype)


class KerasHarnessTest(TestCase):
    """Keras's own layer checks (serialization, build, symbolic, fit, mixed)."""

    def test_image(self):
        self.run_layer_test(
            HideAndSeek,
            init_kwargs={"patch_size": [0, 4, 0.5], "fill_value": 250.0, "seed": 1},
            input_shape=(2, 12, 16, 3),
            expected_output_shape=(2, 12, 16, 3),
            expected_output_dtype="float32",
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
        )

    def test_uint8_image_keeps_dtype(self):
        self.run_layer_test(
            HideAndSeek,
            init_kwargs={"patch_size": 4, "fill_value": [250, 251, 252]},
            input_data=images((2, 8, 8, 3), "uint8"),
            expected_output_shape=(2, 8, 8, 3),
            expected_output_dtype="uint8",
            run_training_check=False,
        )

    def test_feature_map_running_mean(self):
        self.run_layer_test(
            HideAndSeek,
            init_kwargs={"patch_size": 2, "mode": "feature_map", "seed": 2},
            input_shape=(2, 6, 6, 8),
            expected_output_shape=(2, 6, 6, 8),
            expected_num_non_trainable_weights=2,
            expected_num_seed_generators=1,
        )

    def test_temporal(self):
        self.run_layer_test(
            HideAndSeek,
            init_kwargs={"mode": "temporal", "num_segments": 4, "fill_value": 0.0},
            input_shape=(2, 40, 16),
            expected_output_shape=(2, 40, 16),
            expected_num_seed_generators=1,
        )


def test_in_tf_data_on_batched_and_unbatched_elements():
    x = images((6, 20, 24, 3), "uint8")
    layer = HideAndSeek(patch_size=[8, 0.25], fill_value=[250, 251, 252], seed=3)
    for dataset in (
        tf.data.Dataset.from_tensor_slices(x).map(layer).batch(6),
        tf.data.Dataset.from_tensor_slices(x).batch(4).map(layer).unbatch().batch(6),
        tf.data.Dataset.from_tensor_slices((x, np.arange(6)))
        .batch(3)
        .map(lambda im, y: (layer(im), y), num_parallel_calls=tf.data.AUTOTUNE)
        .map(lambda im, y: im)
        .unbatch()
        .batch(6),
    ):
        out = next(iter(dataset)).numpy()
        assert out.dtype == np.uint8
        hidden = hidden_map(out, x, [250, 251, 252])
        assert 0.2 < hidden.mean() < 0.8
    # New patterns for each element and epoch.
    dataset = tf.data.Dataset.from_tensor_slices(x).map(layer).batch(6)
    first, second = (hidden_map(next(iter(dataset)).numpy(), x, [250, 251, 252]) for _ in "ab")
    assert not np.array_equal(first, second)
    assert len({h.tobytes() for h in first}) == len(first)


def test_seeded_layers_reproduce_and_unseeded_calls_differ():
    x = images()
    a, b = (
        HideAndSeek(patch_size=4, fill_value=250.0, seed=11),
        HideAndSeek(patch_size=4, fill_value=250.0, seed=11),
    )
    first_a, first_b = np.asarray(a(x)), np.asarray(b(x))
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, np.asarray(a(x)))  # a new pattern per call
    c, d = HideAndSeek(patch_size=4, fill_value=250.0), HideAndSeek(patch_size=4, fill_value=250.0)
    outs = [np.asarray(layer(x)) for layer in (c, c, d)]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])


XLA_CASES = [
    ({"patch_size": 8}, (4, 32, 32, 3)),
    ({"patch_size": [0, 16, 32, 44, 56]}, (3, 224, 224, 3)),
    ({"patch_size": 0.3}, (4, 30, 41, 3)),
    ({"patch_size": 5, "data_format": "channels_first"}, (4, 3, 20, 25)),
    ({"mode": "temporal", "num_segments": 20}, (2, 2000, 64)),
]


@pytest.mark.parametrize("dtype", ["float32", "uint8", "float16"])
@pytest.mark.parametrize("kwargs,shape", XLA_CASES)
def test_under_xla(kwargs, shape, dtype):
    """XLA-compiled calls hide whole cells with the exact fill.

    (XLA's stateless RNG draws a different stream than TensorFlow's kernels
    for the same seed, so patterns are compared by structure, not equality.)
    """
    x = tf.constant(images(shape, dtype))
    channels_first = kwargs.get("data_format") == "channels_first"
    channels = shape[1] if channels_first else shape[-1]
    fill = list(np.arange(channels) % 6 + 250.0)
    layer = HideAndSeek(fill_value=fill, seed=5, **kwargs)
    compiled = tf.function(lambda t: layer(t), jit_compile=True)
    outs = [compiled(x).numpy() for _ in range(2)]
    assert outs[0].dtype == x.dtype.as_numpy_dtype
    maps = [hidden_map(o, x.numpy(), fill, 1 if channels_first else -1) for o in outs]
    assert 0.2 < maps[0].mean() < 0.8 and not np.array_equal(*maps)
    sizes = kwargs.get("patch_size", [])
    options = sizes if isinstance(sizes, list) else [sizes]
    for image in maps[0]:
        if kwargs.get("mode") == "temporal":
            assert constant_on_cells(image, (100,))
        else:
            assert chosen_option(image, options) is not None


@pytest.mark.parametrize("jit_compile", [None, False, True], ids=["eager", "graph", "xla"])
@pytest.mark.parametrize("mode", ["image", "feature_map"])
def test_gradient_flows_to_visible_values_only(mode, jit_compile):
    layer = HideAndSeek(patch_size=[3, 5], fill_value=-7.0, mode=mode, seed=4)
    x = tf.constant(np.random.default_rng(0).random((6, 12, 10, 4), dtype=np.float32))
    weights = tf.constant(np.random.default_rng(1).random((6, 12, 10, 4), dtype=np.float32))

    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(out * weights)
        return out, tape.gradient(loss, x)

    if jit_compile is not None:
        run = tf.function(run, jit_compile=jit_compile)
    out, gradient = run(x)
    hidden = hidden_map(out.numpy(), x.numpy(), [-7.0] * 4)
    assert 0 < hidden.mean() < 1
    np.testing.assert_array_equal(gradient, np.where(hidden[..., None], 0.0, weights))


def test_fit_hides_and_predict_evaluate_do_not():
    """Mean of an all-ones image with 0-filled cells: 1 only without hiding."""
    inputs = keras.Input((16, 16, 1))
    hidden = HideAndSeek(patch_size=4, fill_value=0.0, seed=0)(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((32, 16, 16, 1), "float32"), np.ones((32, 1), "float32")
    train_loss = model.train_on_batch(x, y)
    assert train_loss > 0.05  # about E[(hidden fraction)^2] = 0.25 + var
    assert model.evaluate(x, y, verbose=0) == 0.0
    np.testing.assert_array_equal(model.predict(x, verbose=0), y)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] > 0.05


@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_fit_with_and_without_xla(jit_compile):
    x = images((16, 16, 16, 3)) / 200.0
    layer = HideAndSeek(patch_size=[0, 4, 8])
    layer.adapt(x)
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(4, 3)(layer(inputs))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    history = model.fit(x, np.zeros((16, 2)), batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_mixed_precision_keeps_input_dtypes():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((16, 16, 3))
        image_has = HideAndSeek(patch_size=4, fill_value=250.0, seed=0)
        conv = keras.layers.Conv2D(8, 3, padding="same")
        feature_has = HideAndSeek(patch_size=2, mode="feature_map", seed=0)
        x = image_has(inputs)
        f = feature_has(conv(x))
        outputs = keras.layers.Dense(2, dtype="float32")(keras.layers.GlobalAveragePooling2D()(f))
        assert x.dtype == "float32" and f.dtype == "float16"
        model = keras.Model(inputs, [x, f, outputs])
        data = images((4, 16, 16, 3))
        out_x, out_f, _ = (np.asarray(t) for t in model(data, training=True))
        assert out_x.dtype == np.float32 and out_f.dtype == np.float16
        hidden_map(out_x, data, 250.0)
        assert feature_has.mean.dtype == "float32"
        # Hidden feature cells hold the running mean, cast to float16.
        plain = np.asarray(conv(out_x))
        fill = keras.ops.convert_to_numpy(feature_has.mean).astype("float16")
        is_fill = np.all(out_f == fill, axis=-1)
        assert np.array_equal(out_f[~is_fill], plain[~is_fill]) and 0.1 < is_fill.mean() < 0.9
        trainer = keras.Model(inputs, outputs)
        trainer.compile(optimizer="sgd", loss="mse")
        loss = trainer.fit(data / 200, np.zeros((4, 2)), verbose=0).history["loss"][0]
        assert np.isfinite(loss)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_keras_save_load_round_trip(tmp_path):
    train = images((8, 16, 16, 3), "float32", seed=9)
    layer = HideAndSeek(patch_size=[0, 4, 0.25], hide_prob=0.4, image_prob=0.5, seed=3, name="has")
    layer.adapt(train)
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.get_layer("has")
    assert isinstance(restored, HideAndSeek)
    assert restored.get_config() == layer.get_config()
    assert restored.image_prob == 0.5
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.mean), keras.ops.convert_to_numpy(layer.mean)
    )
    # Same weights and ops; float32 sums may be ordered differently by CPU threads.
    np.testing.assert_allclose(
        loaded.predict(train, verbose=0), model.predict(train, verbose=0), rtol=1e-5, atol=1e-6
    )
    # The adapted mean is usable for training straight away.
    hidden = hidden_map(np.asarray(restored(train)), train, keras.ops.convert_to_numpy(layer.mean))
    assert hidden.any()


def test_export_round_trip_serves_without_hiding(tmp_path):
    train = images((8, 16, 16, 3))
    layer = HideAndSeek(patch_size=4, hide_prob=1.0)
    layer.adapt(train)
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "export")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    served = reloaded.serve(tf.constant(train))
    np.testing.assert_allclose(served.numpy(), model.predict(train, verbose=0), rtol=1e-5)
    # With every cell hidden in training, serving must not have hidden any.
    filled = model(train, training=True).numpy()
    assert not np.allclose(filled, served.numpy())


IMAGE_PROB_RANGE = r"`image_prob` must be a number in \[0, 1\]"
BAD_ARGUMENTS = [
    ({"patch_size": -3}, "patch_size"),
    ({"patch_size": 1.5}, "patch_size"),
    ({"patch_size": []}, "patch_size"),
    ({"patch_size": [16, "a"]}, "patch_size"),
    ({"patch_size": True}, "patch_size"),
    ({}, "patch_size"),
    ({"patch_size": 4, "hide_prob": 1.2}, "hide_prob"),
    ({"patch_size": 4, "hide_prob": -0.1}, "hide_prob"),
    ({"patch_size": 4, "image_prob": 1.5}, IMAGE_PROB_RANGE),
    ({"patch_size": 4, "image_prob": -0.1}, IMAGE_PROB_RANGE),
    ({"patch_size": 4, "image_prob": "0.5"}, IMAGE_PROB_RANGE),
    ({"patch_size": 4, "image_prob": True}, IMAGE_PROB_RANGE),
    ({"patch_size": 4, "fill_value": "median"}, "fill_value"),
    ({"patch_size": 4, "fill_value": [[1, 2]]}, "fill_value"),
    ({"patch_size": 4, "mode": "video"}, "mode"),
    ({"patch_size": 4, "mode": ["image"]}, "mode"),
    ({"patch_size": 4, "num_segments": 20}, "num_segments"),
    ({"mode": "temporal"}, "num_segments"),
    ({"mode": "temporal", "patch_size": 100, "num_segments": 20}, "num_segments"),
    ({"mode": "temporal", "num_segments": 0}, "num_segments"),
    ({"mode": "temporal", "num_segments": 20, "data_format": "channels_first"}, "data_format"),
    ({"patch_size": 4, "momentum": 1.0}, "momentum"),
    ({"patch_size": 4, "seed": "1"}, "seed"),
    ({"patch_size": 4, "seed": True}, "seed"),
    ({"patch_size": 4, "data_format": "nhwc"}, "data_format"),
]


@pytest.mark.parametrize("kwargs,argument", BAD_ARGUMENTS)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        HideAndSeek(**kwargs)


BAD_INPUTS = [
    ({"patch_size": 4, "fill_value": 0.0}, (5, 4), "rank 3 or 4"),
    ({"patch_size": 4, "fill_value": 0.0}, (2, 3, 8, 8, 3), "rank 3 or 4"),
    ({"patch_size": 4, "fill_value": 0.0}, (32, 200, 64), "mode='temporal'"),
    ({"mode": "temporal", "num_segments": 2, "fill_value": 0.0}, (2, 8, 8, 3), "rank 2 or 3"),
    ({"patch_size": 4, "fill_value": [1.0, 2.0]}, (2, 8, 8, 3), "fill_value"),
    ({"patch_size": 4}, (2, 8, 8, 3), "adapt"),
]


@pytest.mark.parametrize("kwargs,shape,message", BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        HideAndSeek(**kwargs)(np.zeros(shape, "float32"))


@pytest.mark.parametrize("dtype", ["bool", "complex64"])
def test_non_numeric_inputs_are_refused(dtype):
    with pytest.raises(ValueError, match="real-valued numeric"):
        HideAndSeek(patch_size=4, fill_value=0.0)(np.zeros((1, 8, 8, 3), dtype))


def test_other_input_errors():
    with pytest.raises(ValueError, match="outside the range of uint8"):
        HideAndSeek(patch_size=4, fill_value=300)(np.zeros((1, 8, 8, 3), "uint8"))
    layer = HideAndSeek(patch_size=4)
    layer.adapt(np.zeros((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="built for 3 channels"):
        layer(np.zeros((2, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="adapt"):
        HideAndSeek(patch_size=4, fill_value=0.0).adapt(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="running mean"):
        HideAndSeek(patch_size=4, mode="feature_map").adapt(np.zeros((2, 8, 8, 3)))


def test_package_metadata():
    import keras_has

    assert keras_has.__version__ and keras_has.HideAndSeek is HideAndSeek
    assert keras.saving.get_registered_object("keras_has>HideAndSeek") is HideAndSeek
    assert os.path.isdir(os.path.dirname(keras_has.__file__))


def test_calls_without_a_training_flag():
    """Standalone and pipeline calls augment; flagless network calls do not."""
    x = images((4, 16, 16, 3))
    layer = HideAndSeek(patch_size=4, hide_prob=1.0, fill_value=250.0)
    assert hidden_map(np.asarray(layer(x)), x, 250.0).all()
    assert not hidden_map(np.asarray(layer(x, training=False)), x, 250.0).any()
    pipeline = keras.Sequential([layer, keras.layers.Rescaling(1.0)])
    assert hidden_map(np.asarray(pipeline(x)), x, 250.0).all()
    mapped = next(iter(tf.data.Dataset.from_tensor_slices(x).batch(4).map(pipeline)))
    assert hidden_map(mapped.numpy(), x, 250.0).all()
    inputs = keras.Input((16, 16, 3))
    network = keras.Model(inputs, keras.layers.Dense(3)(layer(inputs)))
    np.testing.assert_array_equal(np.asarray(network(x)), np.asarray(network(x, training=False)))
    assert not np.allclose(np.asarray(network(x)), np.asarray(network(x, training=True)))


@pytest.mark.parametrize("patch_size", [4, [0, 3, 0.5], 0.25])
def test_sizes_known_only_at_run_time(patch_size):
    """Variable-size images in tf.data and a None-shaped tf.function."""
    layer = HideAndSeek(patch_size=patch_size, fill_value=[250.0, 251.0, 252.0], seed=4)
    shapes = [(9, 13, 3), (16, 7, 3), (20, 20, 3)]
    arrays = [images((1, *s))[0] for s in shapes]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(arrays), output_signature=tf.TensorSpec((None, None, 3), tf.float32)
    ).map(layer)
    signature = [tf.TensorSpec((None, None, None, 3), tf.float32)]
    batched = tf.function(lambda t: layer(t), input_signature=signature)
    options = patch_size if isinstance(patch_size, list) else [patch_size]
    fractions = []
    for _ in range(3):
        for out, x in [*zip(dataset, arrays), *[(batched(x[None])[0], x) for x in arrays]]:
            hidden = hidden_map(out.numpy(), x, [250.0, 251.0, 252.0])
            fractions.append(hidden.mean())
            assert chosen_option(hidden, options) is not None
    assert 0.15 < np.mean(fractions) < 0.85


# ------------------------------------------------------------ patch_size units


@pytest.mark.parametrize(
    "patch_size", [1.0, 16.0, 0.0, -0.5, 2.5, [0, 16, 32.0], np.float64(56.0), np.float32(1.0)]
)
def test_float_patch_sizes_are_fractions_only(patch_size):
    message = r"`patch_size`.*ints are pixels, floats in \(0, 1\) are fractions"
    with pytest.raises(ValueError, match=message):
        HideAndSeek(patch_size=patch_size)


@pytest.mark.parametrize(
    "patch_size,cells",
    [(1, (1, 1)), (np.int64(4), (4, 4)), (0.25, (3, 4)), (0.999, (12, 16))],
)
def test_ints_are_pixels_and_floats_are_fractions(patch_size, cells):
    """1 is 1-pixel cells, 0.999 one cell per side; the config keeps the type."""
    x = images((64, 12, 16, 1))
    layer = HideAndSeek(patch_size=patch_size, fill_value=250.0, seed=0)
    hidden = hidden_map(np.asarray(layer(x)), x, 250.0)
    assert all(constant_on_cells(h, cells) for h in hidden)
    # Not constant on a grid twice as coarse: the cells are not larger.
    coarser = tuple(min(2 * c, n) for c, n in zip(cells, (12, 16)))
    assert coarser == (12, 16) or not all(constant_on_cells(h, coarser) for h in hidden)
    config = json.loads(json.dumps(layer.get_config()))
    assert type(config["patch_size"]) is (float if isinstance(patch_size, float) else int)
    assert HideAndSeek.from_config(config)._cells == layer._cells


# ------------------------------------------------------------ non-finite data


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_adapt_refuses_non_finite_data_and_stores_nothing(bad):
    clean = images((6, 8, 8, 3))
    dirty = clean.copy()
    dirty[[0, 5], 2, 3, 1] = bad
    message = r"adapt\(\) data has non-finite values \(NaN or inf\): 2 of 1152 values"
    layer = HideAndSeek(patch_size=4, hide_prob=1.0)
    layer.adapt(clean)
    before = keras.ops.convert_to_numpy(layer.mean)
    for data in (dirty, tf.data.Dataset.from_tensor_slices(dirty).batch(4)):
        with pytest.raises(ValueError, match=message):
            layer.adapt(data, batch_size=2)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.mean), before)
    # The fill is still the clean mean, bit for bit.
    out = np.asarray(layer(clean))
    np.testing.assert_array_equal(out, np.broadcast_to(before, out.shape))
    fresh = HideAndSeek(patch_size=4)
    with pytest.raises(ValueError, match=message):
        fresh.adapt(dirty)
    assert not fresh.built
    with pytest.raises(ValueError, match="call `layer.adapt"):
        fresh(clean)


@pytest.mark.parametrize("value", [1e39, 1e308])
def test_adapt_refuses_a_mean_outside_float32(value):
    """Finite float64 data whose mean (1e39) or sum (1e308 * 32) is not a float32."""
    layer = HideAndSeek(patch_size=4)
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="float32"):
        layer.adapt(np.full((2, 4, 4, 1), value))
    assert not layer.built


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_feature_map_running_mean_skips_non_finite_batches(bad):
    """A batch with a non-finite mean leaves the running mean and count alone."""
    rng = np.random.default_rng(7)
    a, b, c = rng.random((3, 4, 6, 6, 8)).astype("float32")
    b[1, 2, 3, 4] = bad
    layer = HideAndSeek(patch_size=3, mode="feature_map", momentum=0.9, seed=0)

    def state():
        mean, count = (keras.ops.convert_to_numpy(v) for v in (layer.mean, layer.count))
        return mean, float(count)

    layer(b, training=True)  # first batch non-finite: no mean yet (zeros), none counted
    np.testing.assert_array_equal(state()[0], np.zeros(8, "float32"))
    assert state()[1] == 0
    layer(a, training=True)
    first = state()[0]
    # float32 means of 144 values in [0, 1): a few ulps from float64's.
    np.testing.assert_allclose(first, a.mean((0, 1, 2)), rtol=1e-5)
    out = np.asarray(layer(b, training=True))
    np.testing.assert_array_equal(state()[0], first)
    assert state()[1] == 1
    # Hidden cells hold the kept mean; visible values (the NaN/inf too) are untouched.
    is_fill = np.all(out == first, axis=-1)
    assert 0 < is_fill.mean() < 1
    np.testing.assert_array_equal(out.view("u4")[~is_fill], b.view("u4")[~is_fill])
    layer(c, training=True)
    # float32 arithmetic of the update: a few ulps.
    np.testing.assert_allclose(state()[0], 0.9 * first + 0.1 * c.mean((0, 1, 2)), rtol=1e-5)
    assert state()[1] == 2


BACKEND_SCRIPT = """
import keras
import numpy as np
from keras_has import HideAndSeek

x = np.random.default_rng(1).random((4, 4, 4, 3)).astype("float32")
inputs = keras.Input((4, 4, 3))
has = HideAndSeek(patch_size=2, mode="feature_map", seed=0)
features = has(keras.layers.Conv2D(3, 1)(inputs))
model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(features))
model.compile("sgd", "mse")
model.fit(x, np.zeros((4, 3)), batch_size=2, verbose=0)
mean = keras.ops.convert_to_numpy(has.mean)
assert float(keras.ops.convert_to_numpy(has.count)) == 2 and np.isfinite(mean).all()
for layer in (has, HideAndSeek(patch_size=2, fill_value=1.0)):
    assert tuple(layer(x[:0], training=True).shape) == (0, 4, 4, 3)
x[0, 1, 2, 0] = np.nan
model.fit(x[:2], np.zeros((2, 3)), verbose=0)
np.testing.assert_array_equal(keras.ops.convert_to_numpy(has.mean), mean)
assert float(keras.ops.convert_to_numpy(has.count)) == 2
half = HideAndSeek(patch_size=2, hide_prob=1.0, image_prob=0.5, fill_value=-1.0, seed=0)
labels = np.arange(64)
out = half({"images": np.zeros((64, 4, 4, 3), "float32"), "labels": labels}, training=True)
assert out["labels"] is labels
hidden = keras.ops.convert_to_numpy(out["images"]).reshape(64, -1) == -1
assert (hidden.all(1) | ~hidden.any(1)).all() and 12 < hidden.all(1).sum() < 52  # 5 sigma
print("backend OK")
"""


def run_script(code, **env):
    """Runs `code` in a fresh Python with `env` added; asserts it exits 0."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_feature_map_training_empty_batches_and_image_prob_on_other_backends(backend):
    """fit with a feature-map layer (JAX leaked a tracer when the running mean
    had a gradient), non-finite batches skipped, empty batches returned;
    image_prob on a dict's images."""
    pytest.importorskip(backend)
    result = run_script(BACKEND_SCRIPT, KERAS_BACKEND=backend)
    assert "backend OK" in result.stdout


# ------------------------------------------------------- plain Python inputs


def test_nested_lists_are_taken_like_arrays():
    """As Keras's own layers do: Python floats become floatx, ints int32."""
    x = images((2, 4, 4, 3))
    layer = HideAndSeek(patch_size=2, hide_prob=1.0, fill_value=250.0)
    for values, dtype in [(x.tolist(), "float32"), (x.astype(int).tolist(), "int32")]:
        out = layer(values)
        assert keras.backend.standardize_dtype(out.dtype) == dtype
        np.testing.assert_array_equal(np.asarray(out), np.full(x.shape, 250, dtype))
        np.testing.assert_array_equal(np.asarray(layer(values, training=False)), x)
    assert tuple(layer(x[0].tolist()).shape) == (4, 4, 3)
    adapted = HideAndSeek(patch_size=2)
    for data in (x.tolist(), tuple(x)):
        adapted.adapt(data)
        # Sums in float64, mean stored in float32.
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(adapted.mean), x.reshape(-1, 3).mean(0), rtol=1e-6
        )


NOT_NUMBERS = [
    "abc",
    [[["a", "b"]]],
    [b"ab"],
    np.array([[[["a"]]]]),
    np.ones((1, 2, 2, 3), dtype=object),
    tf.constant([[["a", "b", "c"]]]),
]


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=lambda v: type(v).__name__)
def test_strings_and_objects_are_refused(value):
    layer = HideAndSeek(patch_size=2, fill_value=0.0)
    for training in (True, False):
        with pytest.raises(ValueError, match=r"`inputs`.*real-valued numeric dtype"):
            layer(value, training=training)
    with pytest.raises(ValueError, match=r"`data`.*real-valued numeric dtype"):
        HideAndSeek(patch_size=2).adapt(value)


def test_strings_are_refused_in_tf_data_and_ragged_lists_everywhere():
    layer = HideAndSeek(patch_size=2, fill_value=0.0)
    strings = tf.data.Dataset.from_tensor_slices(tf.constant([[[["a"]]]]))
    with pytest.raises(ValueError, match=r"`inputs`.*real-valued numeric dtype"):
        strings.map(layer)
    with pytest.raises(ValueError, match=r"`data`.*real-valued numeric dtype"):
        HideAndSeek(patch_size=2).adapt(strings)
    ragged = [[[[1.0]], [[2.0]]], [[[3.0]]]]
    with pytest.raises(ValueError, match=r"`inputs`.*rectangular"):
        layer(ragged)
    with pytest.raises(ValueError, match=r"`data`.*rectangular"):
        HideAndSeek(patch_size=2).adapt(ragged)


# ---------------------------------------------------------------- empty inputs

STATIC_EMPTY = [
    ({"patch_size": 4}, (2, 0, 0, 3)),
    ({"patch_size": 4}, (2, 8, 0, 3)),
    ({"patch_size": 0.5}, (0, 8, 3)),
    ({"patch_size": 4}, (2, 8, 8, 0)),
    ({"patch_size": 4, "data_format": "channels_first"}, (2, 3, 8, 0)),
    ({"patch_size": 4, "mode": "feature_map"}, (2, 0, 0, 8)),
    ({"mode": "temporal", "num_segments": 4}, (2, 0, 16)),
    ({"mode": "temporal", "patch_size": 3}, (0, 16)),
]


@pytest.mark.parametrize("kwargs,shape", STATIC_EMPTY)
def test_empty_static_axes_are_refused(kwargs, shape):
    with pytest.raises(ValueError, match="empty.*" + re.escape(f"shape={shape}")):
        HideAndSeek(fill_value=0.0, **kwargs)(np.zeros(shape, "float32"))
    if kwargs.get("mode") != "feature_map":
        batched = 3 if kwargs.get("mode") == "temporal" else 4
        data = np.zeros(shape if len(shape) == batched else (1, *shape))
        with pytest.raises(ValueError, match="empty.*" + re.escape(f"shape={data.shape}")):
            HideAndSeek(**kwargs).adapt(data)


@pytest.mark.parametrize("mode,shape", [("image", (0, 8, 8, 3)), ("feature_map", (0, 6, 6, 4))])
def test_empty_batches_pass_through(mode, shape):
    """No images, nothing to hide; the running mean is not touched."""
    layer = HideAndSeek(patch_size=2, mode=mode, fill_value="mean" if mode != "image" else 1.0)
    out = layer(np.zeros(shape, "float32"), training=True)
    assert tuple(out.shape) == shape
    if mode == "feature_map":
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.mean), np.zeros(4))
        assert float(keras.ops.convert_to_numpy(layer.count)) == 0


IMAGES, CHANNELS_FIRST = (None, None, None, 3), (None, 3, None, None)
EMPTY_IMAGES = [(2, 0, 0, 3), (2, 0, 5, 3), (2, 5, 0, 3)]
DYNAMIC_EMPTY = [
    ({"patch_size": 4}, IMAGES, [*EMPTY_IMAGES, (0, 5, 5, 3)]),
    ({"patch_size": 0.5}, IMAGES, EMPTY_IMAGES),
    ({"patch_size": [0, 4, 0.5]}, IMAGES, EMPTY_IMAGES),
    (
        {"patch_size": 4, "data_format": "channels_first"},
        CHANNELS_FIRST,
        [(2, 3, 0, 5), (2, 3, 5, 0)],
    ),
    ({"patch_size": 4}, (None, None, 3), [(0, 0, 3), (0, 5, 3), (5, 0, 3)]),
    ({"mode": "temporal", "num_segments": 4}, (None, None, 5), [(2, 0, 5), (0, 7, 5)]),
    ({"mode": "temporal", "patch_size": [0, 3]}, (None, 5), [(0, 5)]),
]


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("kwargs,signature,shapes", DYNAMIC_EMPTY)
def test_empty_inputs_known_only_at_run_time_pass_through(kwargs, signature, shapes, jit_compile):
    """As keras.layers.RandomErasing does: an empty input comes back unchanged."""
    channels = 3 if signature[-1] is None else signature[-1]
    fill = [250.0 + i for i in range(channels)]
    layer = HideAndSeek(fill_value=fill, hide_prob=1.0, seed=0, **kwargs)
    run = tf.function(
        lambda t: layer(t, training=True),
        input_signature=[tf.TensorSpec(signature, tf.float32)],
        jit_compile=jit_compile,
    )
    for shape in shapes:
        assert tuple(run(tf.zeros(shape)).shape) == shape
    # The same function still hides non-empty inputs: each image (or the
    # unbatched one) whole, or not at all for a 0 option.
    full = tuple(6 if n is None else n for n in signature)
    x = images(full)
    channel_axis = 1 if kwargs.get("data_format") == "channels_first" else -1
    batched = len(full) == (3 if kwargs.get("mode") == "temporal" else 4)
    hidden = np.stack(
        [hidden_map(run(tf.constant(x)).numpy(), x, fill, channel_axis) for _ in range(4)]
    )
    per_image = hidden.reshape(4 * (len(x) if batched else 1), -1)
    assert per_image.any() and (per_image.all(1) | ~per_image.any(1)).all()


def test_empty_images_in_tf_data_pass_through():
    layer = HideAndSeek(patch_size=[0, 4, 0.5], fill_value=250.0, hide_prob=1.0, seed=0)
    shapes = [(0, 0, 1), (0, 7, 1), (7, 0, 1), (7, 7, 1)]
    dataset = tf.data.Dataset.from_generator(
        lambda: (np.ones(s, "float32") for s in shapes),
        output_signature=tf.TensorSpec((None, None, 1), tf.float32),
    ).map(layer)
    outs = list(dataset.as_numpy_iterator())
    assert [o.shape for o in outs] == shapes
    assert np.isin(outs[-1], [1.0, 250.0]).all()


# ----------------------------------------------------------------- retracing


RETRACING_SCRIPT = """
import numpy as np
from keras_has import HideAndSeek

layer = HideAndSeek(patch_size=3, hide_prob=1.0, fill_value=250.0)
for _ in range(2):
    for size in range(8, 14):
        x = np.zeros((2, size, size + 1, 3), "float32")
        assert (np.asarray(layer(x)) == 250.0).all()
print("hid 6 shapes twice")
"""


def test_eager_calls_on_new_shapes_do_not_warn_about_retracing():
    """Each shape compiles its kernel once; TensorFlow must not call it retracing.

    In a fresh process: TensorFlow warns at most twice per function per process.
    """
    result = run_script(RETRACING_SCRIPT)
    assert "hid 6 shapes twice" in result.stdout
    assert "retracing" not in result.stderr, result.stderr[-3000:]


# ---------------------------------------------------- dicts of Keras image pipelines


def detection_data(batch=4, seed=0):
    """The dicts of Keras's image preprocessing layers: 24x20 images, xyxy boxes, masks."""
    rng = np.random.default_rng(seed)
    xs, ys = (np.sort(rng.uniform(0, n, (batch, 3, 2)), -1) for n in (20, 24))
    boxes = np.stack([xs[..., 0], ys[..., 0], xs[..., 1], ys[..., 1]], -1).astype("float32")
    return {
        "images": images((batch, 24, 20, 3), seed=seed),
        "labels": np.arange(batch),
        "bounding_boxes": {"boxes": boxes, "labels": rng.integers(0, 3, (batch, 3))},
        "segmentation_masks": rng.integers(0, 5, (batch, 24, 20, 1)).astype("int32"),
    }


def keras_augment(*more):
    """Keras's own crop and flip, seeded, then `more` layers."""
    return keras.layers.Pipeline(
        [
            keras.layers.RandomCrop(16, 16, seed=1, bounding_box_format="xyxy"),
            keras.layers.RandomFlip(seed=2, bounding_box_format="xyxy"),
            *more,
        ]
    )


AUGMENT_PATHS = {
    "eager": lambda pipeline: pipeline(detection_data()),
    "tf.data batches": lambda pipeline: next(
        iter(tf.data.Dataset.from_tensor_slices(detection_data()).batch(4).map(pipeline))
    ),
    "tf.data images": lambda pipeline: next(
        iter(tf.data.Dataset.from_tensor_slices(detection_data()).map(pipeline).batch(4))
    ),
}


@pytest.mark.parametrize("path", AUGMENT_PATHS)
def test_dicts_in_a_keras_pipeline_hide_images_only(path):
    """Boxes, masks and labels are what Keras's layers alone give, bit for bit;
    the images are theirs with whole cells filled."""
    run = AUGMENT_PATHS[path]
    has = HideAndSeek(patch_size=4, fill_value=250.0, seed=3)
    hidden_out, keras_out = run(keras_augment(has)), run(keras_augment())
    keras.tree.assert_same_structure(hidden_out, keras_out)
    assert list(hidden_out) == list(keras_out)
    for key in ("labels", "bounding_boxes", "segmentation_masks"):
        for got, expected in zip(
            keras.tree.flatten(hidden_out[key]), keras.tree.flatten(keras_out[key])
        ):
            got, expected = np.asarray(got), np.asarray(expected)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(
                got.view(f"u{got.itemsize}"), expected.view(f"u{got.itemsize}")
            )
    hidden = hidden_map(np.asarray(hidden_out["images"]), np.asarray(keras_out["images"]), 250.0)
    assert hidden.shape == (4, 16, 16) and 0 < hidden.mean() < 1
    assert all(constant_on_cells(image, (4, 4)) for image in hidden)


def test_dict_entries_other_than_images_pass_through():
    """The same keys in the same order, the same objects; the caller's dict is not changed."""
    data = {**detection_data(), "names": np.array(["a", "b", "c", "d"])}
    x = data["images"]
    layer = HideAndSeek(patch_size=4, hide_prob=1.0, fill_value=250.0)
    out = layer(data)
    assert list(out) == list(data) and data["images"] is x
    assert all(out[key] is data[key] for key in data if key != "images")
    np.testing.assert_array_equal(np.asarray(out["images"]), np.full(x.shape, 250.0, "float32"))
    np.testing.assert_array_equal(np.asarray(layer(data, training=False)["images"]), x)
    single = layer(
        {"images": x[0].astype("uint8"), "segmentation_masks": data["segmentation_masks"][0]}
    )
    assert single["images"].shape == (24, 20, 3) and single["images"].dtype == "uint8"


def test_adapt_on_dicts_uses_the_images():
    data = detection_data(8)
    expected = data["images"].reshape(-1, 3).mean(0, dtype="float64")
    for source in (
        data,
        tf.data.Dataset.from_tensor_slices(data).batch(3),
        tf.data.Dataset.from_tensor_slices(data),
    ):
        layer = HideAndSeek(patch_size=4)
        layer.adapt(source)
        # Summed in float64, stored in float32: one float32 rounding.
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mean), expected, rtol=1e-6)


DICT_ERRORS = [
    (
        {"patch_size": 2, "mode": "feature_map"},
        {"images": np.zeros((1, 4, 4, 3))},
        "mode='feature_map'",
    ),
    ({"num_segments": 2, "mode": "temporal"}, {"images": np.zeros((1, 4, 3))}, "mode='temporal'"),
    ({"patch_size": 2}, {"image": np.zeros((1, 4, 4, 3))}, "'images' key.*'image'"),
]


@pytest.mark.parametrize("kwargs,data,message", DICT_ERRORS)
def test_dicts_need_image_mode_and_an_images_key(kwargs, data, message):
    layer = HideAndSeek(fill_value=0.0, **kwargs)
    with pytest.raises(ValueError, match=message):
        layer(data)
    if kwargs.get("mode") != "feature_map":  # feature maps are never adapted
        for source in (data, tf.data.Dataset.from_tensor_slices(data)):
            with pytest.raises(ValueError, match=message):
                HideAndSeek(**kwargs).adapt(source)


# ---------------------------------------------------------------- image_prob

IMAGE_PROB_PATHS = {
    "eager": lambda layer: layer,
    "tf.data": lambda layer: lambda x: next(iter(tf.data.Dataset.from_tensors(x).map(layer))),
    "xla": lambda layer: tf.function(lambda x: layer(x), jit_compile=True),
    "run-time shapes": lambda layer: tf.function(
        lambda x: layer(x), input_signature=[tf.TensorSpec((None, None, None, 1), tf.float32)]
    ),
}


@pytest.mark.parametrize("path", IMAGE_PROB_PATHS)
def test_image_prob_leaves_whole_images_in_every_path(path):
    """With every cell of a hidden image hidden, an image is all fill or untouched."""
    x = tf.constant(images((400, 8, 8, 1)))
    kwargs = {"patch_size": [4, 0.5], "hide_prob": 1.0, "fill_value": 250.0}
    counts = {}
    # image_prob 1 first: a kernel cached for it must not serve image_prob 0.25.
    for image_prob in (1.0, 0.25, 0.0):
        run = IMAGE_PROB_PATHS[path](HideAndSeek(image_prob=image_prob, seed=7, **kwargs))
        hidden = hidden_map(np.asarray(run(x)), x.numpy(), 250.0).reshape(400, -1)
        assert (hidden.all(1) | ~hidden.any(1)).all()
        counts[image_prob] = hidden.all(1).sum()
    assert counts[1.0] == 400 and counts[0.0] == 0
    assert abs(counts[0.25] - 100) < 5 * math.sqrt(400 * 0.25 * 0.75), counts


def test_image_prob_1_keeps_the_patterns_of_earlier_versions():
    """The draws of image_prob=1 are those of the layer before image_prob existed.

    Fingerprints of two calls' hidden maps, recorded with that layer
    (TensorFlow's Philox: the same numbers on every machine).
    """
    x = tf.constant(images((16, 24, 24, 3)))
    expected = {
        "eager": "fdf029229b74c15d",
        "xla": "fdf029229b74c15d",
        "run-time shapes": "1ecae8ff545acb92",
    }
    signature = [tf.TensorSpec((None, None, None, 3), tf.float32)]
    for path, fingerprint in expected.items():
        layer = HideAndSeek(patch_size=[0, 4, 8], image_prob=1.0, fill_value=250.0, seed=1234)
        run = {
            "eager": layer,
            "xla": tf.function(lambda t, layer=layer: layer(t), jit_compile=True),
            "run-time shapes": tf.function(
                lambda t, layer=layer: layer(t), input_signature=signature
            ),
        }[path]
        hidden = np.stack([np.all(np.asarray(run(x)) == 250.0, -1) for _ in range(2)])
        assert hashlib.sha256(np.packbits(hidden).tobytes()).hexdigest()[:16] == fingerprint, path

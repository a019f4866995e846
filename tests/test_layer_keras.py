"""HideAndSeek as a Keras layer: harness, tf.data, XLA, precision, saving."""

import os

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
        tf.data.Dataset.from_tensor_slices((x, np.arange(6))).batch(3).map(
            lambda im, y: (layer(im), y), num_parallel_calls=tf.data.AUTOTUNE
        ).map(lambda im, y: im).unbatch().batch(6),
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
    a, b = HideAndSeek(patch_size=4, fill_value=250.0, seed=11), HideAndSeek(patch_size=4, fill_value=250.0, seed=11)
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
    layer = HideAndSeek(patch_size=[0, 4, 0.25], hide_prob=0.4, seed=3, name="has")
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
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.mean), keras.ops.convert_to_numpy(layer.mean)
    )
    np.testing.assert_allclose(loaded.predict(train, verbose=0), model.predict(train, verbose=0))
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


BAD_ARGUMENTS = [
    ({"patch_size": -3}, "patch_size"),
    ({"patch_size": 1.5}, "patch_size"),
    ({"patch_size": []}, "patch_size"),
    ({"patch_size": [16, "a"]}, "patch_size"),
    ({"patch_size": True}, "patch_size"),
    ({}, "patch_size"),
    ({"patch_size": 4, "hide_prob": 1.2}, "hide_prob"),
    ({"patch_size": 4, "hide_prob": -0.1}, "hide_prob"),
    ({"patch_size": 4, "fill_value": "median"}, "fill_value"),
    ({"patch_size": 4, "fill_value": [[1, 2]]}, "fill_value"),
    ({"patch_size": 4, "mode": "video"}, "mode"),
    ({"patch_size": 4, "num_segments": 20}, "num_segments"),
    ({"mode": "temporal"}, "num_segments"),
    ({"mode": "temporal", "patch_size": 100, "num_segments": 20}, "num_segments"),
    ({"mode": "temporal", "num_segments": 0}, "num_segments"),
    ({"mode": "temporal", "num_segments": 20, "data_format": "channels_first"}, "data_format"),
    ({"patch_size": 4, "momentum": 1.0}, "momentum"),
    ({"patch_size": 4, "seed": "1"}, "seed"),
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
    np.testing.assert_array_equal(
        np.asarray(network(x)), np.asarray(network(x, training=False))
    )
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

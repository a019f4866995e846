"""Video-HaS's localizer (zoo.temporal_cam_net) and its 1-D CAMs (keras_has.CAMModel)."""

import keras
import numpy as np
import pytest

from keras_has import CAMModel, HideAndSeek, zoo


def test_the_paper_network_has_two_500_kernel_pointwise_convs_and_global_max_pooling():
    model = zoo.temporal_cam_net(101, input_shape=(None, 4096))  # THUMOS14, C3D fc7
    assert model.output_shape == (None, 101)
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    assert conv1.kernel.shape == (1, 4096, 500) and conv2.kernel.shape == (1, 500, 500)
    assert isinstance(model.get_layer("cam_pool"), keras.layers.GlobalMaxPooling1D)
    expected = (4096 * 500 + 500) + (500 * 500 + 500) + (500 * 101 + 101)
    assert model.count_params() == expected
    gap = zoo.temporal_cam_net(5, input_shape=(40, 32), pooling="avg", filters=8)
    assert isinstance(gap.get_layer("cam_pool"), keras.layers.GlobalAveragePooling1D)
    assert gap.input_shape == (None, 40, 32)


def test_cams_are_eq1_per_step_and_follow_the_evidence():
    keras.utils.set_random_seed(0)
    model = zoo.temporal_cam_net(3, input_shape=(None, 6), filters=16)
    x = np.random.default_rng(0).normal(size=(2, 50, 6)).astype(np.float32)
    out = CAMModel(model, classes="all")(x)
    assert out["cams"].shape == (2, 50, 3)
    features = keras.Model(model.inputs[0], model.get_layer("conv2").output)(x)
    kernel = model.get_layer("logits").kernel
    # Tolerances: float32 matmuls whose summation order depends on the CPU's kernels and
    # threads; CAM values are O(1), so 1e-5 absolute is ~100 ulps, probabilities 1e-6.
    np.testing.assert_allclose(
        out["cams"], np.einsum("btk,kc->btc", features, kernel), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(out["probabilities"], model(x), rtol=1e-5, atol=1e-6)
    # With GMP, each class's logit is the dense layer on the per-channel max over time.
    logits = (
        np.max(np.asarray(features), axis=1) @ np.asarray(kernel)
        + model.get_layer("logits").bias.numpy()
    )
    # NumPy's float32 matmul of the pooled features vs. the model's: probabilities, 1e-5.
    np.testing.assert_allclose(
        out["probabilities"], keras.ops.softmax(logits), rtol=1e-5, atol=1e-5
    )
    given = CAMModel(model, classes="given")(x, class_ids=np.array([2, 0]))
    # One class's column vs. all columns: different matmul shapes, so a different kernel
    # (and order of the 16 products) may run; equal to float32 rounding, not bit for bit.
    np.testing.assert_allclose(
        given["cams"][:, :, 0], out["cams"].numpy()[[0, 1], :, [2, 0]], rtol=1e-5, atol=1e-6
    )


def test_a_trained_network_marks_the_steps_of_its_class():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 30, 4)).astype(np.float32) * 0.1
    labels = rng.integers(2, size=64)
    where = rng.integers(0, 25, size=64)
    for i, (label, start) in enumerate(zip(labels, where)):
        x[i, start : start + 5, label] += 3.0  # class c lights up feature c for 5 steps
    model = zoo.temporal_cam_net(2, input_shape=(None, 4), filters=8)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=60, batch_size=16, verbose=0)
    cams = CAMModel(model, classes="given")(x, class_ids=labels)["cams"].numpy()[..., 0]
    peaks = cams.argmax(-1)
    assert np.mean((peaks >= where) & (peaks < where + 5)) > 0.9


def test_has_in_the_network_hides_only_while_training():
    has = HideAndSeek(5, 1.0, fill_value=0.0, mode="temporal", seed=0)
    model = zoo.temporal_cam_net(2, input_shape=(None, 3), has=has, filters=4)
    x = np.ones((1, 10, 3), np.float32)
    # Exact: hidden steps are the selected fill, visible ones the input passed through.
    np.testing.assert_array_equal(model.get_layer(has.name)(x, training=True), np.zeros_like(x))
    assert model.get_layer(has.name)(x, training=False).numpy().tolist() == x.tolist()
    plain = zoo.temporal_cam_net(2, input_shape=(None, 3), filters=4)
    for name in ("conv1", "conv2", "logits"):
        plain.get_layer(name).set_weights(model.get_layer(name).get_weights())
    # Inference sees every step: the same weights and float32 ops, eager or graph kernels.
    np.testing.assert_allclose(model(x), plain(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain(x), rtol=1e-5, atol=1e-6)


def test_saved_and_loaded_it_gives_the_same_cams(tmp_path):
    model = zoo.temporal_cam_net(3, input_shape=(None, 5), filters=6)
    path = tmp_path / "temporal.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(2).normal(size=(2, 12, 5)).astype(np.float32)
    # Same weights and ops; only float32 summation order (threads) may differ.
    np.testing.assert_allclose(
        CAMModel(loaded, classes="all")(x)["cams"],
        CAMModel(model, classes="all")(x)["cams"],
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (None, 0)}, "`input_shape`"),
        ({"num_classes": 1}, "`num_classes`"),
        ({"filters": 2.5}, "`filters`"),
        ({"pooling": "sum"}, "`pooling`"),
        ({"input_shape": (0, 8)}, "`input_shape`"),
        ({"has": HideAndSeek(16)}, "mode='temporal'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.temporal_cam_net(**{"input_shape": (None, 8), "num_classes": 3, **kwargs})


def test_ten_crops_are_refused_for_sequences():
    with pytest.raises(ValueError, match="`crop_size` is for images"):
        CAMModel(zoo.temporal_cam_net(2, input_shape=(None, 4), filters=4), crop_size=8)

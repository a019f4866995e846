"""The CIFAR ResNets of He et al. in the zoo: sizes as published, shapes, CAMs, saving."""

import keras
import numpy as np
import pytest

from keras_has import CAMModel, HideAndSeek, zoo

# He et al. (2016a) Table 6 and (2016b) Table 2: parameters in millions, as printed. The
# published counts are the trainable ones (BN moving statistics are not parameters).
PUBLISHED = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 164: "1.7"}


@pytest.mark.parametrize("depth", sorted(PUBLISHED))
def test_trainable_parameters_are_the_published_ones(depth):
    model = zoo.build(f"cifar_resnet{depth}_gap", 10)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    printed = PUBLISHED[depth]
    decimals = len(printed.split(".")[1])
    assert round(trainable / 1e6, decimals) == float(printed), trainable
    features = model.get_layer("cam_pool").input
    assert tuple(features.shape[1:]) == (8, 8, 256 if depth == 164 else 64)


def test_the_cam_of_a_cifar_resnet_is_its_gap_head():
    """CAM = the logits' weights on the last map: its mean over the map is the class logit."""
    model = zoo.build("cifar_resnet20_gap", 10, input_shape=(32, 32, 1))
    images = np.random.default_rng(0).normal(size=(3, 32, 32, 1)).astype("float32")
    out = CAMModel(model, classes="given", resize=False)(images, class_ids=np.array([1, 4, 9]))
    cams = np.asarray(out["cams"])[..., 0]
    assert cams.shape == (3, 8, 8)
    logits = keras.Model(model.input, model.get_layer("logits").output)(images).numpy()
    # CAM mean + bias = logit, in float32 sums of 8x8x64 products: 1e-4 relative.
    bias = model.get_layer("logits").bias.numpy()[[1, 4, 9]]
    np.testing.assert_allclose(
        cams.mean((1, 2)) + bias, logits[[0, 1, 2], [1, 4, 9]], rtol=1e-4, atol=1e-4
    )


def test_zero_pad_shortcut_and_saving(tmp_path):
    """Option A: subsample and zero channels; the model saves and loads with the same outputs."""
    layer = zoo.cifar_resnet.ZeroPadShortcut(8, 2)
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y = np.asarray(layer(x))
    assert y.shape == (2, 2, 2, 8)
    np.testing.assert_array_equal(y[..., 2:5], x[:, ::2, ::2])  # pads 2 before, 3 after
    assert not y[..., :2].any() and not y[..., 5:].any()
    model = zoo.build("cifar_resnet20_gap", 4, has=HideAndSeek(8, seed=1))
    path = tmp_path / "resnet20.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    # Same weights and graph: the same float32 ops, so equal to float32 rounding.
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-6, atol=1e-7
    )


def test_registered_with_the_feature_map_hiding_point():
    assert {f"cifar_resnet{d}_gap" for d in PUBLISHED} <= set(zoo.list_models())
    has = HideAndSeek(4, mode="feature_map")
    model = zoo.backbone("cifar_resnet20", (32, 32, 3), has=has)
    hidden_input = model.get_layer(has.name).input
    assert hidden_input.shape[1:] == (32, 32, 16)  # after conv1's BN-ReLU
    with pytest.raises(ValueError, match="`input_shape` must be"):
        zoo.build("cifar_resnet20_gap", 10, input_shape=(32, 32))

"""The face networks: Khorrami et al.'s zero-bias CNN and the age / gender WRN."""

import keras
import numpy as np
import pytest

from keras_has import zoo


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_zero_bias_cnn_layers_and_parameters():
    model = zoo.zero_bias_cnn(8)
    assert model.input.shape == (None, 96, 96, 1) and model.output.shape == (None, 8)
    # 5x5 convs without bias 1->64->128->256, 2x2x256 quadrants -> 300 -> 8.
    convs = 25 * 64 + 25 * 64 * 128 + 25 * 128 * 256
    assert model.count_params() == convs + (4 * 256 * 300 + 300) + (300 * 8 + 8) == 1_335_508
    assert all(not model.get_layer(f"conv{i}").use_bias for i in (1, 2, 3))
    assert model.get_layer("quadrant_pool").output.shape == (None, 2, 2, 256)
    # The quadrant pooling is the max of each quarter of conv3's map.
    probe = keras.Model(
        model.input, [model.get_layer(n).output for n in ("conv3", "quadrant_pool")]
    )
    x = np.random.default_rng(0).uniform(-1, 1, (1, 96, 96, 1)).astype("float32")
    features, pooled = (np.asarray(v) for v in probe(x))
    np.testing.assert_array_equal(pooled[0, 1, 0], features[0, 12:, :12].max(axis=(0, 1)))
    with pytest.raises(ValueError, match="multiples of 4"):
        zoo.zero_bias_cnn(8, input_shape=(92, 92, 1))  # a 23x23 map


def test_wrn_16_8_has_the_published_size():
    # Zagoruyko & Komodakis: WRN-16-8 on CIFAR-10 has 11.0M parameters (trainable, with its
    # 10-class classifier); rounded to the published precision.
    cifar = zoo.build("wrn", 10, head="cam", input_shape=(32, 32, 3))
    assert round(trainable(cifar) / 1e6, 1) == 11.0
    model = zoo.wrn_age_gender(zoo.faces.AGE_GENDER, depth=10, width=1)
    assert {k: v.shape for k, v in model.output.items()} == {
        "gender": (None, 2),
        "age": (None, 101),
    }
    backbone = zoo.backbone("wrn", (64, 64, 3), depth=10, width=1)
    assert backbone.output.shape == (None, 16, 16, 64)
    out = model(np.zeros((2, 64, 64, 3), "float32"))
    # Softmaxes: the expected age over 0..100 is a number in [0, 100].
    ages = np.asarray(out["age"]) @ np.arange(101)
    assert ((0 <= ages) & (ages <= 100)).all()
    for kwargs, name in (({"depth": 15}, "depth"), ({"width": 0}, "width")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            zoo.backbone("wrn", (64, 64, 3), **kwargs)

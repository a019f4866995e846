"""mini_vgg: the small backbone of the CPU-sized segmentation recipes."""

import keras
import numpy as np
import pytest

from keras_has import HideAndSeek, zoo


def test_shapes_and_parameters():
    backbone = zoo.backbone("mini_vgg", (64, 64, 3))
    assert backbone.output.shape == (None, 8, 8, 128)
    # Convs without bias: 5*5*3*24, 9*24*32, 9*32*64, 9*64*128, 9*128*128; BN: 4 per channel
    # (gamma, beta trainable; moving mean and variance not).
    convs = 5 * 5 * 3 * 24 + 9 * 24 * 32 + 9 * 32 * 64 + 9 * 64 * 128 + 9 * 128 * 128
    channels = 24 + 32 + 64 + 128 + 128
    assert backbone.count_params() == convs + 4 * channels
    trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    assert trainable == convs + 2 * channels
    model = zoo.mini_vgg_gap(8)
    assert (
        model.output.shape == (None, 8)
        and model.count_params() == convs + 4 * channels + 128 * 8 + 8
    )
    assert [backbone.get_layer(n).output.shape[1] for n in ("conv1_relu", "pool2", "pool3")] == [
        32,
        16,
        8,
    ]


def test_width_has_and_size_checks():
    backbone = zoo.backbone("mini_vgg", (None, None, 3), width=0.5)
    assert backbone.output.shape == (None, None, None, 64)
    has = HideAndSeek(8, mode="feature_map", seed=1)
    with_has = zoo.backbone("mini_vgg", (64, 64, 3), has=has)
    assert any(layer is has for layer in with_has.layers)
    # mode "feature_map" hides conv1's map (after its ReLU), as the paper's conv1 of AlexNet.
    hider = next(layer for layer in with_has.layers if layer is has)
    assert hider.input.shape == (None, 32, 32, 24)
    with pytest.raises(ValueError, match="`input_shape`"):
        zoo.backbone("mini_vgg", (4, 4, 3))
    sigmoid = zoo.build("mini_vgg", 5, head="cam", activation="sigmoid")
    assert sigmoid.get_layer("predictions").activation is keras.activations.sigmoid
    with pytest.raises(ValueError, match="`activation`"):
        zoo.build("mini_vgg", 5, head="cam", activation="relu")

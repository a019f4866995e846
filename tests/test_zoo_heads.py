"""The zoo's heads on several backbones: output shapes, parameter counts, layer names."""

import keras
import numpy as np
import pytest

from keras_has import zoo
from keras_has.zoo import heads

# Small backbones, one of images and one of sequences (GoogLeNet's 159 layers take seconds
# to trace; its CAM head is in test_zoo_models): name -> (input_shape, kwargs, K channels of
# the features, shape of one test input).
# alexnet at 67, width 1/16: conv7 512 / 16 = 32 channels, 67 -> 15 -> 7 -> 3 (a 3x3 map).
# temporal: two 1x1 convs of 3 filters over 5 steps of 7 features.
BACKBONES = {
    "alexnet": ((67, 67, 3), {"width": 1 / 16}, 32, (67, 67, 3)),
    "temporal": ((None, 7), {"filters": 3}, 3, (5, 7)),
}


def backbone(name):
    shape, kwargs, _, _ = BACKBONES[name]
    return zoo.backbone(name, shape, **kwargs)


def batch(name, n=2):
    return np.random.default_rng(0).uniform(-1, 1, (n, *BACKBONES[name][3])).astype("float32")


def head_counts(model, features):
    """(trainable, non-trainable) parameters of the head: the model's minus its backbone's."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params() - features.count_params()
    backbone_trainable = sum(int(np.prod(w.shape)) for w in features.trainable_weights)
    return trainable - backbone_trainable, total - (trainable - backbone_trainable)


def assert_probabilities(values, axis=-1):
    assert values.dtype == np.float32 and (values >= 0).all()
    # float32 softmax: each sum is 1 within a few ulps of float32.
    np.testing.assert_allclose(values.sum(axis=axis), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", list(BACKBONES))
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_cam_head(name, pooling):
    features = backbone(name)
    k = BACKBONES[name][2]
    model = heads.cam(5, pooling)(features)
    assert model.output.shape == (None, 5)
    assert head_counts(model, features) == (k * 5 + 5, 0)
    assert model.get_layer("cam_pool").input is features.output
    assert [layer.name for layer in model.layers[-3:]] == ["cam_pool", "logits", "predictions"]
    assert model.name == f"{name}_{'gap' if pooling == 'avg' else 'gmp'}"
    assert_probabilities(model.predict(batch(name), verbose=0))


@pytest.mark.parametrize("name", list(BACKBONES))
def test_classification_head(name):
    features = backbone(name)
    k = BACKBONES[name][2]
    model = heads.classification(4, dropout=0.25)(features)
    assert model.output.shape == (None, 4)
    assert head_counts(model, features) == (k * 4 + 4, 0)
    assert model.get_layer("dropout").rate == 0.25
    assert_probabilities(model.predict(batch(name), verbose=0))


@pytest.mark.parametrize(
    "name, shape",
    [
        ("alexnet", (None, 67, 67, 6)),  # 3x3 scores upsampled and cropped back to 67x67
        ("temporal", (None, None, 6)),  # pointwise: one score per step, T kept
    ],
)
def test_fcn32s_head_predicts_at_the_input_resolution(name, shape):
    features = backbone(name)
    k = BACKBONES[name][2]
    model = heads.fcn(6)(features)
    assert model.output.shape == shape
    assert head_counts(model, features) == (k * 6 + 6, 0)  # the 1x1 conv "scores"
    out = model.predict(batch(name), verbose=0)
    assert out.shape == (2, *BACKBONES[name][3][:-1], 6)
    assert_probabilities(out)


def bilinear_transposed_conv(scores, factor):
    """FCN's fixed upsampling, written out: a stride-`factor` transposed convolution with
    Long et al.'s bilinear kernel (`upsample_filt`) over the scores with their borders
    replicated once, cropped at the offset where output pixel i sits at input coordinate
    (i + 0.5) / factor - 0.5. (B, h, w, N) -> (B, h f, w f, N), NumPy float64."""
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 else factor - 0.5
    kernel_1d = 1 - np.abs(np.arange(size) - centre) / factor
    padded = np.pad(scores.astype(np.float64), [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    b, h, w, n = padded.shape
    out = np.zeros((b, (h - 1) * factor + size, (w - 1) * factor + size, n))
    for i in range(h):
        for j in range(w):
            patch = (
                np.outer(kernel_1d, kernel_1d)[None, :, :, None] * padded[:, i, j][:, None, None]
            )
            out[:, i * factor : i * factor + size, j * factor : j * factor + size] += patch
    offset = int(factor + centre - (factor - 1) / 2)
    height, width = scores.shape[1] * factor, scores.shape[2] * factor
    return out[:, offset : offset + height, offset : offset + width]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_fcn_upsampling_is_fcns_bilinear_transposed_convolution(factor):
    scores = keras.Input((5, 4, 3))
    model = keras.Model(scores, heads._upsample(scores, (5 * factor, 4 * factor), "up"))
    x = np.random.default_rng(factor).normal(size=(2, 5, 4, 3)).astype("float32")
    # float32 interpolation of unit-scale values against float64: a few ulps of 1.
    np.testing.assert_allclose(model(x), bilinear_transposed_conv(x, factor), atol=1e-5)


def test_fcn_upsampling_crops_back_from_the_top_left():
    scores = keras.Input((3, 3, 2))
    model = keras.Model(scores, heads._upsample(scores, (7, 8), "up"))  # 3x3 -> 9x9 -> 7x8
    x = np.random.default_rng(1).normal(size=(1, 3, 3, 2)).astype("float32")
    # The same float32 computation in the model: within float32 rounding.
    np.testing.assert_allclose(model(x), bilinear_transposed_conv(x, 3)[:, :7, :8], atol=1e-5)


def test_fcn8s_adds_zero_initialized_skips_of_the_named_layers():
    features = zoo.backbone("mini_vgg", (32, 32, 3), width=0.25)
    fcn8s = heads.fcn(5, skips="fcn8s")(features)
    names = [layer.name for layer in fcn8s.layers]
    assert {"scores_pool2", "scores_conv1_relu", "fuse_pool2", "fuse_conv1_relu"} <= set(names)
    assert fcn8s.get_layer("fuse_pool2").output.shape == (None, 8, 8, 5)  # stride 4
    assert fcn8s.get_layer("fuse_conv1_relu").output.shape == (None, 16, 16, 5)  # stride 2
    # conv1 6 and pool2 8 channels at width 1/4: two more 1x1 convs.
    assert head_counts(fcn8s, features) == (32 * 5 + 5 + 8 * 5 + 5 + 6 * 5 + 5, 0)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    names = ["scores_pool2", "upsample_pool2", "fuse_pool2", "scores_conv1_relu"]
    probe = keras.Model(fcn8s.input, [fcn8s.get_layer(n).output for n in names])
    skip_scores, upsampled, fused, finer = (np.asarray(v) for v in probe(x))
    # Zero-initialized skip scores (Long et al.): exact zeros, so the fusion adds nothing.
    assert not skip_scores.any() and not finer.any()
    np.testing.assert_array_equal(fused, upsampled)


def test_fcn_skips_by_name_and_its_errors():
    features = zoo.backbone("mini_vgg", (32, 32, 3), width=0.25)
    model = heads.fcn(3, skips=("conv2_relu",))(features)
    assert model.get_layer("fuse_conv2_relu").output.shape == (None, 16, 16, 3)
    with pytest.raises(ValueError, match=r"does not have: \['nope'\]"):
        heads.fcn(3, skips=("nope",))(features)
    with pytest.raises(ValueError, match="skips are for image backbones"):
        heads.fcn(3, skips="fcn16s")(backbone("temporal"))
    with pytest.raises(ValueError, match="knows no skip layers"):
        heads.fcn(3, skips="fcn16s")(zoo.backbone("googlenet", (32, 32, 3), width=0.125))
    with pytest.raises(ValueError, match="`skips` must be one of"):
        heads.fcn(3, skips="fcn4s")
    with pytest.raises(ValueError, match="fixed `input_shape`"):
        heads.fcn(3)(zoo.backbone("alexnet", (None, None, 3), width=1 / 16))


@pytest.mark.parametrize("name", list(BACKBONES))
def test_embedding_head(name):
    features = backbone(name)
    k = BACKBONES[name][2]
    model = heads.embedding(7, dim=8, dropout=0.5)(features)
    assert set(model.output) == {"embedding", "identity"}
    assert model.output["embedding"].shape == (None, k)  # the pooled features
    assert model.output["identity"].shape == (None, 7)
    # fc k x 8 without bias; BN gamma, beta (trainable) and moving mean, variance; logits 8 x 7 + 7.
    assert head_counts(model, features) == (k * 8 + 2 * 8 + 8 * 7 + 7, 2 * 8)
    out = model.predict(batch(name), verbose=0)
    pooled = keras.Model(model.input, model.get_layer("pool").output).predict(
        batch(name), verbose=0
    )
    assert out["embedding"].dtype == np.float32
    # The pooled features L2-normalized in float32: the same direction (cosine 1 within float32
    # rounding), unit norm; ReLU features can pool to zero, whose descriptor stays zero.
    norms = np.linalg.norm(pooled, axis=-1)
    expected = pooled / np.where(norms > 0, norms, 1)[:, None]
    np.testing.assert_allclose(out["embedding"], expected, rtol=1e-5, atol=1e-6)
    assert_probabilities(out["identity"])


@pytest.mark.parametrize("name", list(BACKBONES))
def test_multi_output_head(name):
    features = backbone(name)
    k = BACKBONES[name][2]
    model = heads.multi_output({"age": 8, "gender": 2})(features)
    assert {key: tensor.shape for key, tensor in model.output.items()} == {
        "age": (None, 8),
        "gender": (None, 2),
    }
    assert head_counts(model, features) == (k * 8 + 8 + k * 2 + 2, 0)
    out = model.predict(batch(name), verbose=0)
    assert_probabilities(out["age"])
    assert_probabilities(out["gender"])


def test_multi_output_head_trains_each_output():
    model = heads.multi_output({"age": 3, "gender": 2})(backbone("temporal"))
    losses = {"age": "sparse_categorical_crossentropy", "gender": "sparse_categorical_crossentropy"}
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=losses)
    kernels = {name: model.get_layer(f"{name}_logits").kernel.numpy() for name in ("age", "gender")}
    x = batch("temporal", n=4)
    model.fit(x, {"age": np.arange(4) % 3, "gender": np.arange(4) % 2}, epochs=1, verbose=0)
    for name, kernel in kernels.items():
        assert not np.array_equal(model.get_layer(f"{name}_logits").kernel.numpy(), kernel)


@pytest.mark.parametrize(
    "make, output",
    [
        (heads.cam(3), "predictions"),
        (heads.classification(3), "predictions"),
        (heads.fcn(3), "predictions"),
        (heads.embedding(3, dim=4), "identity"),
        (heads.embedding(3, dim=4), "embedding"),
        (heads.multi_output({"a": 3}), "a"),
    ],
)
def test_outputs_are_float32_under_mixed_precision(make, output):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = make(backbone("alexnet"))
        outputs = model.output if isinstance(model.output, dict) else {output: model.output}
        assert outputs[output].dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: heads.cam(1), "num_classes"),
        (lambda: heads.cam(3, pooling="sum"), "pooling"),
        (lambda: heads.classification(3, dropout=1.0), "dropout"),
        (lambda: heads.fcn(2.0), "num_classes"),
        (lambda: heads.embedding(3, dim=0), "dim"),
        (lambda: heads.embedding(3, dropout=-0.1), "dropout"),
        (lambda: heads.multi_output(3), "num_classes"),
        (lambda: heads.multi_output({}), "num_classes"),
        (lambda: heads.multi_output({"age": 1}), "num_classes"),
        (lambda: heads.multi_output({"Age": 3}), "num_classes"),
    ],
)
def test_bad_head_arguments_are_named_before_any_backbone(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()

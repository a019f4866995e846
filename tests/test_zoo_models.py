"""The zoo's CAM builders: CAM resolution, parameter counts, head, HaS placement, arguments."""

import inspect

import keras
import numpy as np
import pytest

from keras_has import HideAndSeek, zoo
from keras_has.zoo import registry

SMALL = {  # Fast variants for checks that do not need the paper's size.
    "alexnet_gap": {"input_shape": (67, 67, 3), "width": 1 / 16},
    "googlenet_gap": {"input_shape": (64, 64, 3), "width": 1 / 16},
    "vgg16_gap": {"input_shape": (32, 32, 3)},
    "resnet50_gap": {"input_shape": (32, 32, 3)},
}
# At the paper's input size: the CAM resolution, the layer whose output
# feature_map-mode HaS hides, and that output's shape.
DEFAULT = {
    "alexnet_gap": ((13, 13), "conv1", (None, 55, 55, 96)),  # 227 -> 55 -> 27 -> 13
    "googlenet_gap": ((14, 14), "conv1_relu", (None, 112, 112, 64)),  # 224 / 16
    "vgg16_gap": ((14, 14), "block1_conv2", (None, 224, 224, 64)),  # 224 / 16
    "resnet50_gap": ((7, 7), "conv1_relu", (None, 112, 112, 64)),  # 224 / 32
}


def cam_features(model):
    """The CAM features: the input tensor of the layer "cam_pool"."""
    return model.get_layer("cam_pool").input


def has_layers(model):
    return [layer for layer in model.layers if isinstance(layer, HideAndSeek)]


def rng_images(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype("float32")


# --------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    "name, size, expected",
    [
        # AlexNet: conv1 11x11/4 valid, two 3x3/2 valid poolings, pool5 /1.
        ("alexnet_gap", (99, 131), (5, 7)),  # 131 -> 31 -> 15 -> 7
        # GoogLeNet: four stride-2 "same" stages, ceil(n / 2) each.
        ("googlenet_gap", (100, 132), (7, 9)),  # 132 -> 66 -> 33 -> 17 -> 9
        # VGG16 to block5_conv3: four 2x2/2 valid poolings, floor(n / 2).
        ("vgg16_gap", (100, 132), (6, 8)),  # 132 -> 66 -> 33 -> 16 -> 8
        # ResNet50: conv1 pad 3 7x7/2, pool pad 1 3x3/2, three /2 1x1 convs.
        ("resnet50_gap", (100, 132), (4, 5)),  # 132 -> 66 -> 33 -> 17 -> 9 -> 5
    ],
)
def test_cam_resolution(name, size, expected):
    kwargs = {k: v for k, v in SMALL[name].items() if k != "input_shape"}
    model = zoo.build(name, 10, input_shape=(*size, 3), **kwargs)
    assert tuple(cam_features(model).shape[1:3]) == expected
    assert model.output.shape == (None, 10)


def test_any_input_size_with_none_dims():
    model = zoo.alexnet_gap(4, input_shape=(None, None, 3), width=1 / 16)
    features = keras.Model(model.input, cam_features(model))
    assert features.predict(rng_images((99, 131, 3)), verbose=0).shape[1:3] == (5, 7)
    assert features.predict(rng_images((67, 67, 3)), verbose=0).shape[1:3] == (3, 3)


# ------------------------------------------------------------- param counts
def conv_params(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def dense_params(k, n):
    return k * n + n


def scale(filters, width):
    exact = filters * width
    # Exact: the test widths (1, 1/4) are powers of two, so the products are exact in float64.
    assert exact == int(exact), "test widths must give whole filter counts"
    return int(exact)


def alexnet_params(num_classes, width):
    """(trainable, non-trainable) from the AlexNet-GAP layer table."""
    table = [(11, 96), (5, 256), (3, 384), (3, 384), (3, 256), (3, 512), (3, 512)]
    total, cin = 0, 3
    for k, cout in table:
        cout = scale(cout, width)
        total += conv_params(k, cin, cout)
        cin = cout
    return total + dense_params(cin, num_classes), 0


# Szegedy et al. 2015, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj.
GOOGLENET_INCEPTION = [
    (64, 96, 128, 16, 32, 32),  # 3a
    (128, 128, 192, 32, 96, 64),  # 3b
    (192, 96, 208, 16, 48, 64),  # 4a
    (160, 112, 224, 24, 64, 64),  # 4b
    (128, 128, 256, 24, 64, 64),  # 4c
    (112, 144, 288, 32, 64, 64),  # 4d
    (256, 160, 320, 32, 128, 128),  # 4e
]


def googlenet_params(num_classes, width):
    """(trainable, non-trainable): convs without bias, BN 2 + 2 per channel."""
    convs = []  # (k, cin, cout)
    cin = 3
    for k, cout in [(7, 64), (1, 64), (3, 192)]:
        convs.append((k, cin, scale(cout, width)))
        cin = scale(cout, width)
    for n1, n3r, n3, n5r, n5, proj in GOOGLENET_INCEPTION:
        n1, n3r, n3, n5r, n5, proj = (scale(f, width) for f in (n1, n3r, n3, n5r, n5, proj))
        convs += [(1, cin, n1), (1, cin, n3r), (3, n3r, n3), (1, cin, n5r)]
        convs += [(5, n5r, n5), (1, cin, proj)]
        cin = n1 + n3 + n5 + proj
    convs.append((3, cin, scale(1024, width)))
    trainable = sum(conv_params(k, i, o, bias=False) + 2 * o for k, i, o in convs)
    non_trainable = sum(2 * o for _, _, o in convs)
    return trainable + dense_params(convs[-1][2], num_classes), non_trainable


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, model.count_params() - trainable


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_alexnet_param_count(width):
    model = zoo.alexnet_gap(1000, width=width)
    assert counts(model) == alexnet_params(1000, width)


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_googlenet_param_count(width):
    model = zoo.googlenet_gap(1000, width=width)
    assert counts(model) == googlenet_params(1000, width)


def test_googlenet_has_bn_after_every_conv():
    model = zoo.googlenet_gap(10, **SMALL["googlenet_gap"])
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 3 + 6 * 7 + 1
    for conv in convs:
        bn = model.get_layer(f"{conv.name}_bn")
        assert not conv.use_bias
        assert isinstance(bn, keras.layers.BatchNormalization)
        assert bn.input is conv.output


def test_width_rounds_and_keeps_one_filter():
    model = zoo.alexnet_gap(3, input_shape=(67, 67, 3), width=1e-3)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [1] * 7
    model = zoo.alexnet_gap(3, input_shape=(67, 67, 3), width=0.1)
    # 96 * 0.1 = 9.6 -> 10, 256 * 0.1 = 25.6 -> 26, 384 * 0.1 = 38.4 -> 38.
    assert model.get_layer("conv1").filters == 10
    assert model.get_layer("conv2").filters == 26
    assert model.get_layer("conv3").filters == 38


@pytest.mark.parametrize(
    "name, app, head",
    [
        # VGGnet-GAP: cam_conv 3x3 512 -> 1024 (+ bias), then Dense.
        (
            "vgg16_gap",
            keras.applications.VGG16,
            conv_params(3, 512, 1024) + dense_params(1024, 1000),
        ),
        ("resnet50_gap", keras.applications.ResNet50, dense_params(2048, 1000)),
    ],
)
def test_application_param_count(name, app, head):
    backbone = app(include_top=False, weights=None, input_shape=(32, 32, 3))
    model = zoo.build(name, 1000, input_shape=(32, 32, 3))
    assert model.count_params() == backbone.count_params() + head


# -------------------------------------------------------------------- head
@pytest.mark.parametrize("name", ["alexnet_gap", "googlenet_gap", "vgg16_gap"])
def test_gap_and_gmp_differ_only_in_pooling(name):
    def layers(model):
        return [
            (type(layer).__name__, layer.get_config())
            for layer in model.layers
            if layer.name != "cam_pool"
        ]

    gap = zoo.build(name, 5, pooling="avg", **SMALL[name])
    gmp = zoo.build(name, 5, pooling="max", **SMALL[name])
    assert isinstance(gap.get_layer("cam_pool"), keras.layers.GlobalAveragePooling2D)
    assert isinstance(gmp.get_layer("cam_pool"), keras.layers.GlobalMaxPooling2D)
    assert layers(gap) == layers(gmp)
    assert gap.count_params() == gmp.count_params()
    assert (gap.name, gmp.name) == (f"{name[:-4]}_gap", f"{name[:-4]}_gmp")


@pytest.mark.parametrize("name", ["alexnet_gap", "googlenet_gap"])
def test_cam_from_logits_kernel(name):
    """GAP logits are the spatial mean of CAM_c = sum_k W[k, c] F_k, plus bias."""
    model = zoo.build(name, 4, **SMALL[name])
    logits = model.get_layer("logits")
    probe = keras.Model(model.input, [cam_features(model), logits.output, model.output])
    features, scores, probs = probe.predict(rng_images(SMALL[name]["input_shape"]), verbose=0)
    kernel, bias = (w.numpy() for w in logits.weights)
    assert kernel.shape == (features.shape[-1], 4)
    cams = np.einsum("bhwk,kc->bhwc", features, kernel)
    # float32 logits: a sum over channels and pixels in another order (NumPy vs. kernels and
    # threads) than the network's pooling and matmul: 1e-4 relative on O(1) values.
    np.testing.assert_allclose(cams.mean(axis=(1, 2)) + bias, scores, rtol=1e-4, atol=1e-5)
    softmax = keras.ops.convert_to_numpy(keras.ops.softmax(scores))
    # float32 softmax of the same logits, in the model and here: probabilities in (0, 1).
    np.testing.assert_allclose(probs, softmax, rtol=1e-5, atol=1e-6)


def test_probabilities_are_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = zoo.alexnet_gap(3, **SMALL["alexnet_gap"])
        assert model.get_layer("logits").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


# --------------------------------------------------------------------- HaS
@pytest.mark.parametrize("name", list(SMALL))
def test_image_has_follows_the_input(name):
    has = HideAndSeek(patch_size=8, fill_value=0.0)
    model = zoo.build(name, 3, has=has, **SMALL[name])
    assert has_layers(model) == [has]
    assert model.layers[1] is has
    assert has.input is model.inputs[0]


@pytest.mark.parametrize("name", list(SMALL))
def test_default_size_and_feature_map_has(name):
    """At the default input: CAM resolution; HaS after the first conv block."""
    has = HideAndSeek(patch_size=5, mode="feature_map")
    model = zoo.build(name, 3, has=has)
    resolution, after, shape = DEFAULT[name]
    assert tuple(cam_features(model).shape[1:3]) == resolution
    assert has_layers(model) == [has]
    assert has.input is model.get_layer(after).output
    assert tuple(has.input.shape) == shape


@pytest.mark.parametrize(
    "name, mode",
    [
        ("alexnet_gap", "image"),
        ("alexnet_gap", "feature_map"),
        ("googlenet_gap", "feature_map"),
        ("vgg16_gap", "image"),
    ],
)
def test_has_is_identity_at_inference(name, mode):
    has = HideAndSeek(patch_size=2, hide_prob=0.9, fill_value=0.5, mode=mode, seed=1)
    with_has = zoo.build(name, 3, has=has, **SMALL[name])
    plain = zoo.build(name, 3, **SMALL[name])
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(with_has.get_layer(layer.name).get_weights())
    x = rng_images(SMALL[name]["input_shape"])
    expected = plain.predict(x, verbose=0)
    # HaS passes the input through unchanged; the rest is the same float32 ops and weights.
    np.testing.assert_allclose(with_has.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # In training mode the network sees hidden cells: the HaS layer's output is its input with
    # cells set to the fill (exact: a select of the fill value, 0.5 in float32).
    layer = with_has.get_layer(has.name)
    probe = keras.Model(with_has.input, [layer.input, layer.output])
    before, after = (keras.ops.convert_to_numpy(t) for t in probe(x, training=True))
    changed = after != before
    assert changed.mean() > 0.5 and np.all(after[changed] == 0.5)


def tiny_fit(model, steps=2):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x = rng_images(model.input.shape[1:], n=4 * steps)
    y = np.arange(4 * steps) % model.output.shape[-1]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize("hide_prob", [1.0, 0.0])
def test_fit_hides_the_image(hide_prob):
    """With every cell hidden by zeros, conv1 sees zeros: its kernel gets no gradient."""
    has = HideAndSeek(patch_size=4, hide_prob=hide_prob, fill_value=0.0)
    model = zoo.alexnet_gap(3, has=has, **SMALL["alexnet_gap"])
    conv1, logits = model.get_layer("conv1"), model.get_layer("logits")
    kernel, bias = conv1.kernel.numpy(), logits.bias.numpy()
    tiny_fit(model)
    assert not np.array_equal(logits.bias.numpy(), bias)  # It trained.
    # Exact: an all-zero input gives conv1's kernel a gradient of exact zeros.
    assert np.array_equal(conv1.kernel.numpy(), kernel) == (hide_prob == 1.0)


def test_fit_hides_the_feature_map():
    """The running-mean fill is updated once per training step, never in predict."""
    has = HideAndSeek(patch_size=2, mode="feature_map")
    model = zoo.alexnet_gap(3, has=has, **SMALL["alexnet_gap"])
    tiny_fit(model, steps=3)
    assert float(has.count.numpy()) == 3
    assert np.any(has.mean.numpy() > 0)
    model.predict(rng_images((67, 67, 3)), verbose=0)
    assert float(has.count.numpy()) == 3


def test_fit_trains_the_layers_below_feature_map_has():
    has = HideAndSeek(patch_size=2, hide_prob=0.5, mode="feature_map", seed=0)
    model = zoo.alexnet_gap(3, has=has, **SMALL["alexnet_gap"])
    conv1 = model.get_layer("conv1")
    kernel = conv1.kernel.numpy()
    tiny_fit(model)
    assert not np.array_equal(conv1.kernel.numpy(), kernel)


# ---------------------------------------------------------------- bad args
BAD = [
    ({"num_classes": 1}, "num_classes"),
    ({"num_classes": 2.5}, "num_classes"),
    ({"num_classes": True}, "num_classes"),
    ({"pooling": "mean"}, "pooling"),
    ({"pooling": None}, "pooling"),
    ({"input_shape": (224, 224)}, "input_shape"),
    ({"input_shape": (0, 64, 3)}, "input_shape"),
    ({"input_shape": (64, 64.0, 3)}, "input_shape"),
    ({"input_shape": (64, 64, 0)}, "input_shape"),
    ({"input_shape": "224x224"}, "input_shape"),
    ({"has": HideAndSeek(patch_size=4, mode="temporal")}, "has"),
    ({"has": HideAndSeek(patch_size=4, data_format="channels_first")}, "has"),
    ({"has": "image"}, "has"),
]


@pytest.mark.parametrize("name", list(SMALL))
@pytest.mark.parametrize("kwargs, argument", BAD)
def test_bad_arguments(name, kwargs, argument):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        zoo.build(name, **kwargs)


@pytest.mark.parametrize("name", ["alexnet_gap", "googlenet_gap"])
@pytest.mark.parametrize("width", [0, -1.0, float("nan"), float("inf"), "1", None])
def test_bad_width(name, width):
    with pytest.raises(ValueError, match="`width`"):
        zoo.build(name, 3, width=width)


@pytest.mark.parametrize(
    "name, smallest, rows",
    [("alexnet_gap", 35, 1), ("vgg16_gap", 32, 2), ("resnet50_gap", 32, 1)],
)
def test_minimum_input_size(name, smallest, rows):
    model = zoo.build(name, 3, input_shape=(smallest, 64, 3))
    assert cam_features(model).shape[1] == rows
    with pytest.raises(ValueError, match=f"`input_shape`.*>= {smallest}"):
        zoo.build(name, 3, input_shape=(smallest - 1, 64, 3))


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
@pytest.mark.parametrize("weights", ["/no/such/file.weights.h5", 3, "ilsvrc"])
def test_application_backbone_weights_are_checked_before_building(name, weights):
    with pytest.raises(ValueError, match="`weights` must be None, 'imagenet' or the path"):
        zoo.backbone(name, (32, 32, 3), weights=weights)


def test_application_backbone_loads_a_local_file_of_keras_applications(tmp_path):
    """weights= of the backbone: keras.applications' own model without its top."""
    backbone = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    backbone.save_weights(path)
    features = zoo.backbone("vgg16", (None, None, 3), weights=path)
    loaded = [layer for layer in backbone.layers if layer.weights]
    assert len(loaded) == 13
    for layer in loaded:
        ours = features.get_layer(layer.name).weights
        for mine, theirs in zip(ours, layer.weights, strict=True):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # loaded copies


# -------------------------------------------------------------- one convention
@pytest.mark.parametrize("name", zoo.list_models())
def test_every_builder_takes_num_classes_first_and_required_then_input_shape(name):
    builder = registry.MODELS[name]
    parameters = inspect.signature(builder).parameters
    first, second = list(parameters.values())[:2]
    assert (first.name, second.name) == ("num_classes", "input_shape")
    assert first.default is inspect.Parameter.empty
    assert parameters["weights"].default is None  # last, as keras.applications' builders
    with pytest.raises(TypeError, match="num_classes"):
        builder()
    assert "Inputs:" in builder.__doc__  # the input contract is in every builder's docstring


def test_temporal_cam_net_takes_num_classes_and_input_shape():
    model = zoo.temporal_cam_net(5, input_shape=(None, 7), filters=3)
    assert model.input_shape == (None, None, 7) and model.output_shape == (None, 5)
    # The paper's network: C3D fc7 features (4096), THUMOS14's 101 classes.
    paper = zoo.temporal_cam_net(101, input_shape=(None, 4096))
    assert paper.count_params() == 2_349_601  # (4096 + 1) 500 + (500 + 1) 500 + (500 + 1) 101
    assert zoo.temporal_cam_net(3, (40, 7), "avg", filters=2).input_shape == (None, 40, 7)
    with pytest.raises(TypeError, match="feature_dim"):  # one spelling: input_shape=(T, D)
        zoo.temporal_cam_net(3, feature_dim=7)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((5,), {}),  # used to build 5-d features with 101 classes
        ((4096, 101), {}),  # the old order: 101 is no (T, D)
        ((5,), {"input_shape": (None, 0)}),
        ((5,), {"input_shape": (0, 7)}),
        ((5,), {"input_shape": (None, None)}),
        ((5,), {"input_shape": (7,)}),
        ((5,), {"input_shape": (None, 7.0)}),
        ((5,), {"input_shape": (None, None, 7)}),
    ],
)
def test_temporal_cam_net_needs_a_known_feature_size(args, kwargs):
    with pytest.raises(ValueError, match=r"`input_shape` must be given as \(T, D\)"):
        zoo.temporal_cam_net(*args, **kwargs)

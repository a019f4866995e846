"""CAM models: Eq. 1, class selection, layer discovery, 10 crops, ensembles."""

import inspect

import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from keras_has.boxes import cam_to_boxes
from keras_has.cam import CAMModel, find_cam_layers


def classifier(size=(None, None), classes=5, pooling="avg", seed=0, head=()):
    """conv features (16 channels, stride 2) -> global pooling -> dense."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="features")(x)
    pool = (
        keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    )
    x = pool(name="pool")(x)
    for layer in head:
        x = layer(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def identity_classifier(channels=3, size=(None, None)):
    """Features = the image itself, dense kernel = identity: CAM(c) = channel c."""
    inputs = keras.Input((*size, channels))
    x = keras.layers.Activation("linear", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(channels, activation="softmax")
    outputs = dense(x)
    dense.set_weights([np.eye(channels, dtype="float32"), np.zeros(channels, "float32")])
    return keras.Model(inputs, outputs)


def features_and_kernel(model, images):
    features = keras.Model(model.input, model.get_layer("features").output)(images)
    kernel, bias = model.get_layer("dense").get_weights()
    return np.asarray(features), kernel, bias


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


IMAGES = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)

# Tolerances: CAMs and probabilities are float32 device computations (matmuls, convolutions,
# resizes, softmax) whose summation order depends on the CPU's kernels and threads, compared to
# NumPy or to another forward pass. Values are O(1): about 1e-6 relative noise, so 1e-5 leaves
# a margin and stays far below the differences a wrong class, crop or paste makes (1e-2 and up).
# Probabilities are in (0, 1): 1e-5 relative, 1e-6 absolute.
CAMS = {"rtol": 1e-5, "atol": 1e-5}  # float32, summation order depends on kernels/threads
PROBS = {"rtol": 1e-5, "atol": 1e-6}  # float32, summation order depends on kernels/threads


def test_cams_are_eq1_and_average_back_to_the_logits():
    model = classifier()
    out = CAMModel(model, classes="all", resize=False)(IMAGES)
    features, kernel, bias = features_and_kernel(model, IMAGES)
    cams = np.einsum("bhwk,kc->bhwc", features, kernel)
    np.testing.assert_allclose(out["cams"], cams, **CAMS)
    # With GAP, the spatial mean of CAM(c) plus the bias is the logit of c.
    probabilities = softmax(cams.mean(axis=(1, 2)) + bias)
    np.testing.assert_allclose(out["probabilities"], probabilities, **PROBS)
    np.testing.assert_array_equal(out["class_ids"], np.tile(np.arange(5), (4, 1)))
    # Exact: with classes="all" the scores are the probabilities tensor itself.
    np.testing.assert_array_equal(out["scores"], out["probabilities"])


def test_top_k_and_given_classes_select_the_same_maps_as_all():
    model = classifier()
    every = CAMModel(model, classes="all")(IMAGES)
    top = CAMModel(model, classes=3)(IMAGES)
    order = np.argsort(-np.asarray(every["probabilities"]), axis=1)[:, :3]
    np.testing.assert_array_equal(top["class_ids"], order)
    # Separate forward passes (and matmul shapes for the maps): float32 rounding apart.
    np.testing.assert_allclose(
        top["scores"], np.take_along_axis(np.asarray(every["probabilities"]), order, 1), **PROBS
    )
    picked = np.take_along_axis(np.asarray(every["cams"]), order[:, None, None, :], 3)
    np.testing.assert_allclose(top["cams"], picked, **CAMS)
    labels = np.array([4, 0, 2, 2])
    given = CAMModel(model, classes="given")(IMAGES, class_ids=labels)
    np.testing.assert_allclose(
        given["cams"][..., 0], np.asarray(every["cams"])[np.arange(4), ..., labels], **CAMS
    )
    np.testing.assert_array_equal(given["class_ids"][:, 0], labels)


def test_cams_are_upsampled_bilinearly_to_the_image():
    model = classifier()
    native = CAMModel(model, classes=2, resize=False)(IMAGES)["cams"]
    full = CAMModel(model, classes=2)(IMAGES)["cams"]
    assert tuple(full.shape) == (4, 32, 32, 2)
    np.testing.assert_allclose(full, tf.image.resize(native, (32, 32)), **CAMS)


@pytest.mark.parametrize(
    "head",
    [(), (keras.layers.Dropout(0.5),), (keras.layers.Flatten(),)],
    ids=["plain", "dropout", "flatten"],
)
def test_layers_are_found_through_head_layers_and_gmp(head):
    model = classifier(head=head, pooling="max")
    extractor, dense, channels_first = find_cam_layers(model)
    assert dense is model.get_layer("dense") and not channels_first
    assert extractor.outputs[1].shape[1:] == (None, None, 16)


def test_layers_are_found_in_a_nested_backbone_and_by_name():
    backbone = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Conv2D(6, 3, name="conv")],
        name="backbone",
    )
    model = keras.Sequential(
        [
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, name="head"),
        ]
    )
    _, dense, _ = find_cam_layers(model)
    assert dense.name == "head"
    out = CAMModel(model, classes="all", resize=False)(IMAGES)
    features = np.asarray(backbone(IMAGES))
    kernel = model.get_layer("head").kernel.numpy()
    np.testing.assert_allclose(out["cams"], features @ kernel, **CAMS)
    # By name, e.g. a head with two dense layers.
    inputs = keras.Input((32, 32, 3))
    f = keras.layers.Conv2D(4, 3, name="last_conv")(inputs)
    x = keras.layers.Dense(7, name="cls")(keras.layers.GlobalAveragePooling2D()(f))
    two = keras.Model(inputs, keras.layers.Dense(2, name="aux")(x))
    with pytest.raises(ValueError, match="exactly one Dense.*dense_layer"):
        find_cam_layers(two)
    with pytest.raises(ValueError, match="do not match"):
        find_cam_layers(two, dense_layer="aux")
    _, dense, _ = find_cam_layers(two, features_layer="last_conv", dense_layer="cls")
    assert dense.name == "cls"


def test_channels_first_features():
    inputs = keras.Input((3, 8, 8))
    x = keras.layers.Activation("linear", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(x))
    images = np.moveaxis(IMAGES[:, :8, :8], -1, 1)
    out = CAMModel(model, classes="all", resize=False)(images)
    kernel = model.get_layer("dense").kernel.numpy()
    np.testing.assert_allclose(out["cams"], np.moveaxis(images, 1, -1) @ kernel, **CAMS)
    with pytest.raises(ValueError, match="channels_last"):
        CAMModel(model, crop_size=6)


def test_bad_arguments_name_the_argument():
    model = classifier()
    no_pool = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="features_layer"):
        find_cam_layers(no_pool)
    with pytest.raises(ValueError, match="`features_layer`: no layer named 'nope'"):
        find_cam_layers(model, features_layer="nope")
    for bad in (0, True, 2.0, "top", None):
        with pytest.raises(ValueError, match="`classes` must be 'all', 'given' or a positive int"):
            CAMModel(model, classes=bad)
    classes = CAMModel(model, classes=np.int64(2)).get_config()["classes"]
    assert type(classes) is int and classes == 2  # a NumPy int, stored JSON-able
    with pytest.raises(ValueError, match="`classifiers`"):
        CAMModel([])
    for bad in ((3, 0), True, (8, True), 8.0, (8,)):
        with pytest.raises(ValueError, match="`crop_size` must be a positive int"):
            CAMModel(model, crop_size=bad)
    with pytest.raises(ValueError, match="`class_ids`"):
        CAMModel(model, classes="given")(IMAGES)
    with pytest.raises(ValueError, match="`class_ids`"):
        CAMModel(model, classes=1)(IMAGES, class_ids=np.zeros(4, "int32"))
    with pytest.raises(ValueError, match="`crop_size`.*at least"):
        CAMModel(model, crop_size=40)(IMAGES)
    with pytest.raises(ValueError, match="`crop_size` .* input size"):
        CAMModel(classifier(size=(32, 32)), crop_size=28)
    with pytest.raises(ValueError, match="`resize=False`"):
        CAMModel([model, model], resize=False)


def test_ten_crops_paste_maps_back_into_image_coordinates():
    # CAM(c) of the identity classifier is image channel c, so the averaged,
    # flipped-back and pasted maps must give the image itself.
    images = np.random.default_rng(1).random((2, 13, 11, 3), dtype=np.float32)
    model = identity_classifier()
    out = CAMModel(model, classes="all", crop_size=(9, 8))(images)
    # float32 means of up to 10 crops of values in [0, 1): ~1e-7 absolute rounding.
    np.testing.assert_allclose(out["cams"], images, rtol=1e-5, atol=1e-6)
    # Probabilities: the mean of the 10 crops' softmax(GAP(crop)).
    views = []
    for t, s in [(0, 0), (0, 3), (4, 0), (4, 3), (2, 1)]:
        crop = images[:, t : t + 9, s : s + 8]
        views += [crop, crop[:, :, ::-1]]
    expected = np.mean([softmax(v.mean(axis=(1, 2))) for v in views], axis=0)
    np.testing.assert_allclose(out["probabilities"], expected, **PROBS)


def test_ten_crops_of_a_network_average_the_crops_maps():
    model = classifier(size=(28, 28))
    images = np.random.default_rng(2).random((2, 33, 31, 3), dtype=np.float32)
    out = CAMModel(model, classes="given", crop_size=28)(images, class_ids=np.array([1, 3]))
    total, count = np.zeros((2, 33, 31)), np.zeros((33, 31))
    for t, s in [(0, 0), (0, 3), (5, 0), (5, 3), (2, 1)]:
        for flip in (False, True):
            crop = images[:, t : t + 28, s : s + 28]
            crop = crop[:, :, ::-1] if flip else crop
            features, kernel, _ = features_and_kernel(model, crop)
            maps = np.stack([features[0] @ kernel[:, 1], features[1] @ kernel[:, 3]])
            maps = np.asarray(tf.image.resize(maps[..., None], (28, 28)))[..., 0]
            total[:, t : t + 28, s : s + 28] += maps[:, :, ::-1] if flip else maps
            count[t : t + 28, s : s + 28] += 1
    # float32 network maps, resized and summed over up to 10 crops in another order: 1e-4.
    np.testing.assert_allclose(out["cams"][..., 0], total / count, rtol=1e-4, atol=1e-5)


def test_ensembles_average_normalized_maps_and_all_probabilities():
    a, b, c = classifier(seed=1), classifier(seed=2), classifier(seed=3)
    out = CAMModel([a, b], classes="given", extra_classifiers=[c])(IMAGES, class_ids=[0, 1, 2, 3])
    maps = []
    for model in (a, b):
        single = np.asarray(
            CAMModel(model, classes="given")(IMAGES, class_ids=[0, 1, 2, 3])["cams"]
        )
        low, high = (
            single.min(axis=(1, 2), keepdims=True),
            single.max(axis=(1, 2), keepdims=True),
        )
        maps.append((single - low) / (high - low))
    # Normalized maps in [0, 1] of separate float32 forward passes.
    np.testing.assert_allclose(out["cams"], np.mean(maps, axis=0), **CAMS)
    probabilities = np.mean([m.predict(IMAGES, verbose=0) for m in (a, b, c)], axis=0)
    np.testing.assert_allclose(out["probabilities"], probabilities, **PROBS)


def test_mixed_precision_cams_are_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = classifier()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    out = CAMModel(model, classes=1)(IMAGES)
    assert out["cams"].dtype == "float32" and out["probabilities"].dtype == "float32"


def test_ten_crops_cover_images_larger_than_twice_the_crop():
    # 300x451 with 128 crops: the crops alone leave 39% of the image out. The
    # image is resized to 256x256 (twice the crop), where the identity
    # classifier's crops average back to that image, and the maps back to 300x451.
    image = np.zeros((1, 300, 451, 3), np.float32)
    image[0, 80:200, 150:380] = 1.0  # the object
    cam_model = CAMModel(identity_classifier(), classes="all", crop_size=128)
    cams = np.asarray(cam_model(image)["cams"])
    assert cams.shape == (1, 300, 451, 3) and np.isfinite(cams).all()
    expected = tf.image.resize(tf.image.resize(image, (256, 256)), (300, 451))
    np.testing.assert_allclose(cams, expected, rtol=0, atol=1e-5)  # float32 sums of 10 crops
    graph = tf.function(cam_model)(tf.constant(image))["cams"]
    # Graph kernels may sum differently; values in [0, 1], ~1e-7 rounding.
    np.testing.assert_allclose(graph, cams, rtol=0, atol=1e-6)
    # Integer boxes: the object's edges blur over 2 pixels, down then up.
    np.testing.assert_allclose(
        cam_to_boxes(cams[..., 0], 0.5), [[150, 80, 380, 200]], rtol=0, atol=2
    )


@given(
    crop=st.tuples(st.integers(3, 8), st.integers(3, 8)),
    scale=st.tuples(st.floats(1, 5), st.floats(1, 5)),
    images=hnp.arrays(np.float32, 2 * 41 * 41 * 2, elements=st.floats(-3, 3, width=32)),
)
def test_ten_crop_cams_are_finite_for_any_image_at_least_the_crop(crop, scale, images):
    size = (int(crop[0] * scale[0]), int(crop[1] * scale[1]))
    images = images[: 2 * size[0] * size[1] * 2].reshape(2, *size, 2)
    cams = np.asarray(
        CAMModel(identity_classifier(channels=2), classes="all", crop_size=crop)(images)["cams"]
    )
    assert cams.shape == images.shape and np.isfinite(cams).all()
    # Bilinear resizes and means are convex combinations: within each map's range.
    low, high = images.min(axis=(1, 2), keepdims=True), images.max(axis=(1, 2), keepdims=True)
    assert (cams >= low - 1e-5).all() and (cams <= high + 1e-5).all()  # float32 rounding
    if size[0] <= 2 * crop[0] and size[1] <= 2 * crop[1]:  # covered as it is
        np.testing.assert_allclose(cams, images, rtol=0, atol=1e-5)  # float32 sums of 10 crops


def test_cam_model_input_range_config_and_quiet_export():
    model = classifier()
    cam_model = CAMModel(model, crop_size=16, input_range=[0, 1])
    config = cam_model.get_config()
    assert config["input_range"] == (0.0, 1.0) and config["crop_size"] == (16, 16)
    assert config["classes"] == 1 and config["resize"] is True
    assert CAMModel(model).get_config()["input_range"] is None
    assert inspect.signature(CAMModel.export).parameters["verbose"].default is False
    for bad in [(1, -1), (0,), "0-1", (0, np.inf), (0, "1")]:
        with pytest.raises(ValueError, match="`input_range`"):
            CAMModel(model, input_range=bad)

"""The in-graph localizer: boxes as OpenCV finds them, and SavedModel export."""

import warnings

import cv2
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from test_cam import IMAGES, classifier

from keras_has import boxes, zoo
from keras_has.boxes import box_iou, normalize_cams
from keras_has.cam import CAMModel, normalize_maps
from keras_has.data import pipeline, synthetic
from keras_has.localizer import Localizer, component_labels, foreground, largest_component_boxes


def opencv_box(cam, threshold):
    """Oracle: OpenCV's largest 8-connected component of the normalized map."""
    span = cam.max() - cam.min()
    normalized = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    mask = (normalized >= threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count == 1:
        return [0, 0, 0, 0]
    x, y, w, h, _ = stats[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])]
    return [x, y, x + w, y + h]


@given(
    grids=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.integers(2, 6), st.integers(2, 6)),
        elements=st.floats(0, 1, width=32),
    ),
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    threshold=st.floats(0, 1),
)
def test_boxes_match_opencv_on_upsampled_maps(grids, size, threshold):
    cams = np.stack([cv2.resize(g, size[::-1], interpolation=cv2.INTER_LINEAR) for g in grids])
    if cams.ndim == 2:
        cams = cams[None]
    boxes = np.asarray(largest_component_boxes(cams, threshold))
    # Exact: integer boxes of the same float32 mask ((cam - min) / span >= t, IEEE on both sides).
    np.testing.assert_array_equal(boxes, [opencv_box(c, threshold) for c in cams])


@given(
    grid=hnp.arrays(
        np.int16,
        st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8)),
        elements=st.integers(-40, 40),
    ),
    scale=st.sampled_from([1 / 8, 0.1, 3.7, 1e3]),
    threshold=st.floats(0, 1),
    pick=st.integers(0, 10**6),
)
def test_the_graph_threshold_rule_is_the_host_rule(grid, scale, threshold, pick):
    # Multiples of a scale: every difference of two values is a normal float32 (TensorFlow
    # flushes subnormals to zero, NumPy does not), and equal values make ties.
    cams = grid.astype(np.float32) * np.float32(scale)
    normalized = normalize_cams(cams)
    # Exact: the same IEEE float32 subtraction and division on both sides.
    np.testing.assert_array_equal(np.asarray(normalize_maps(cams[..., None]))[..., 0], normalized)
    # A threshold equal to a pixel's normalized value sits on the rule's edge (>=).
    for t in (threshold, float(normalized.flat[pick % normalized.size])):
        expected = boxes.foreground(normalized, t)
        np.testing.assert_array_equal(np.asarray(foreground(cams, t)), expected)


def test_the_graph_threshold_rule_in_a_traced_function():
    cams = np.array([[[0.0, 0.7, 1.0], [0.3, 0.7, 0.2]], [[2.0] * 3] * 2], np.float32)
    traced = tf.function(foreground)
    for t in (0.0, 0.3, 0.7, 1.0):
        expected = boxes.foreground(normalize_cams(cams), t)
        np.testing.assert_array_equal(np.asarray(traced(cams, t)), expected)


@given(mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_component_labels_partition_like_opencv(mask):
    labels = np.asarray(component_labels(mask[None]))[0]
    count, reference = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    assert (labels == 0).tolist() == (reference == 0).tolist()
    # Same partition: a one-to-one map between the two labelings.
    pairs = set(zip(labels[mask].tolist(), reference[mask].tolist()))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == count - 1


def test_hand_cases():
    cam = np.zeros((6, 8), np.float32)
    cam[0, 0] = 1.0  # one pixel at the max
    cam[2:5, 3:7] = 0.5  # the largest blob
    cam[5, 7] = 0.5  # diagonal neighbour of the blob: joins it
    boxes = largest_component_boxes(np.stack([cam, np.full_like(cam, 3.0)]), 0.4)
    np.testing.assert_array_equal(boxes, [[3, 2, 8, 6], [0, 0, 0, 0]])
    # Above 0.5 only the max pixel is left; at 0 the whole map.
    np.testing.assert_array_equal(largest_component_boxes(cam[None], 0.6), [[0, 0, 1, 1]])
    np.testing.assert_array_equal(largest_component_boxes(cam[None], 0.0), [[0, 0, 8, 6]])
    # Equal areas: the component whose first pixel comes first in raster order.
    tie = np.zeros((4, 4), np.float32)
    tie[3, 0] = tie[0, 3] = 1.0
    np.testing.assert_array_equal(largest_component_boxes(tie[None], 0.5), [[3, 0, 4, 1]])


def test_localizer_outputs_the_top_class_its_map_and_box():
    model = classifier(size=(32, 32))
    localizer = Localizer(model, threshold=0.3)
    out = localizer(IMAGES)
    top = CAMModel(model, classes=1)(IMAGES)
    # Exact: an argmax whose top two probabilities are 0.027 or more apart on these inputs.
    np.testing.assert_array_equal(out["class"], np.argmax(model.predict(IMAGES, verbose=0), 1))
    # Another forward pass of the same float32 model: summation order depends on kernels/threads.
    np.testing.assert_allclose(out["score"], top["scores"][:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["cam"], top["cams"][..., 0], rtol=1e-5, atol=1e-5)
    # Exact: integer boxes of this very map (see test_boxes_match_opencv_on_upsampled_maps).
    np.testing.assert_array_equal(out["box"], [opencv_box(c, 0.3) for c in np.asarray(out["cam"])])
    xla = tf.function(localizer, jit_compile=True)(IMAGES)
    # Integer boxes of maps float32 rounding apart (~1e-7): a box moves only if a pixel's
    # normalized value crosses 0.3, and the nearest sits 7e-5 from it on these inputs.
    np.testing.assert_array_equal(xla["box"], out["box"])


def test_exported_localizer_serves_the_same_results_quietly(tmp_path, capsys):
    # 14x14 crops of 32x32 images: the images are resized to 28x28 first.
    model = classifier(size=(14, 14))
    localizer = Localizer(model, threshold=0.2, crop_size=14)
    expected = localizer(IMAGES)
    capsys.readouterr()
    localizer.export(str(tmp_path / "localizer"))
    printed = capsys.readouterr().out
    assert "Captures" not in printed and "Saved artifact" not in printed, printed[:500]
    served = tf.saved_model.load(str(tmp_path / "localizer")).signatures["serving_default"]
    out = served(tf.constant(IMAGES[:3]))
    assert set(out) == {"class", "score", "box", "cam"}
    # Decisions (argmax, integer boxes) on maps float32 rounding apart: the nearest normalized
    # value sits 4e-4 from the threshold 0.2 on these inputs, so they agree exactly.
    for key in ("class", "box"):
        np.testing.assert_array_equal(out[key], expected[key][:3])
    for key in ("score", "cam"):
        # float32 graph kernels may differ from eager ones in the last bits.
        np.testing.assert_allclose(out[key], expected[key][:3], rtol=1e-5, atol=1e-6)


def test_localizer_arguments():
    model = classifier(size=(32, 32))
    for bad in (1.5, -0.1, True, "0.2"):
        with pytest.raises(ValueError, match=r"`threshold` must be a number in \[0, 1\]"):
            Localizer(model, threshold=bad)
    # Exact: 0.25 is a float32 value, kept as the Python float.
    assert Localizer(model, threshold=np.float32(0.25)).get_config()["threshold"] == 0.25
    with pytest.raises(ValueError, match="classes=1"):
        Localizer(CAMModel(model, classes=2))


def test_zoo_localizer_on_an_image_larger_than_twice_the_crops():
    # The case: the shipped HaS model, 128 crops, 300x451 images (animals
    # stretched from 136x136). Before, 39% of each CAM was NaN and the box empty.
    animals = synthetic.make(4, image_size=136, seed=3)
    images = tf.image.resize(pipeline.normalize(animals.images), (300, 451)).numpy()
    gt = animals.boxes[:, 0] * np.array([451 / 136, 300 / 136] * 2)
    out = zoo.load("googlenet_gap.has_builtin", crop_size=128)(images)
    assert np.isfinite(np.asarray(out["cam"])).all()
    boxes = np.asarray(out["box"])
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    # Each box overlaps its animal (IoUs 0.15 to 0.6 here; integer boxes).
    assert (np.diag(box_iou(boxes, gt)) > 0.1).all()


def test_input_range_warns_once_on_eager_values_far_outside_it():
    model = classifier(size=(32, 32))
    localizer = Localizer(model, input_range=(-1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        localizer(IMAGES * 2 - 1)  # in range
        localizer(IMAGES * 3)  # beyond, by less than the range's width
        Localizer(model)(IMAGES * 255)  # no range, no check
        tf.function(Localizer(model, input_range=(-1, 1)))(tf.constant(IMAGES * 255))  # graph
    with pytest.warns(UserWarning, match=r"`input_range` \(-1, 1\).*zoo\.preprocess"):
        localizer(IMAGES * 255)  # 0-255 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        localizer(IMAGES * 255)  # once
    with pytest.warns(UserWarning, match="`input_range`"):  # eager tensors too, and minima
        Localizer(model, input_range=(0, 1))(tf.constant(-2 * IMAGES - 1))
    assert localizer.get_config()["input_range"] == (-1.0, 1.0)
    assert localizer.get_config()["threshold"] == 0.2
    assert Localizer(model).get_config()["input_range"] is None
    with pytest.raises(ValueError, match="`input_range`"):
        Localizer(model, input_range=(1, 1))
    with pytest.raises(ValueError, match="input_range"):
        Localizer(CAMModel(model), input_range=(-1, 1))

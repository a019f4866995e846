"""RandomErasing as Zhong et al.'s Algorithm 1: one rectangle, its area and aspect ranges,
probability p, the fill; inference, dtypes, tf.data, dicts, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_has import RandomErasing


def erased_boxes(out, fill):
    """Per image: None (nothing erased) or (top, left, height, width) of the erased pixels,
    which must form one full rectangle."""
    boxes = []
    for mask in np.all(out == fill, axis=-1):
        if not mask.any():
            boxes.append(None)
            continue
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        top, left = rows[0], cols[0]
        h, w = rows[-1] - top + 1, cols[-1] - left + 1
        assert mask.sum() == h * w and mask[top : top + h, left : left + w].all()
        boxes.append((top, left, h, w))
    return boxes


@settings(max_examples=15, deadline=None)
@given(
    height=st.integers(8, 48),
    width=st.integers(8, 48),
    seed=st.integers(0, 2**16),
)
def test_one_rectangle_within_the_area_and_aspect_ranges(height, width, seed):
    x = np.ones((64, height, width, 3), np.uint8)
    out = np.asarray(RandomErasing(1.0, fill_value=[0, 7, 9], seed=seed)(x, training=True))
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert set(np.unique(out)) <= {0, 1, 7, 9}
    for box in erased_boxes(out, [0, 7, 9]):
        if box is None:  # no rectangle fitted in 100 draws: possible, rare
            continue
        _, _, h, w = box
        # Side lengths are rounded: the area and ratio bounds hold up to half a pixel per side.
        area = height * width
        assert (np.sqrt(0.02 * area) - 1) ** 2 - 1 <= h * w <= (np.sqrt(0.4 * area) + 1) ** 2
        assert h < height and w < width
        assert 0.3 * (w - 0.5) - 0.5 <= h <= (w + 0.5) / 0.3 + 0.5


def test_probability_and_inference():
    x = np.zeros((4000, 16, 16, 1), np.float32)
    out = np.asarray(RandomErasing(0.5, fill_value=1.0, seed=3)(x, training=True))
    erased = out.any(axis=(1, 2, 3)).mean()
    # Binomial(4000, 0.5) (times P(a rectangle fits) ~ 1): within 5 sd.
    assert abs(erased - 0.5) < 5 * np.sqrt(0.25 / 4000)
    assert np.asarray(RandomErasing(1.0, seed=0)(x, training=False)).sum() == 0
    assert np.asarray(RandomErasing(0.0, seed=0)(x + 1, training=True)).min() == 1  # p = 0


def test_seeded_tf_data_dicts_and_config():
    images = np.random.default_rng(0).integers(0, 255, (16, 20, 20, 3), dtype=np.uint8)
    layer = RandomErasing(1.0, fill_value=[200.4, 0, 0], seed=5)
    ds = tf.data.Dataset.from_tensor_slices(images).batch(8).map(layer)
    first = np.concatenate(list(ds.as_numpy_iterator()))
    again = np.concatenate(list(ds.as_numpy_iterator()))
    assert first.dtype == np.uint8
    assert (first != images).any() and (again != first).any()  # a new draw each pass
    assert ((first == [200, 0, 0]).all(-1) | (first == images).all(-1)).all()  # rounded fill
    out = layer({"images": images, "labels": np.arange(16)}, training=True)
    np.testing.assert_array_equal(out["labels"], np.arange(16))
    clone = RandomErasing.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    network = keras.Sequential([keras.Input((20, 20, 3)), layer, keras.layers.Identity()])
    np.testing.assert_array_equal(network(images.astype("float32")), images)  # inference
    pipeline = keras.Sequential([keras.Input((20, 20, 3)), layer])  # preprocessing only
    assert (np.asarray(pipeline(images.astype("float32"))) != images).any()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"probability": 1.5}, "`probability` must be a number in \\[0, 1\\]"),
        ({"area": (0.5, 0.1)}, "`area` must be a pair"),
        ({"area": (0.1, 1.0)}, "`area` must be a pair"),
        ({"aspect_ratio": (0, 2)}, "`aspect_ratio` must be a pair"),
        ({"fill_value": "mean"}, "`fill_value` must be a number or a list"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandomErasing(**kwargs)

"""Occlusion masks: exact hidden fractions on grids, the top of a CAM, the fill."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_has.metrics import occlusion


@settings(max_examples=25, deadline=None)
@given(
    fraction=st.floats(0, 1),
    seed=st.integers(0, 1000),
    grids=st.sampled_from([(8,), (4,), (8, 4), (2, 16)]),
)
def test_grid_masks_hide_whole_cells_at_the_fraction(fraction, seed, grids):
    masks = occlusion.grid_masks(20, 32, 32, fraction, grids, seed=seed)
    assert masks.shape == (20, 32, 32) and masks.dtype == bool
    for mask in masks:
        # Which grid: the one whose cells the mask is constant on, hiding round(f g^2) cells.
        fits = []
        for g in grids:
            cells = mask.reshape(g, 32 // g, g, 32 // g)
            constant = (cells.all(axis=(1, 3)) | ~cells.any(axis=(1, 3))).all()
            fits.append(constant and cells.all(axis=(1, 3)).sum() == round(fraction * g * g))
        assert any(fits)
    np.testing.assert_array_equal(
        masks, occlusion.grid_masks(20, 32, 32, fraction, grids, seed=seed)
    )


def test_grid_masks_partial_cells_and_arguments():
    mask = occlusion.grid_masks(1, 10, 10, 1.0, (3,), seed=0)[0]
    assert mask.all()  # cells of 4 pixels; the last row and column partial
    with pytest.raises(ValueError, match="`fraction` must be a number in"):
        occlusion.grid_masks(1, 10, 10, 1.5)
    with pytest.raises(ValueError, match="`grids` must name at least one"):
        occlusion.grid_masks(1, 10, 10, 0.5, ())


def test_cam_masks_hide_the_highest_pixels():
    cam = np.array([[[0.1, 0.9], [0.5, 0.9]]])
    np.testing.assert_array_equal(occlusion.cam_masks(cam, 0.5), [[[False, True], [False, True]]])
    np.testing.assert_array_equal(occlusion.cam_masks(cam, 0.75), [[[False, True], [True, True]]])
    assert not occlusion.cam_masks(cam, 0.0).any() and occlusion.cam_masks(cam, 1.0).all()
    with pytest.raises(ValueError, match="`cams` must hold finite values"):
        occlusion.cam_masks(np.full((1, 2, 2), np.nan), 0.5)


def test_occlude_fills_with_the_rounded_mean():
    pixels = np.zeros((1, 2, 2, 3), np.uint8)
    masks = np.array([[[True, False], [False, False]]])
    out = occlusion.occlude(pixels, masks, [10.4, 20.6, 30.5])
    assert out.dtype == np.uint8
    assert out[0, 0, 0].tolist() == [10, 21, 30] and not out[0, 1:].any() and not out[0, 0, 1].any()
    floats = occlusion.occlude(pixels.astype(np.float32), masks, [10.4, 20.6, 30.5])
    np.testing.assert_array_equal(floats[0, 0, 0], np.float32([10.4, 20.6, 30.5]))


def test_curves_of_a_classifier_that_needs_half_of_the_pixels():
    """Class 1 iff the mean pixel > 0.5: white images stay class 1 up to half hidden (black)."""
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(1, 1, kernel_initializer="ones", use_bias=False)(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="cam_pool")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Softmax(name="predictions")(x))
    model.get_layer("logits").set_weights([np.array([[0.0, 1.0]]), np.array([0.5, 0.0])])
    pixels = np.ones((6, 8, 8, 1), np.float32)
    out = occlusion.curves(model, pixels, np.ones(6), [0.25, 0.75], [0.0], lambda p: p, 4)
    assert out == {
        "occluded_accuracy": {"0": 1.0, "0.25": 1.0, "0.75": 0.0},
        "cam_occluded_accuracy": {"0": 1.0, "0.25": 1.0, "0.75": 0.0},
    }


class TopLeftModel:
    """A stand-in classifier: class 0's probability is the mean of the top-left 4x4 pixels."""

    def __call__(self, x, training=False):
        p0 = np.clip(np.asarray(x)[:, :4, :4, 0].mean(axis=(1, 2)), 0, 1)
        return np.stack([p0, 1 - p0], axis=1)


def test_sensitivity_finds_the_region_a_model_uses():
    pixels = np.ones((2, 8, 12, 1), np.float32)
    maps = occlusion.sensitivity(TopLeftModel(), pixels, [0, 1], 4, [0.0], lambda x: x, stride=4)
    assert maps.shape == (2, 2, 3)
    # Hiding the top-left patch takes class 0's probability from 1 to 0 (and class 1's from 0
    # to 1: a negative drop); nothing else matters. Exact: means of ones and zeros.
    expected = np.zeros((2, 2, 3), np.float32)
    expected[0, 0, 0], expected[1, 0, 0] = 1.0, -1.0
    np.testing.assert_array_equal(maps, expected)
    half = occlusion.sensitivity(TopLeftModel(), pixels, [0, 0], 4, [0.0], lambda x: x)
    assert half.shape == (2, 3, 5) and half[0, 0, 1] == 0.5  # stride 2: half the patch hidden
    with pytest.raises(ValueError, match="`patch`"):
        occlusion.sensitivity(TopLeftModel(), pixels, [0, 0], 9, [0.0], lambda x: x)

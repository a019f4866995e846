"""Pseudo-labels from multi-label CAMs (`keras_has.pseudo_labels`), against cases by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_has import pseudo_labels
from keras_has.data import segmentation as seg


def test_from_cams_by_hand():
    # One image 1x4, classes 0, 1, 2; class 2 absent from the image.
    cams = np.array(
        [[[[4.0, 0.0, 9.0], [2.0, 1.0, 9.0], [1.0, 3.0, 9.0], [-5.0, 0.5, 9.0]]]], np.float32
    )
    labels = np.array([[1, 1, 0]])
    # Max-scaled: class 0 -> 1, .5, .25, 0 (ReLU); class 1 -> 0, 1/3, 1, 1/6.
    np.testing.assert_array_equal(pseudo_labels.from_cams(cams, labels, 0.3), [[[1, 1, 2, 0]]])
    np.testing.assert_array_equal(pseudo_labels.from_cams(cams, labels, 0.6), [[[1, 0, 2, 0]]])
    np.testing.assert_array_equal(pseudo_labels.from_cams(cams, labels, 0.0), [[[1, 1, 2, 2]]])


def test_a_class_without_positive_evidence_and_an_image_without_labels_are_background():
    cams = np.stack([np.full((2, 2, 2), -1.0), np.ones((2, 2, 2))]).astype(np.float32)
    labels = np.array([[1, 0], [0, 0]])
    assert not pseudo_labels.from_cams(cams, labels, 0.1).any()


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float32, (2, 3, 5, 4), elements=st.floats(-2, 2, width=32)),
    hnp.arrays(np.int8, (2, 4), elements=st.integers(0, 1)),
    st.floats(0, 0.99),
)
def test_pseudo_labels_only_name_present_classes(cams, labels, background):
    maps = pseudo_labels.from_cams(cams, labels, background)
    assert maps.shape == (2, 3, 5) and maps.dtype == np.uint8
    for b in range(2):
        named = set(np.unique(maps[b])) - {0}
        assert named <= {c + 1 for c in np.flatnonzero(labels[b])}
        # A raised background never adds object pixels.
        higher = pseudo_labels.from_cams(cams[b : b + 1], labels[b : b + 1], (1 + background) / 2)
        assert np.count_nonzero(higher) <= np.count_nonzero(maps[b])


def test_from_cams_checks_its_arguments():
    with pytest.raises(ValueError, match="`background`"):
        pseudo_labels.from_cams(np.zeros((1, 2, 2, 3)), np.zeros((1, 3)), 1.0)
    with pytest.raises(ValueError, match=r"labels.shape=\(1, 2\)"):
        pseudo_labels.from_cams(np.zeros((1, 2, 2, 3)), np.zeros((1, 2)), 0.3)


class MaskCAMs:
    """A stand-in CAMModel whose CAM of class c is 1 on the pixels that the coded image's red
    channel marks as class c + 1 (red = 40 (c + 1)), whatever the normalization."""

    def __call__(self, images):
        red = np.asarray(images)[..., 0] * 40.0 + 80.0  # undo STATS below
        ids = np.round(red / 40.0).astype(int)
        return {"cams": np.stack([(ids == c + 1).astype(np.float32) for c in range(3)], -1)}


STATS = (np.array([80.0, 0.0, 0.0]), np.array([40.0, 1.0, 1.0]))


def test_of_source_replaces_the_masks_and_scores_them():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 4, (5, 6, 6)).astype(np.uint8)
    images = np.zeros((5, 6, 6, 3), np.uint8)
    images[..., 0] = masks * 40
    labels = np.stack([[float(c + 1 in m) for c in range(3)] for m in masks]).astype(np.float32)
    truth = masks.copy()
    truth[:, 0, 0] = 255  # void in the truth: not scored
    source = seg.from_arrays(images, truth, labels)
    # The sweep holds the background score too: each image's pseudo-labels still come once.
    labelled, scores = pseudo_labels.of_source(MaskCAMs(), source, STATS, 0.5, (0.2, 0.5), 2)
    got = list(labelled.as_numpy_iterator())
    np.testing.assert_array_equal(np.stack([e["mask"] for e in got]), masks)
    np.testing.assert_array_equal(np.stack([e["image"] for e in got]), images)
    # CAMs that are the masks give perfect pseudo-labels: exact ratios of counts.
    assert scores["pseudo_mean_iou"] == 1.0 and scores["pseudo_pixel_accuracy"] == 1.0
    assert scores["pseudo_best_mean_iou"] == 1.0 and scores["pseudo_best_background"] == 0.5

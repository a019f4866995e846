"""The built-in faces (`synthetic_faces`): deterministic, exact labels, aligned, covered cues."""

import numpy as np
import pytest

from keras_has.data import synthetic_faces as sf


@pytest.fixture(scope="module")
def emotions():
    return sf.make_emotions(64, 96, hard_fraction=0.25, seed=3)


def test_emotions_are_deterministic_balanced_and_grayscale(emotions):
    again = sf.make_emotions(64, 96, hard_fraction=0.25, seed=3)
    np.testing.assert_array_equal(emotions.images, again.images)
    np.testing.assert_array_equal(emotions.labels, again.labels)
    assert not np.array_equal(emotions.images, sf.make_emotions(64, 96, 0.25, seed=4).images)
    assert emotions.images.shape == (64, 96, 96, 1) and emotions.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(emotions.labels), [8] * 8)  # 64 = 8 x 8
    assert emotions.ages is None and emotions.genders is None
    assert 0.05 < emotions.covered.mean() < 0.5  # about a quarter (binomial, seeded)


def test_faces_are_aligned_and_covers_hide_the_mouth(emotions):
    # The eye whites (245 before noise) sit at the same rows in every face: 0.37 of the side.
    rows = [np.flatnonzero((image[..., 0] > 225).sum(axis=1) >= 4) for image in emotions.images]
    centres = np.array([r.mean() for r in rows if len(r)]) / 96
    assert len(centres) == 64 and np.abs(centres - 0.37).max() < 0.04
    # A covered face's mouth rows are one flat colour plus noise (sd 6); an uncovered one's not.
    mouth = emotions.images[:, 62:84, 30:66, 0].astype(float)
    spread = mouth.std(axis=(1, 2))
    assert spread[emotions.covered].max() < 8 < spread[~emotions.covered].min()


def test_ages_and_genders():
    faces = sf.make_ages(40, 64, seed=1)
    assert faces.images.shape == (40, 64, 64, 3) and faces.labels is None
    assert faces.ages.min() >= 0 and faces.ages.max() <= 100 and faces.ages.std() > 15
    assert set(np.unique(faces.genders)) == {0, 1}
    # A person keeps one gender.
    for person in np.unique(faces.subjects):
        assert len(set(faces.genders[faces.subjects == person])) == 1


@pytest.mark.parametrize("make", [sf.make_emotions, sf.make_ages])
def test_the_recipes_split_covers_test_faces_only(make):
    train, test = sf.train_test(make, 40, 80, 32, hard_fraction=0.5)
    assert len(train.images) == 40 and len(test.images) == 80
    assert not train.covered.any() and 0.3 < test.covered.mean() < 0.7  # binomial(80, 0.5)
    assert not np.array_equal(train.images[:40], test.images[:40])  # other seeds, other people


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"image_size": 16}, "image_size"),
        ({"hard_fraction": 1.5}, "hard_fraction"),
        ({"num_subjects": 1}, "num_subjects"),
        ({"num_images": 0}, "num_images"),
    ],
)
def test_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        sf.make_emotions(**{"num_images": 2, **kwargs})

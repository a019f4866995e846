"""Classification data: TFDS sources on mocked TFDS, pixel statistics, the CIFAR and ImageNet
transforms, Hide-and-Seek and Random Erasing on the raw pixels before the normalization."""

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import as_numpy, mock, raw_examples

from keras_has.data import classification as cls
from keras_has.data.tfds_access import DataNotPreparedError


@pytest.mark.parametrize("name,classes", [("cifar10", 10), ("cifar100", 100), ("imagenet", 1000)])
def test_tfds_sources_on_mocked_tfds(name, classes):
    with mock(5):
        raw = raw_examples(cls.TFDS_NAMES[name], "train")
        ds, info = cls.tfds_source(name, "train")
        got = as_numpy(ds)
    assert info.num_classes == classes and not info.has_boxes
    assert [set(g) for g in got] == [{"image", "label"}] * 5
    for g, r in zip(got, raw):
        np.testing.assert_array_equal(g["image"], r["image"])
        assert g["label"] == r["label"] and g["label"].dtype == np.int64


def test_missing_tfds_data_says_how_to_prepare(tmp_path):
    with pytest.raises(DataNotPreparedError, match="tfds build cifar10"):
        cls.tfds_source("cifar10", "train", data_dir=str(tmp_path))


def test_channel_stats_of_arrays_and_sources():
    images = np.random.default_rng(0).integers(0, 256, (50, 6, 5, 3), dtype=np.uint8)
    mean, std = cls.channel_stats(images)
    # float64 sums of at most 1500 values per channel: exact to 1e-9 relative.
    np.testing.assert_allclose(mean, images.reshape(-1, 3).mean(0), rtol=1e-9)
    np.testing.assert_allclose(std, images.reshape(-1, 3).std(0), rtol=1e-9)
    from_source = cls.channel_stats(cls.from_arrays(images, np.zeros(50)))
    np.testing.assert_allclose(from_source, (mean, std), rtol=1e-9)


def batches(source, **kwargs):
    return list(
        cls.train_dataset(source, 8, (np.zeros(1), np.ones(1)), **kwargs).as_numpy_iterator()
    )


def test_cifar_transform_is_a_padded_shifted_window_maybe_flipped():
    images = np.random.default_rng(1).integers(1, 256, (16, 12, 12, 1), dtype=np.uint8)
    labels = np.arange(16)
    for x, y in batches(cls.from_arrays(images, labels), seed=3):
        for image, label in zip(x, y):
            padded = np.pad(images[label, ..., 0], 4)
            windows = [padded[i : i + 12, j : j + 12] for i in range(9) for j in range(9)]
            windows += [w[:, ::-1] for w in windows]
            # Unit stats: the normalized image is the pixels as floats, exactly.
            assert any(np.array_equal(image[..., 0], w) for w in windows)


def test_has_with_image_prob_and_the_mean_fill_before_normalizing():
    images = np.full((64, 16, 16, 1), 200, np.uint8)
    stats = (np.array([100.0]), np.array([50.0]))
    ds = cls.train_dataset(
        cls.from_arrays(images, np.zeros(64)),
        64,
        stats,
        seed=0,
        has={"patch_size": 8, "hide_prob": 1.0, "image_prob": 0.5},
    )
    x, _ = next(iter(ds))
    x = x.numpy()
    # Pixels 200 -> 2.0, padding zeros -> -2.0, the hidden mean 100 -> 0.0: exact in float32.
    assert set(np.unique(x)) <= {-2.0, 0.0, 2.0}
    hidden = (x == 0.0).all(axis=(1, 2, 3))
    assert 10 < hidden.sum() < 54  # Binomial(64, 0.5): within 5.5 sd
    assert not ((x == 0.0).any(axis=(1, 2, 3)) & ~hidden).any()  # hide_prob 1: all or none
    erased = cls.train_dataset(
        cls.from_arrays(images, np.zeros(64)), 64, stats, seed=0, erasing={"probability": 1.0}
    )
    x = next(iter(erased))[0].numpy()
    assert (x == 0.0).any(axis=(1, 2, 3)).mean() > 0.9  # a rectangle in (almost) every image


def test_imagenet_transforms():
    images = np.random.default_rng(2).integers(0, 256, (4, 60, 90, 3), dtype=np.uint8)
    source = cls.from_arrays(images, np.arange(4))
    train = cls.train_dataset(  # HaS needs the channels, which the random crop's slice hides
        source, 4, cls.IMAGENET_STATS, "imagenet", image_size=32, seed=1, has={"patch_size": 8}
    )
    x, _ = next(iter(train))
    assert x.shape == (4, 32, 32, 3) and x.dtype == tf.float32
    test = next(iter(cls.eval_dataset(source, 4, cls.IMAGENET_STATS, "imagenet", image_size=28)))
    assert test["pixels"].shape == (4, 32, 32, 3)  # shorter side 28 * 256 / 224 = 32, centre
    assert test["pixels"].dtype == tf.uint8
    # The normalized image is the pixels' (x - mean) / std, to float32 rounding.
    expected = (test["pixels"].numpy() - cls.IMAGENET_STATS[0]) / cls.IMAGENET_STATS[1]
    np.testing.assert_allclose(test["image"].numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="`transform` must be one of"):
        cls.train_dataset(source, 4, cls.IMAGENET_STATS, "mnist")


def test_a_constant_channel_is_centred_not_divided_by_zero():
    images = np.zeros((3, 4, 4, 2), np.uint8)
    images[..., 0] = 7
    images[..., 1] = np.arange(3)[:, None, None] * 100
    mean, std = cls.channel_stats(images)
    assert std[0] == 1.0 and std[1] > 1  # exact: the floor
    assert np.isfinite(np.asarray(cls.normalize(images, (mean, std)))).all()

"""The built-in segmentation scenes (`synthetic_scenes`) and the segmentation pipelines
(`keras_has.data.segmentation`): joint transforms, HaS on the image only, test padding."""

import numpy as np
import pytest
import tensorflow as tf

from keras_has.data import classification as cls
from keras_has.data import segmentation as seg
from keras_has.data import synthetic_scenes


@pytest.fixture(scope="module")
def scenes():
    return synthetic_scenes.make(40, 64, 8, max_objects=3, seed=7)


def test_scenes_are_deterministic_and_labelled_exactly(scenes):
    again = synthetic_scenes.make(40, 64, 8, max_objects=3, seed=7)
    for field in ("images", "masks", "labels", "part_masks"):
        np.testing.assert_array_equal(getattr(scenes, field), getattr(again, field))
    assert not np.array_equal(scenes.images, synthetic_scenes.make(40, 64, 8, 3, seed=8).images)
    assert scenes.images.shape == (40, 64, 64, 3) and scenes.masks.dtype == np.uint8
    assert scenes.num_classes == 9
    counts = scenes.labels.sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 3 and len(set(counts)) > 1
    for mask, labels, parts in zip(scenes.masks, scenes.labels, scenes.part_masks):
        # The labels are exactly the classes in the mask; animal pixels are the parts' pixels.
        present = np.unique(mask[mask > 0]) - 1
        np.testing.assert_array_equal(present, np.flatnonzero(labels))
        np.testing.assert_array_equal(mask > 0, parts > 0)


def test_each_animal_keeps_a_visible_head_or_body(scenes):
    for mask, parts in zip(scenes.masks, scenes.part_masks):
        for c in np.unique(mask[mask > 0]):
            visible = parts[mask == c]
            assert np.count_nonzero(visible == 2) > 0  # some body of every animal is in view


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"image_size": 32}, "image_size"),
        ({"num_classes": 9}, "num_classes"),
        ({"max_objects": 0}, "max_objects"),
        ({"scale": 0.9}, "scale"),
    ],
)
def test_scene_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        synthetic_scenes.make(**{"num_images": 2, **kwargs})


def coded_source(n=6, size=20, seed=0):
    """Images whose red channel is 10 x their mask and green channel the column index: a
    transform that moves image and mask differently breaks red == 10 mask."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, 9, (n, size, size)).astype(np.uint8)
    images = np.zeros((n, size, size, 3), np.uint8)
    images[..., 0] = masks * 10
    images[..., 1] = np.arange(size)[None, None, :]
    images[..., 2] = 200
    labels = np.zeros((n, 8), np.float32)
    return seg.from_arrays(images, masks, labels), images, masks


STATS = (np.array([100.0, 50.0, 200.0]), np.array([10.0, 10.0, 10.0]))


def pixels_of(normalized):
    """Normalized images back to pixels (exact to rounding: (x - m) / s * s + m)."""
    return np.round(np.asarray(normalized) * STATS[1] + STATS[0]).astype(np.int64)


def test_joint_crop_and_flip_move_image_and_mask_together():
    source = coded_source()[0]
    batch_images, batch_masks = next(iter(seg.train_dataset(source, 6, STATS, 12, seed=3)))
    pixels, masks = pixels_of(batch_images), np.asarray(batch_masks)
    assert pixels.shape == (6, 12, 12, 3) and masks.dtype == np.int32
    np.testing.assert_array_equal(pixels[..., 0], masks * 10)
    columns = pixels[..., 1]
    steps = np.diff(columns, axis=-1)  # one crop per image, flipped or not
    assert set(np.unique(steps[:, 0])) <= {-1, 1}
    assert (steps == steps[:, :, :1]).all()
    assert {-1, 1} <= set(np.unique(steps))  # both orientations among the 6 (seeded)


def test_small_images_are_padded_with_the_mean_and_void():
    source, _, _ = coded_source(n=2, size=10)
    batch_images, batch_masks = next(iter(seg.train_dataset(source, 2, STATS, 16, seed=0)))
    pixels, masks = pixels_of(batch_images), np.asarray(batch_masks)
    void = masks == 255
    assert void.sum() == 2 * (16 * 16 - 10 * 10)  # exactly the padding
    np.testing.assert_array_equal(pixels[void], np.broadcast_to([100, 50, 200], (void.sum(), 3)))


def test_has_hides_the_image_with_the_mean_and_never_the_mask():
    source, _, _ = coded_source(n=8, size=32)
    has = {"patch_size": [8], "hide_prob": 0.5}
    plain = next(iter(seg.train_dataset(source, 8, STATS, 32, seed=5)))
    hidden = next(iter(seg.train_dataset(source, 8, STATS, 32, has=has, seed=5)))
    np.testing.assert_array_equal(plain[1], hidden[1])  # the same crops; masks untouched
    changed = (pixels_of(plain[0]) != pixels_of(hidden[0])).any(axis=-1)
    assert 0.2 < changed.mean() < 0.8  # about half the cells hidden
    np.testing.assert_array_equal(
        pixels_of(hidden[0])[changed], np.broadcast_to([100, 50, 200], (changed.sum(), 3))
    )


def test_label_targets_and_bad_target():
    source, _, _ = coded_source()
    _, labels = next(iter(seg.train_dataset(source, 3, STATS, 12, target="labels", seed=0)))
    assert labels.shape == (3, 8) and labels.dtype == tf.float32
    with pytest.raises(ValueError, match="`target`"):
        seg.train_dataset(source, 3, STATS, 12, target="boxes")


def test_eval_pads_to_the_size_and_refuses_larger_images():
    source, images, masks = coded_source(n=3, size=10)
    batch = next(iter(seg.eval_dataset(source, 3, STATS, 14)))
    assert batch["image"].shape == (3, 14, 14, 3)
    np.testing.assert_array_equal(batch["mask"][:, :10, :10], masks)
    assert (np.asarray(batch["mask"])[:, 10:] == 255).all()
    assert not np.asarray(batch["image"])[:, 10:].any()  # the mean: 0 after normalization
    np.testing.assert_array_equal(batch["pixels"][:, :10, :10], images)
    with pytest.raises(ValueError, match="`size` must be at least"):
        seg.eval_dataset(source, 3, STATS, 8)
    ragged = tf.data.Dataset.from_generator(  # sizes known only at run time (VOC)
        lambda: source.as_numpy_iterator(), output_signature=unknown_sizes(source.element_spec)
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than size=8"):
        next(iter(seg.eval_dataset(ragged, 3, STATS, 8)))


def unknown_sizes(spec):
    """`spec` with the image and mask heights and widths unknown."""
    return {
        **spec,
        "image": tf.TensorSpec((None, None, 3), tf.uint8),
        "mask": tf.TensorSpec((None, None), tf.uint8),
    }


def test_channel_stats_of_scenes_are_their_pixels_mean(scenes):
    mean, std = cls.channel_stats(scenes.images)
    # float64 sums of uint8 values: exact to ~1e-12 relative.
    np.testing.assert_allclose(mean, scenes.images.reshape(-1, 3).mean(0), rtol=1e-9)
    np.testing.assert_allclose(std, scenes.images.reshape(-1, 3).std(0), rtol=1e-9)

"""The built-in localization data and the training/test pipelines."""

import cv2
import numpy as np
import pytest

from keras_has.boxes import box_iou, cam_to_boxes
from keras_has.data import pipeline, synthetic


@pytest.fixture(scope="module")
def animals():
    return synthetic.make(64, 108, 8, seed=3)


def test_generation_is_deterministic_and_balanced(animals):
    again = synthetic.make(64, 108, 8, seed=3)
    for field in ("images", "labels", "boxes", "masks", "part_masks"):
        np.testing.assert_array_equal(getattr(animals, field), getattr(again, field))
    other = synthetic.make(64, 108, 8, seed=4)
    assert not np.array_equal(animals.images, other.images)
    assert np.bincount(animals.labels, minlength=8).tolist() == [8] * 8
    assert animals.images.dtype == np.uint8 and animals.images.shape == (64, 108, 108, 3)


def test_boxes_and_masks_are_exact(animals):
    for box, mask, parts in zip(animals.boxes, animals.masks, animals.part_masks):
        rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        np.testing.assert_array_equal(box, [[cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]])
        np.testing.assert_array_equal(mask, parts > 0)
        head, body = (parts == 1).sum(), (parts == 2).sum()
        # The discriminative head is a small part of the animal.
        assert 0 < head < 0.4 * body and (parts == 3).any()


def test_a_head_box_fails_and_a_whole_animal_map_passes_at_cam_resolution():
    """What makes the data hard as in the paper, at GoogLeNet's 1/16 CAM resolution.

    A CAM on the head alone, even blurred to 8x8 cells and upsampled, never boxes the animal
    (IoU < 0.5), while one on head and body does: the metric tells the two apart.
    """
    animals = synthetic.make(200, 128, 8, seed=5)
    areas = np.prod(animals.boxes[:, 0, 2:] - animals.boxes[:, 0, :2], axis=-1)
    assert 0.3 < areas.mean() / 128**2 < 0.55  # large objects, as in ILSVRC

    def box_accuracy(parts_on, threshold):
        maps = [
            cv2.resize(
                cv2.resize(
                    np.isin(p, parts_on).astype(np.float32), (8, 8), interpolation=cv2.INTER_AREA
                ),
                (128, 128),
            )
            for p in animals.part_masks
        ]
        found = cam_to_boxes(np.stack(maps), threshold)
        iou = np.array([box_iou(f[None], g)[0, 0] for f, g in zip(found, animals.boxes)])
        return (iou >= 0.5).mean()

    for threshold in (0.2, 0.3, 0.5):
        assert box_accuracy([1], threshold) == 0.0
        assert box_accuracy([1, 2], threshold) > 0.9


def test_the_head_names_the_class_and_the_body_shares_one_colour(animals):
    head_colours = {}
    for image, parts, label in zip(animals.images, animals.part_masks, animals.labels):
        colour = image[parts == 1].astype(float).mean(0)
        head_colours.setdefault(int(label), []).append(colour / colour.max())
    centres = np.array([np.mean(head_colours[c], 0) for c in range(8)])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(8)
    assert gaps.min() > 0.3  # 8 clearly different head colours
    body = [
        image[parts == 2].astype(float).mean(0)
        for image, parts in zip(animals.images, animals.part_masks)
    ]
    assert np.std(body, axis=0).max() < 25  # the body's colour does not name the class


def test_bad_arguments():
    for kwargs, name in [
        ({"num_images": 0}, "num_images"),
        ({"num_images": True}, "num_images"),
        ({"image_size": 32}, "image_size"),
        ({"image_size": 64.0}, "image_size"),
        ({"num_classes": 9}, "num_classes"),
    ]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            synthetic.make(**{"num_images": 4, **kwargs})


def test_training_pipeline_is_seeded_and_hides_with_the_mean(animals):
    source = pipeline.from_arrays(animals.images, animals.labels, animals.boxes, animals.masks)
    mean = pipeline.fill_mean(source, 108)
    # adapt() sums ~10^6 float32 values per batch in a thread-dependent order: ~1e-6 relative.
    np.testing.assert_allclose(mean, animals.images.reshape(-1, 3).mean(0), rtol=1e-5)

    def batches(seed, patch_size=32):
        data = pipeline.train_dataset(source, 16, 108, 96, patch_size, mean=mean, seed=seed)
        return [(x.numpy(), y.numpy()) for x, y in data.take(2)]

    first, again = batches(1), batches(1)
    # Exact: the same seeds select the same uint8 pixels, normalized by the same elementwise op.
    for (x, y), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(first[0][0], batches(2)[0][0])
    x, y = first[0]
    assert x.shape == (16, 96, 96, 3) and x.dtype == np.float32
    fill = np.rint(mean).astype(np.float32) / 127.5 - 1.0
    # Hidden pixels are the uint8 fill, normalized in float32; 1e-6 is a margin for rounding,
    # far below one pixel level (1 / 127.5), so no other value passes for the fill.
    hidden = np.all(np.abs(x - fill) < 1e-6, axis=-1)
    assert 0.2 < hidden.mean() < 0.8  # hide_prob 0.5 on 32-pixel cells
    baseline = pipeline.train_dataset(source, 16, 108, 96, None, seed=1)
    x0 = next(iter(baseline))[0].numpy()
    assert np.all(np.abs(x0 - fill) < 1e-6, axis=-1).mean() < 0.01
    assert -1.0 <= x0.min() and x0.max() <= 1.0
    with pytest.raises(ValueError, match="`mean`"):
        pipeline.train_dataset(source, 16, 108, 96, 32)


def test_eval_pipeline_scales_boxes_and_masks(animals):
    source = pipeline.from_arrays(animals.images, animals.labels, animals.boxes, animals.masks)
    batch = next(iter(pipeline.eval_dataset(source, 8, 216)))
    # Integer boxes times the exact scale 2.0 in float32: exact, 1e-4 px only as a margin.
    np.testing.assert_allclose(batch["boxes"].numpy(), animals.boxes[:8] * 2, atol=1e-4)
    np.testing.assert_array_equal(batch["mask"].numpy()[:, ::2, ::2], animals.masks[:8])
    np.testing.assert_array_equal(batch["label"].numpy(), animals.labels[:8])
    assert batch["image"].shape == (8, 216, 216, 3)

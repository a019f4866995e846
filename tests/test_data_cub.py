"""CUB-200-2011 (keras_has.data.cub200) on TFDS mock data.

Expected boxes are computed here from the mocked TFDS values, not with the
library's code.
"""

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import as_numpy, mock, raw_examples

from keras_has.data.cub200 import cub


def expected_cub_box(bbox, height, width, rounded=True):
    """TFDS (ymin, xmin, ymax, xmax) in [0, 1] -> half-open pixels, in float64."""
    ymin, xmin, ymax, xmax = (float(v) for v in bbox)
    box = np.array([xmin * width, ymin * height, xmax * width, ymax * height])
    if rounded:
        box = np.floor(box + 0.5)
    return np.clip(box, 0, [width, height, width, height])


def test_cub_boxes_from_random_mock_examples():
    with mock(6):
        raw = raw_examples("caltech_birds2011", "train")
        ds, info = cub("train", data_dir="/nonexistent", masks=False)
        got = as_numpy(ds)
        exact = as_numpy(cub("train", masks=False, round_boxes=False)[0])
    assert info.name == "caltech_birds2011" and info.num_classes == 200
    assert not info.has_masks and info.has_boxes and info.report is None
    assert len(got) == len(raw) == 6
    for ex, want, ex_exact in zip(got, raw, exact):
        assert set(ex) == {"image", "label", "boxes"}
        h, w = want["image"].shape[:2]
        np.testing.assert_array_equal(ex["image"], want["image"])
        assert ex["label"].dtype == np.int64 and ex["label"] == want["label"]
        assert ex["boxes"].dtype == np.float32 and ex["boxes"].shape == (1, 4)
        np.testing.assert_array_equal(ex["boxes"][0], expected_cub_box(want["bbox"], h, w))
        # float32 boxes against the float64 expectation: one float32 rounding.
        np.testing.assert_allclose(
            ex_exact["boxes"][0], expected_cub_box(want["bbox"], h, w, False), rtol=1e-6
        )


# (H, W, CUB bounding_boxes.txt "x y width height")
CUB_CASES = [
    (375, 500, (60, 27, 325, 304)),  # image 1 of CUB: (60, 27, 385, 331)
    (333, 500, (0, 0, 500, 333)),  # the whole image
    (480, 319, (10, 400, 320, 90)),  # past the right and bottom edges: TFDS clips at 1
    (7, 9, (3, 2, 1, 1)),  # one pixel
]
MASK_LEVELS = np.array([0, 51, 102, 127, 128, 153, 204, 255], np.uint8)


def make_cub_examples():
    rng = np.random.default_rng(7)
    examples = []
    for k, (h, w, (x, y, bw, bh)) in enumerate(CUB_CASES):
        # TFDS: (y / H, x / W, (y + h) / H, (x + w) / W), maxima clipped to 1, float32.
        bbox = np.array([y / h, x / w, min((y + bh) / h, 1.0), min((x + bw) / w, 1.0)], np.float32)
        examples.append(
            {
                "image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                "image/filename": f"{k:03d}.Bird/Bird_{k}.jpg",
                "label": np.int64(k * 50),
                "label_name": "bird",
                "bbox": bbox,
                "segmentation_mask": rng.choice(MASK_LEVELS, (h, w, 1)),
            }
        )
    return examples


def cub_as_dataset_fn(examples):
    def as_dataset(self, split, decoders=None, read_config=None, **kwargs):
        del self, split, decoders, read_config, kwargs
        signature = {
            "image": tf.TensorSpec((None, None, 3), tf.uint8),
            "image/filename": tf.TensorSpec((), tf.string),
            "label": tf.TensorSpec((), tf.int64),
            "label_name": tf.TensorSpec((), tf.string),
            "bbox": tf.TensorSpec((4,), tf.float32),
            "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
        }
        return tf.data.Dataset.from_generator(lambda: iter(examples), output_signature=signature)

    return as_dataset


def test_cub_boxes_and_masks_on_consistent_examples():
    examples = make_cub_examples()
    with mock(len(examples), as_dataset_fn=cub_as_dataset_fn(examples)):
        got = as_numpy(cub("test", keep_file_name=True)[0])
        any_nonzero = as_numpy(cub("test", mask_threshold=0.0)[0])
    expected_boxes = [(60, 27, 385, 331), (0, 0, 500, 333), (10, 400, 319, 480), (3, 2, 4, 3)]
    for ex, ex0, src, box in zip(got, any_nonzero, examples, expected_boxes):
        assert set(ex) == {"image", "label", "boxes", "mask", "file_name"}
        np.testing.assert_array_equal(ex["boxes"], np.array([box], np.float32))
        soft = src["segmentation_mask"][..., 0]
        assert ex["mask"].dtype == np.uint8 and ex["mask"].shape == soft.shape
        np.testing.assert_array_equal(ex["mask"], (soft >= 128).astype(np.uint8))
        np.testing.assert_array_equal(ex0["mask"], (soft > 0).astype(np.uint8))
        assert ex["file_name"].decode() == src["image/filename"]
        assert ex["label"] == src["label"]


def test_cub_mask_of_another_size_is_an_error_naming_the_file():
    with mock(3):  # the random mock draws the mask's size apart from the image's
        raw = raw_examples("caltech_birds2011", "test")
        assert raw[0]["image"].shape[:2] != raw[0]["segmentation_mask"].shape[:2]
        ds, info = cub("test")
        assert info.has_masks
        with pytest.raises(tf.errors.InvalidArgumentError, match="mask size differs") as err:
            as_numpy(ds)
    assert raw[0]["image/filename"].decode() in str(err.value)


def test_cub_argument_checks():
    for bad in (1.0, -0.1, "0.5", True):
        with pytest.raises(ValueError, match=r"`mask_threshold` must be a number in \[0, 1\)"):
            cub("train", mask_threshold=bad)

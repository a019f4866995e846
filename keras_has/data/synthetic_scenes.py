"""A built-in segmentation data set, generated: scenes of one to a few animals of different
classes, with exact class-index masks and image-level labels.

The animals are the built-in localization set's (`synthetic`): a small head whose colour names
the class, a larger striped body whose stripes also name it, legs that carry no class. A
classifier that has the head learns little of the body, so its CAMs (and pseudo-labels made
from them) cover the heads and miss most of each animal: what Hide-and-Seek addresses, and
what a segmentation network pre-trained on such features must undo. Animals are placed so that
each keeps most of itself in view; a later one may hide part of an earlier one.

Deterministic from the seed (NumPy's PCG64 and plain arithmetic), as `synthetic.make`.
"""

import dataclasses

import numpy as np

from keras_has._arguments import as_int
from keras_has.data import synthetic

MIN_IMAGE_SIZE = 48
IGNORE_LABEL = 255  # mask value of pixels scored by no one (VOC's void); none here
_VISIBLE = 0.6  # the least visible fraction of each animal (else the scene is drawn again)


@dataclasses.dataclass(frozen=True)
class Scenes:
    """N generated scenes of animals of C classes.

    Attributes:
        images: (N, S, S, 3) uint8 RGB.
        masks: (N, S, S) uint8 class-index maps: 0 background, c + 1 an animal of class c.
        labels: (N, C) float32 multi-hot: the classes present.
        part_masks: (N, S, S) uint8: 1 head, 2 body, 3 legs, 0 background.
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    part_masks: np.ndarray

    @property
    def num_classes(self):
        """Classes of the masks, the background included (C + 1)."""
        return self.labels.shape[1] + 1


def make(num_images, image_size=64, num_classes=8, max_objects=2, scale=0.42, seed=0):
    """Generates `num_images` scenes of 1..`max_objects` animals of different classes.

    Args:
        num_images: how many.
        image_size: side S (at least 48).
        num_classes: animal classes C, 2 to `synthetic.MAX_CLASSES` (8).
        max_objects: the most animals per scene, 1 to C.
        scale: animal size: 1.0 is the localization set's at 128x128 (an animal about 110
            pixels long); 0.42 gives animals about 40 pixels long.
        seed: int; the same seed gives the same data.

    Returns:
        `Scenes`.
    """
    num_images = as_int(num_images, "num_images", minimum=1)
    size = as_int(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    num_classes = as_int(num_classes, "num_classes", minimum=2, maximum=synthetic.MAX_CLASSES)
    max_objects = as_int(max_objects, "max_objects", minimum=1, maximum=num_classes)
    if not 0.2 <= scale <= size / 128:
        raise ValueError(
            f"`scale` must be in [0.2, image_size / 128] = [0.2, {size / 128:g}] (an animal of "
            f"scale 1 is about 110 pixels long). Received: scale={scale!r}"
        )
    rng = np.random.default_rng(seed)
    images = np.empty((num_images, size, size, 3), np.uint8)
    masks = np.zeros((num_images, size, size), np.uint8)
    part_masks = np.zeros((num_images, size, size), np.uint8)
    labels = np.zeros((num_images, num_classes), np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
    for i in range(num_images):
        count = int(rng.integers(1, max_objects + 1))
        classes = rng.choice(num_classes, count, replace=False)
        images[i], masks[i], part_masks[i] = _scene(rng, classes, num_classes, size, scale, xx, yy)
        labels[i, classes] = 1.0
    return Scenes(images, masks, labels, part_masks)


def _scene(rng, classes, num_classes, size, scale, xx, yy):
    """(image, class-index mask, part map) of animals of `classes` on one background."""
    while True:
        shapes = [_placed(rng, scale, size, xx, yy) for _ in classes]
        owner = np.full((size, size), -1)
        for k, (head, body, legs) in enumerate(shapes):
            owner[head | body | legs] = k
        areas = [np.count_nonzero(np.any(s, axis=0)) for s in shapes]
        if all(np.count_nonzero(owner == k) >= _VISIBLE * a for k, a in enumerate(areas)):
            break
    image = synthetic.background(rng, size, xx, yy)
    mask = np.zeros((size, size), np.uint8)
    part = np.zeros((size, size), np.uint8)
    for label, shape in zip(classes, shapes):
        image = synthetic.paint(rng, int(label), num_classes, image, shape, xx, yy, scale)
        drawn = synthetic.parts(shape)
        mask = np.where(drawn > 0, label + 1, mask).astype(np.uint8)
        part = np.where(drawn > 0, drawn, part)
    image += rng.normal(0, 8.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask, part


def _placed(rng, scale, size, xx, yy):
    """An animal's (head, body, legs) masks with its body centre inside the frame's middle."""
    margin = 40 * scale  # about a body's half length: the body stays in the frame
    centre = rng.uniform(margin, size - margin, 2)
    return synthetic.animal_masks(rng, scale, size, xx, yy, centre)

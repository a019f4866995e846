"""A built-in localization data set, generated, with exact boxes and masks.

Each image holds one "animal" that fills about 40% of the frame (as objects
in ILSVRC do): a small head whose colour names the class (the most
discriminative part: one colour feature suffices), a larger striped body
whose stripes (period and orientation in the image) also name the class
but take a texture detector to read, and four legs that carry no class
information. A plain GAP network fits the training set from the head
within a few epochs and then gets little gradient to learn the body, so its
CAM covers mostly the head while the ground-truth box covers the whole
animal: the failure mode that Hide-and-Seek addresses (Sec. 1 and Fig. 1
of the paper). When the head is hidden only the body is left, so a network
trained with hiding learns it too. Backgrounds are smooth random colour
fields with noise, from the same distribution for every class.

Everything is deterministic from the seed: `make(n, seed=s)` gives the same
images, labels, boxes and masks on any machine (NumPy's PCG64 and plain
arithmetic, no OpenCV drawing).
"""

import dataclasses

import numpy as np

from keras_has._arguments import as_int

# Class c: head hue, body stripes (period in pixels at 128, angle in the image).
_HUES = np.linspace(0.0, 1.0, 17)[:-1]
_PERIODS = (6.5, 10.5)
_ANGLES = (0.0, 45.0, 90.0, 135.0)


@dataclasses.dataclass(frozen=True)
class Animals:
    """N generated examples.

    Attributes:
        images: (N, S, S, 3) uint8 RGB.
        labels: (N,) int64 class ids.
        boxes: (N, 1, 4) float32 ground-truth box of the whole animal,
            (x_min, y_min, x_max, y_max) half-open pixels.
        masks: (N, S, S) uint8, 1 on the animal.
        part_masks: (N, S, S) uint8: 1 head, 2 body, 3 legs, 0 background
            (for analysis: which part a CAM covers).
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    part_masks: np.ndarray


MAX_CLASSES = len(_PERIODS) * len(_ANGLES)
MIN_IMAGE_SIZE = 64


def make(num_images, image_size=128, num_classes=8, seed=0):
    """Generates `num_images` examples of `num_classes` balanced classes.

    Args:
        num_images: how many.
        image_size: side S of the square images (at least MIN_IMAGE_SIZE, 64).
        num_classes: 2 to MAX_CLASSES (8).
        seed: int; the same seed gives the same data.

    Returns:
        `Animals`.
    """
    num_images = as_int(num_images, "num_images", minimum=1)
    image_size = as_int(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    num_classes = as_int(num_classes, "num_classes", minimum=2, maximum=MAX_CLASSES)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_images) % num_classes).astype(np.int64)
    size = image_size
    images = np.empty((num_images, size, size, 3), np.uint8)
    parts = np.empty((num_images, size, size), np.uint8)
    boxes = np.empty((num_images, 1, 4), np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
    for i, label in enumerate(labels):
        image, part = _animal(rng, int(label), num_classes, size, xx, yy)
        images[i], parts[i] = image, part
        rows, cols = np.nonzero(part.any(axis=1))[0], np.nonzero(part.any(axis=0))[0]
        boxes[i, 0] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return Animals(images, labels, boxes, (parts > 0).astype(np.uint8), parts)


def _animal(rng, label, num_classes, size, xx, yy):
    """One example at `size`: (image (S, S, 3) uint8, part map (S, S) uint8)."""
    scale = size / 128.0
    shape = animal_masks(rng, scale, size, xx, yy)
    image = background(rng, size, xx, yy)
    image = paint(rng, label, num_classes, image, shape, xx, yy, scale)
    image += rng.normal(0, 8.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), parts(shape)


def animal_masks(rng, scale, size, xx, yy, centre=None):
    """An animal's masks (head, body, legs), each (S, S) bool, at `scale` (1: for 128x128
    images); centred at `centre` (x, y) or at a random place keeping its body in the frame."""
    body_a = rng.uniform(34, 44) * scale  # semi-axes of the body ellipse
    body_b = rng.uniform(17, 22) * scale
    head_r = rng.uniform(11.5, 14.5) * scale
    theta = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(theta), np.sin(theta)])
    if centre is None:
        reach = body_a + 1.6 * head_r  # from the body centre to the head's far side
        margin = min(reach, size / 2)  # the head's edge may leave the frame
        centre = rng.uniform(margin, size - margin, 2)
    cx, cy = centre
    # Body frame coordinates.
    u = (xx - cx) * direction[0] + (yy - cy) * direction[1]
    v = -(xx - cx) * direction[1] + (yy - cy) * direction[0]
    body = (u / body_a) ** 2 + (v / body_b) ** 2 <= 1
    hx, hy = np.array([cx, cy]) + direction * (body_a + 0.6 * head_r)
    head = (xx - hx) ** 2 + (yy - hy) ** 2 <= head_r**2
    legs = np.zeros_like(body)
    for along in (-0.55, 0.55):
        for side in (-1, 1):
            leg_u = along * body_a
            legs |= (np.abs(u - leg_u) <= 2.6 * scale) & (
                (side * v >= 0.8 * body_b) & (side * v <= body_b + 12 * scale)
            )
    return head, body, legs & ~body


def paint(rng, label, num_classes, image, shape, xx, yy, scale):
    """`image` (S, S, 3) float with the animal of class `label` painted where `shape` (head,
    body, legs masks) says: class-coded body stripes, plain legs, the class's head colour."""
    head, body, legs = shape
    # Body: class-coded stripes (period, angle) in a colour shared by all classes.
    period = _PERIODS[label % len(_PERIODS)] * scale
    angle = np.deg2rad(_ANGLES[label // len(_PERIODS) % len(_ANGLES)])
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
    shade = rng.uniform(0.85, 1.15)
    body_colour = np.array([150.0, 120.0, 90.0]) * shade
    stripes = body_colour + 35.0 * wave[..., None]
    image = np.where(body[..., None], stripes, image)
    image = np.where(legs[..., None], np.array([90.0, 70.0, 50.0]) * shade, image)
    hue = _HUES[label * (len(_HUES) // num_classes) % len(_HUES)]
    return np.where(head[..., None], _hue_rgb(hue) * rng.uniform(0.85, 1.0), image)


def parts(shape):
    """(head, body, legs) masks -> part map (S, S) uint8: 1 head, 2 body, 3 legs, 0 else."""
    head, body, legs = shape
    return np.where(head, 1, np.where(body, 2, np.where(legs, 3, 0))).astype(np.uint8)


def background(rng, size, xx, yy):
    """A smooth random colour field: a few random sinusoids per channel."""
    image = np.full((size, size, 3), rng.uniform(70, 170, 3), np.float32)
    for _ in range(3):
        fx, fy = rng.uniform(-3, 3, 2) / size
        wave = np.sin(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
        image += wave[..., None] * rng.uniform(-30, 30, 3)
    return image


def _hue_rgb(hue):
    """A saturated RGB colour (0..255) of `hue` in [0, 1)."""
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    return 235.0 * (1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)) + 10.0

"""A built-in person re-identification data set, generated: people seen by several cameras, in
Market-1501's splits and file naming.

A person's identity is carried by several body parts of unequal strength: the upper clothing's
colour and pattern (the strongest: the largest area), the lower clothing's colour (medium), and
weaker ones: a bag (present or not, its colour and side) and the shoes' colour. Each camera has
its own colour cast, brightness, background and viewpoint (the person's place and size in the
box move). Query images are partly occluded in `occluded_fraction` of them (a passer-by or an
object in front of the upper body or the legs), so a model that matches the upper clothing alone
fails there, one that also learned the other parts does not.

`make` gives arrays; `write_market(root, people)` writes them as JPEGs in Market-1501's layout
(`bounding_box_train/`, `query/`, `bounding_box_test/`, names `0002_c1s1_000451_03.jpg`) so that
`keras_has.data.reid.market1501` reads them like the real data. The gallery also holds
distractors (id 0: people never queried) and junk (id -1: boxes of background), as Market's.
Deterministic from the seed (NumPy's PCG64 and plain arithmetic).
"""

import dataclasses
import os

import numpy as np

from keras_has._arguments import as_fraction, as_int

SPLITS = ("train", "query", "gallery")


@dataclasses.dataclass(frozen=True)
class People:
    """N generated person images.

    Attributes:
        images: (N, H, W, 3) uint8 RGB.
        ids: (N,) int64 person ids (>= 1; 0 distractor, -1 junk in the gallery).
        cams: (N,) int64 camera ids (1..num_cameras).
        splits: (N,) str: "train", "query" or "gallery".
        occluded: (N,) bool: a query image with an occluder.
    """

    images: np.ndarray
    ids: np.ndarray
    cams: np.ndarray
    splits: np.ndarray
    occluded: np.ndarray


def make(
    num_identities=100,
    images_per_camera=2,
    num_cameras=4,
    image_size=(128, 64),
    occluded_fraction=0.5,
    distractors=40,
    junk=20,
    seed=0,
):
    """People of `num_identities` identities: the first half for training (every camera's
    images), the second half for testing (one query per camera, the rest in the gallery).

    Args:
        num_identities: persons (an even int >= 4).
        images_per_camera: images of each person by each camera (>= 2).
        num_cameras: cameras (2 to 8).
        image_size: (H, W), H >= 64 and W >= 32.
        occluded_fraction: of the query images, how many have an occluder.
        distractors, junk: gallery images of id 0 (other people) and -1 (background boxes).
        seed: int; the same seed gives the same data.

    Returns:
        `People`.
    """
    persons = as_int(num_identities, "num_identities", minimum=4)
    if persons % 2:
        raise ValueError(f"`num_identities` must be even. Received: num_identities={persons}")
    per_camera = as_int(images_per_camera, "images_per_camera", minimum=2)
    cameras = as_int(num_cameras, "num_cameras", minimum=2, maximum=8)
    height = as_int(image_size[0], "image_size", minimum=64)
    width = as_int(image_size[1], "image_size", minimum=32)
    occluded_fraction = as_fraction(occluded_fraction, "occluded_fraction")
    distractors = as_int(distractors, "distractors", minimum=0)
    junk = as_int(junk, "junk", minimum=0)
    rng = np.random.default_rng(seed)
    looks = [_look(rng) for _ in range(persons + distractors)]
    views = [_camera(rng) for _ in range(cameras)]
    rows = []  # (id, camera, split, look index, occluded)
    for person in range(1, persons + 1):
        test = person > persons // 2
        for cam in range(1, cameras + 1):
            for k in range(per_camera):
                split = ("query" if k == 0 else "gallery") if test else "train"
                hidden = split == "query" and rng.random() < occluded_fraction
                rows.append((person, cam, split, person - 1, hidden))
    for d in range(distractors):
        rows.append((0, int(rng.integers(1, cameras + 1)), "gallery", persons + d, False))
    rows += [(-1, int(rng.integers(1, cameras + 1)), "gallery", -1, False) for _ in range(junk)]
    images = np.empty((len(rows), height, width, 3), np.uint8)
    yy, xx = np.mgrid[:height, :width].astype(np.float32) + 0.5
    for i, (_, cam, _, look, hidden) in enumerate(rows):
        view = views[cam - 1]
        canvas = _background(rng, view, height, width, xx, yy)
        if look >= 0:
            canvas = _person(rng, looks[look], view, canvas, xx / width, yy / height)
        if hidden:
            top = rng.choice([0.2, 0.55])  # the upper body or the legs
            canvas[int(top * height) : int((top + 0.3) * height)] = rng.uniform(30, 220, 3)
        canvas = canvas * view["gain"] + rng.normal(0, 5.0, canvas.shape)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    ids, cams, splits, _, hidden = (np.array(column) for column in zip(*rows))
    return People(images, ids.astype(np.int64), cams.astype(np.int64), splits, hidden.astype(bool))


def write_market(root, people):
    """Writes `people` as JPEGs (quality 95) in Market-1501's layout under `root`; returns
    the data set's folder (give it to `keras_has.data.reid.market1501`)."""
    import cv2

    folders = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
    for folder in folders.values():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for i, (image, pid, cam, split) in enumerate(
        zip(people.images, people.ids, people.cams, people.splits)
    ):
        person = "-1" if pid < 0 else f"{pid:04d}"
        name = f"{person}_c{cam}s1_{i:06d}_01.jpg"
        path = os.path.join(root, folders[split], name)
        if not cv2.imwrite(
            path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
        ):
            raise OSError(f"OpenCV could not write '{path}'.")
    return root


def _look(rng):
    """A person's clothes: upper colour and pattern, lower colour, bag, shoes."""
    return {
        "upper": rng.uniform(20, 235, 3),
        "pattern": int(rng.integers(0, 3)),  # plain, horizontal stripes, vertical stripes
        "lower": rng.uniform(20, 200, 3),
        "bag": rng.uniform(20, 235, 3) if rng.random() < 0.5 else None,
        "bag_side": int(rng.choice([-1, 1])),
        "shoes": rng.uniform(10, 235, 3),
        "skin": rng.uniform([150, 110, 90], [235, 195, 170]),
        "build": rng.uniform(0.85, 1.15),
    }


def _camera(rng):
    """A camera's colour cast, background colours and viewpoint spread."""
    return {"gain": rng.uniform(0.75, 1.25, 3), "ground": rng.uniform(60, 190, (2, 3))}


def _background(rng, view, height, width, xx, yy):
    top, bottom = view["ground"]
    t = (yy / height)[..., None]
    canvas = (1 - t) * top + t * bottom
    return canvas + np.sin(xx / width * rng.uniform(2, 8) + rng.uniform(0, 6))[..., None] * 12


def _person(rng, look, view, canvas, x, y):
    """Paints a standing person (coordinates in units of the box) with a random place and size."""
    cx = 0.5 + rng.normal(0, 0.05)
    scale = rng.uniform(0.9, 1.05)
    half = 0.2 * look["build"] * scale

    def box(x0, x1, y0, y1):
        return (x >= cx + x0) & (x <= cx + x1) & (y >= y0) & (y <= y1)

    head = ((x - cx) / (0.1 * scale)) ** 2 + ((y - 0.12) / (0.065 * scale)) ** 2 <= 1
    upper = box(-half, half, 0.2, 0.52)
    if look["pattern"]:
        coordinate = y if look["pattern"] == 1 else x
        stripes = np.sin(coordinate * 2 * np.pi * 14) > 0
        upper_colour = np.where(stripes[..., None], look["upper"], 0.5 * look["upper"])
    else:
        upper_colour = look["upper"]
    canvas = np.where(upper[..., None], upper_colour, canvas)
    legs = box(-0.8 * half, -0.08, 0.52, 0.9) | box(0.08, 0.8 * half, 0.52, 0.9)
    canvas = np.where(legs[..., None], look["lower"], canvas)
    shoes = box(-0.8 * half, -0.05, 0.9, 0.96) | box(0.05, 0.8 * half, 0.9, 0.96)
    canvas = np.where(shoes[..., None], look["shoes"], canvas)
    canvas = np.where(head[..., None], look["skin"], canvas)
    if look["bag"] is not None:
        side = look["bag_side"]
        bag = box(side * half - 0.12, side * half + 0.12, 0.38, 0.6)
        canvas = np.where(bag[..., None], look["bag"], canvas)
    return canvas

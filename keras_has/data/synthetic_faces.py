"""A built-in face data set, generated: aligned faces whose labels (an emotion, or an age and a
gender) are carried by several facial regions of unequal strength.

Faces are drawn as real face data sets align them: the eyes at fixed places (a pixel or two of
jitter), the face oval centred. Each person has a face width, skin tone and hair of their own.

- **Emotion** (`make_emotions`, 8 classes as CK+'s): the mouth's shape names the class clearly
  (the strongest cue: curvature and opening per class), the eyebrows' slant and height name it
  less clearly, the eyes' opening weakly. In `hard_fraction` of the faces the mouth is covered
  (a hand, a scarf): a network that learned the mouth alone guesses there, one that also
  learned the brows and eyes does not. Hiding the mouth in training (Hide-and-Seek) is what
  makes a network learn them.
- **Age and gender** (`make_ages`): gender from the hair's length (strong), the jaw's width
  (medium) and the brows' thickness (weak); age (0-100 years) from the hair's greyness (strong),
  forehead wrinkles (medium) and the eyes' size (weak: larger in children). In `hard_fraction`
  of the faces a hat covers the hair.

Everything is deterministic from the seed (NumPy's PCG64 and plain arithmetic), grayscale or
RGB, uint8, exact labels.
"""

import dataclasses

import numpy as np

from keras_has._arguments import as_fraction, as_int

EMOTIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
# Per emotion: mouth (curvature, opening), brows (slant, raise), eyes (opening); units of the
# face's size. The mouth separates all 8; brows and eyes overlap more (weaker cues).
_MOUTH = ((0.0, 0.0), (-0.5, 0.0), (0.35, 0.0), (-0.35, 0.25), (-0.2, 0.5), (1.0, 0.2),
          (-1.0, 0.0), (0.0, 0.9))  # fmt: skip
_BROWS = ((0.0, 0.0), (0.6, -0.5), (0.2, 0.0), (0.4, -0.3), (-0.5, 0.6), (0.0, 0.2),
          (-0.6, 0.2), (0.0, 0.9))  # fmt: skip
_EYES = (0.5, 0.35, 0.45, 0.3, 0.9, 0.4, 0.35, 1.0)
MIN_IMAGE_SIZE = 32


@dataclasses.dataclass(frozen=True)
class Faces:
    """N generated faces.

    Attributes:
        images: (N, S, S, C) uint8 (C = 1 grayscale or 3 RGB).
        labels: (N,) int64 emotion, or None.
        ages: (N,) float32 years, or None.
        genders: (N,) int64 (0 male, 1 female), or None.
        covered: (N,) bool: the strongest cue's region is covered (mouth, or hair).
        subjects: (N,) int64 person ids (several faces per person).
    """

    images: np.ndarray
    labels: object
    ages: object
    genders: object
    covered: np.ndarray
    subjects: np.ndarray


def make_emotions(num_images, image_size=96, hard_fraction=0.25, num_subjects=60, seed=0):
    """Grayscale faces (N, S, S, 1) of the 8 emotions, balanced (see the module docstring)."""
    num_images, size, subjects, hard, rng = _check(
        num_images, image_size, hard_fraction, num_subjects, seed
    )
    labels = rng.permutation(np.arange(num_images) % len(EMOTIONS)).astype(np.int64)
    people = rng.integers(0, subjects, num_images)
    covered = rng.random(num_images) < hard
    traits = _people(np.random.default_rng(seed + 7919), subjects)
    images = np.empty((num_images, size, size, 1), np.uint8)
    for i, (label, person) in enumerate(zip(labels, people)):
        face = _Face(rng, size, traits[person])
        face.brows(*_BROWS[label], thickness=1.0, noise=0.35)
        face.eyes(_EYES[label] + rng.normal(0, 0.12))
        face.mouth(*_MOUTH[label])
        if covered[i]:
            face.cover(0.62, 0.9)
        images[i, ..., 0] = face.finish(rng).mean(axis=-1).round().astype(np.uint8)
    return Faces(images, labels, None, None, covered, people.astype(np.int64))


def make_ages(num_images, image_size=64, hard_fraction=0.25, num_subjects=200, seed=0):
    """RGB faces (N, S, S, 3) with ages uniform in 0-100 and balanced genders."""
    num_images, size, subjects, hard, rng = _check(
        num_images, image_size, hard_fraction, num_subjects, seed
    )
    people = rng.integers(0, subjects, num_images)
    traits = _people(np.random.default_rng(seed + 7919), subjects)
    genders = (people % 2).astype(np.int64)
    ages = rng.uniform(0, 100, num_images).astype(np.float32)
    covered = rng.random(num_images) < hard
    images = np.empty((num_images, size, size, 3), np.uint8)
    for i, (age, gender, person) in enumerate(zip(ages, genders, people)):
        face = _Face(rng, size, traits[person], jaw=0.92 + 0.12 * (1 - gender))
        face.hair(long=bool(gender), grey=min(1.0, max(0.0, (age - 30) / 50)))
        face.wrinkles(max(0.0, (age - 25) / 75))
        face.brows(0.0, 0.0, thickness=1.6 - 0.6 * gender, noise=0.3)
        face.eyes(0.55, scale=1.25 - 0.35 * min(1.0, age / 18))
        face.mouth(0.1, 0.0)
        if covered[i]:
            face.cover(0.0, 0.3)  # a hat: the hair and its colour
        images[i] = face.finish(rng).round().astype(np.uint8)
    return Faces(images, None, ages, genders, covered, people.astype(np.int64))


def train_test(make, num_train, num_test, image_size, hard_fraction=0.25):
    """A recipe's split: training faces with every region in view (seed 1, as posed data sets
    show them) and test faces of other people (seed 2) whose strongest cue is covered in
    `hard_fraction` of them; `make` is `make_emotions` or `make_ages`. Returns (train, test)
    `Faces`."""
    train = make(num_train, image_size, 0.0, seed=1)
    return train, make(num_test, image_size, hard_fraction, seed=2)


def _check(num_images, image_size, hard_fraction, num_subjects, seed):
    num_images = as_int(num_images, "num_images", minimum=1)
    size = as_int(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    hard = as_fraction(hard_fraction, "hard_fraction")
    subjects = as_int(num_subjects, "num_subjects", minimum=2)
    return num_images, size, subjects, hard, np.random.default_rng(seed)


def _people(rng, count):
    """Per person: (skin tone RGB, face width factor, hair colour RGB)."""
    skins = rng.uniform([150, 110, 90], [235, 195, 170], (count, 3))
    widths = rng.uniform(0.9, 1.1, count)
    hairs = rng.uniform([20, 15, 10], [120, 90, 60], (count, 3))
    return list(zip(skins, widths, hairs))


class _Face:
    """A face being drawn on a float RGB canvas (S, S, 3); coordinates in units of S."""

    def __init__(self, rng, size, person, jaw=1.0):
        skin, width, self.hair_colour = person
        self.size, self.rng, self.skin = size, rng, skin
        yy, xx = (np.mgrid[:size, :size].astype(np.float32) + 0.5) / size
        self.jitter = rng.normal(0, 1.0 / size, 2)  # alignment: a pixel or so
        self.x, self.y = xx - 0.5 - self.jitter[0], yy - self.jitter[1]
        self.canvas = np.broadcast_to(rng.uniform(60, 200, 3), (size, size, 3)).copy()
        ax, ay = 0.33 * width, 0.42
        self.oval = ((self.x / ax) ** 2 + ((self.y - 0.52) / ay) ** 2 <= 1) & (
            (self.y < 0.55) | (np.abs(self.x) <= ax * jaw * (1.0 - (self.y - 0.55) / 0.5))
        )
        self.paint(self.oval, skin)

    def paint(self, where, colour, alpha=1.0):
        self.canvas[where] = (1 - alpha) * self.canvas[where] + alpha * np.asarray(colour)

    def stroke(self, curve_y, x_range, thickness, colour):
        """A horizontal curve y = curve_y(x) for x in x_range, `thickness` in units of S."""
        inside = (self.x >= x_range[0]) & (self.x <= x_range[1])
        self.paint(inside & (np.abs(self.y - curve_y(self.x)) <= thickness / 2), colour)

    def brows(self, slant, lift, thickness, noise):
        slant += self.rng.normal(0, noise)
        lift += self.rng.normal(0, noise)
        for side in (-1, 1):
            centre = 0.12 * side
            self.stroke(
                lambda x, c=centre, s=side: 0.3 - 0.03 * lift + 0.06 * slant * s * (x - c) / 0.1,
                (centre - 0.08, centre + 0.08),
                0.025 * thickness,
                self.hair_colour,
            )

    def eyes(self, opening, scale=1.0):
        for side in (-1, 1):
            ellipse = ((self.x - 0.12 * side) / (0.055 * scale)) ** 2 + (
                (self.y - 0.37) / (0.035 * scale * max(opening, 0.15))
            ) ** 2
            self.paint(ellipse <= 1, (245, 245, 245))
            self.paint(ellipse <= 0.25, (40, 30, 30))

    def mouth(self, curvature, opening):
        curve = lambda x: 0.68 - 0.12 * curvature * (x / 0.12) ** 2 + 0.04 * curvature
        self.stroke(curve, (-0.12, 0.12), 0.025, (120, 40, 50))
        if opening > 0:
            gap = (np.abs(self.x) <= 0.1) & (self.y >= curve(self.x))
            self.paint(gap & (self.y <= curve(self.x) + 0.06 * opening), (60, 20, 25))

    def hair(self, long, grey):
        colour = (1 - grey) * self.hair_colour + grey * np.array([200.0, 200.0, 205.0])
        top = self.oval & (self.y < 0.2)
        sides = (
            (np.abs(self.x) > 0.3) & (self.y < (0.9 if long else 0.45)) & (np.abs(self.x) < 0.42)
        )
        self.paint(top | (self.y < 0.12) & (np.abs(self.x) < 0.36) | sides, colour)

    def wrinkles(self, amount):
        for k in range(3):
            self.stroke(
                lambda x, k=k: 0.2 + 0.03 * k, (-0.15, 0.15), 0.008, self.skin * (1 - 0.35 * amount)
            )

    def cover(self, top, bottom):
        """A flat cover (hand, scarf, hat) over the rows from `top` to `bottom` (units of S)."""
        self.paint((self.y >= top) & (self.y <= bottom), self.rng.uniform(40, 220, 3))

    def finish(self, rng):
        return np.clip(self.canvas + rng.normal(0, 6.0, self.canvas.shape), 0, 255)

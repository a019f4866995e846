"""The built-in temporal localization data: untrimmed "videos" of features.

Each video (150-300 s at `fps` features per second) is noise that drifts
slowly, as clip features of overlapping frames do (AR(1), correlated over
about 10 s), with one to three instances of its class's action. An action
has three phases: a build-up (the first 40%), a short key moment (the next
15%) and a follow-through (the rest). The class's motion signal runs through
the whole action; the key moment adds a stronger pattern of its own. A
network trained to classify videos needs only the key moments, so its CAM
marks them and misses most of each action: the hard case of Sec. 3.2. Exact
ground-truth segments (seconds) come with every video; everything is
deterministic from the seed. The raw features are sampled to `num_steps`
with `videos.uniform_indices`, as a real video's are.
"""

from typing import NamedTuple

import numpy as np

from keras_has._arguments import as_int
from keras_has.data import videos

PHASES = ((0.0, 0.4), (0.4, 0.55), (0.55, 1.0))  # build-up, key, follow-through
PHASE_NAMES = ("build-up", "key", "follow-through")
KEY_PHASE = 1
# Signal amplitudes (the noise has variance 1 per dimension): the class's
# motion, through the whole action, and its key moment's own pattern on top.
MOTION, KEY = 8.0, 12.0
NOISE_CORRELATION, WHITE_NOISE = 0.99, 0.1  # per raw feature (0.1 s)
GAP = 10  # raw features at least between two actions
MIN_CLASSES = 2


class Videos(NamedTuple):
    """Generated videos.

    Attributes:
        features: float32 (N, T, D), sampled.
        labels: int64 (N,) class of each video.
        segments: list of N float64 (M, 2) [start, end) seconds of its actions.
        phases: int8 (N, T) per step: -1 background, else the phase index.
        step_seconds: float64 (N,) seconds per sampled step.
        names: the videos' names.
    """

    features: np.ndarray
    labels: np.ndarray
    segments: list
    phases: np.ndarray
    step_seconds: np.ndarray
    names: list

    def video_set(self, num_classes):
        """The `videos.VideoSet` of these videos (class names "action_<i>")."""
        one_hot = np.eye(num_classes, dtype=np.float32)[self.labels]
        source = videos.from_arrays(self.features, one_hot, self.names, self.step_seconds)
        truth = [
            (name, int(label), float(start), float(end))
            for name, label, segments in zip(self.names, self.labels, self.segments)
            for start, end in segments
        ]
        classes = [f"action_{i}" for i in range(num_classes)]
        return videos.VideoSet(source, truth, classes, len(self.names))


def class_signals(num_classes, feature_dim, seed=0):
    """(num_classes, 3, D): what each phase of each class's actions adds to the
    noise, MOTION * the class's motion direction (every phase) + KEY * its key
    direction (key phase only); directions are random unit vectors."""
    rng = np.random.default_rng([seed, 7])
    directions = rng.normal(size=(2, num_classes, feature_dim))
    motion, key = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    out = np.repeat(MOTION * motion[:, None], len(PHASES), axis=1)
    out[:, KEY_PHASE] += KEY * key
    return out


def make(
    count,
    num_classes=5,
    feature_dim=64,
    num_steps=2000,
    seed=0,
    fps=10.0,
    seconds=(150.0, 300.0),
    action_seconds=(20.0, 45.0),
    instances=(1, 3),
    signal_seed=0,
):
    """`count` videos (a `Videos`), deterministic from `seed`.

    Args:
        num_steps: T, the sampled length (paper: F_total = 2000).
        seconds: (min, max) video length; `action_seconds` the same per action.
        instances: (min, max) actions per video (fewer when they do not fit).
        signal_seed: seed of the class signals, shared by training and test sets.
    """
    count = as_int(count, "count", minimum=1)
    num_classes = as_int(num_classes, "num_classes", minimum=MIN_CLASSES)
    feature_dim = as_int(feature_dim, "feature_dim", minimum=1)
    num_steps = as_int(num_steps, "num_steps", minimum=1)
    lengths = [round(a * fps) for a in action_seconds]
    if not (0 < lengths[0] <= lengths[1] and lengths[1] + GAP < seconds[0] * fps):
        raise ValueError(
            f"`action_seconds` {action_seconds} must be (min, max) with 0 < min <= max and "
            f"max shorter than the shortest video ({seconds[0]} s)."
        )
    if not 1 <= instances[0] <= instances[1]:
        raise ValueError(f"`instances` must be (min, max) with 1 <= min <= max, got {instances}.")
    rng = np.random.default_rng(seed)
    signals = class_signals(num_classes, feature_dim, signal_seed)
    labels = rng.integers(num_classes, size=count)
    totals = np.rint(rng.uniform(*seconds, size=count) * fps).astype(int)
    noise = _drifting_noise(rng, count, totals.max(), feature_dim)
    features = np.empty((count, num_steps, feature_dim), np.float32)
    phases = np.full((count, num_steps), -1, np.int8)
    segments = []
    for i, (label, total) in enumerate(zip(labels, totals)):
        raw_phase = np.full(total, -1, np.int8)
        placed = _placements(rng, total, lengths, instances)
        for start, length in placed:
            bounds = start + np.rint(np.array(PHASES) * length).astype(int)
            for phase, (a, b) in enumerate(bounds):
                raw_phase[a:b] = phase
        index = videos.uniform_indices(total, num_steps)
        phases[i] = raw_phase[index]
        signal = np.where(phases[i, :, None] >= 0, signals[label][phases[i].clip(0)], 0.0)
        features[i] = noise[i, index] + signal
        segments.append(np.array([(s, s + n) for s, n in placed], np.float64).reshape(-1, 2) / fps)
    names = [f"video_{seed}_{i:05d}" for i in range(count)]
    return Videos(
        features, labels.astype(np.int64), segments, phases, totals / fps / num_steps, names
    )


def _placements(rng, total, lengths, instances):
    """Sorted non-overlapping (start, length) actions in `total` raw features: as
    many as drawn from `instances` (min, max), fewer if 50 tries do not fit them."""
    wanted = int(rng.integers(instances[0], instances[1] + 1))
    placed = []
    for _ in range(50):
        if len(placed) == wanted:
            break
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        start = int(rng.integers(0, total - length))
        if all(start + length + GAP <= s or start >= s + n + GAP for s, n in placed):
            placed.append((start, length))
    return sorted(placed)


def _drifting_noise(rng, count, length, dim):
    """(count, length, dim) float32 noise, variance 1 per dimension: AR(1) with
    NOISE_CORRELATION per step, mixed with WHITE_NOISE white noise."""
    drift = rng.standard_normal((length, count, dim), dtype=np.float32)
    rho = np.float32(NOISE_CORRELATION)
    scale = np.float32(np.sqrt(1 - NOISE_CORRELATION**2))
    for t in range(1, length):  # in place: drift[t] = rho * drift[t - 1] + scale * shock[t]
        drift[t] *= scale
        drift[t] += rho * drift[t - 1]
    drift *= np.float32(np.sqrt(1 - WHITE_NOISE**2))
    drift += np.float32(WHITE_NOISE) * rng.standard_normal((length, count, dim), dtype=np.float32)
    return drift.transpose(1, 0, 2)

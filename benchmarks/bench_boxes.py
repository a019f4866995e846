"""Throughput of CAM -> boxes and of the WSOL metrics against per-call loops.

    python -m benchmarks.bench_boxes [--rounds N] [--json PATH]

CAMs are realistic: 14x14 maps (a Gaussian object bump plus smoothed
noise) upsampled bilinearly to 224x224, as a CAM model's output. Three
workloads:

- `cam_to_boxes` at one threshold on a batch of 128, against loops over the
  images calling OpenCV once per image.
- `LocalizationMetrics.update` with the 100-threshold sweep on a batch of
  32, against loops calling OpenCV once per image and threshold: with
  `connectedComponentsWithStats` (this package's semantics; the benchmark
  checks that its counts equal ours) and Choe et al.'s recipe (uint8 map,
  `cv2.threshold`, `cv2.findContours(RETR_TREE)`; different semantics,
  timed for reference).
- The sweep's worst inputs, pixel noise (as CAMs early in training can be):
  4 checkerboard-like maps of 96x128 (high and low random values on
  alternate pixels) and 4 maps of uniform noise of 224x224, against the same
  per-threshold loops. Each threshold's mask has thousands of contours;
  tracing all 100 masks in one `cv2.findContours` call, as the smooth maps
  are, took 2.9 s and 5.7 s per map (44 s for another checkerboard-like
  map: border following slows down per contour as one call's contours
  grow), so such maps are labelled instead.

Every figure is also given as a ratio to the first baseline of its table,
timed in the same round; rounds alternate the methods and the ratio is the
median of the per-round ratios, since absolute figures on shared machines
drift.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np

from benchmarks.timing import measure, table
from keras_has.boxes import cam_to_boxes, default_num_workers, normalize_cams
from keras_has.metrics import LocalizationMetrics

SIZE = 224
THRESHOLDS = np.arange(0, 1, 0.01)
IOUS = (0.3, 0.5, 0.7)


def make_batch(batch, seed=0):
    """(cams (B, 224, 224) float32, gt boxes list of (1, 4), labels, scores)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:14, :14].astype(np.float32)
    cams, gt = [], []
    for _ in range(batch):
        cy, cx = rng.uniform(3, 11, 2)
        sy, sx = rng.uniform(1.2, 3.5, 2)
        bump = np.exp(-(((y - cy) / sy) ** 2 + ((x - cx) / sx) ** 2) / 2)
        noise = cv2.GaussianBlur(rng.random((14, 14)).astype(np.float32), (0, 0), 1.0)
        small = (bump + 0.6 * noise).astype(np.float32)
        cams.append(cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR))
        scale = SIZE / 14
        box = [(cx - 1.5 * sx) * scale, (cy - 1.5 * sy) * scale]
        box += [(cx + 1.5 * sx) * scale, (cy + 1.5 * sy) * scale]
        gt.append(np.clip(np.array([box]), 0, SIZE))
    labels = rng.integers(0, 10, batch)
    scores = rng.random((batch, 10))
    return np.stack(cams), gt, labels, scores


# --------------------------------------------------------------------------
# Baselines: one OpenCV call per image (and per threshold)


def _iou(a, b):
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _components(mask):
    """Boxes of the 8-connected components, largest first, with OpenCV stats."""
    # Wu et al.'s scan labels in raster order (the default, block-based one does not).
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_SAUF
    )
    stats = stats[1:]
    order = np.argsort(-stats[:, 4], kind="stable")
    left, top, width, height = stats[order, :4].T.astype(np.float64)
    return np.stack([left, top, left + width, top + height], axis=1)


def loop_cam_to_boxes(cams, threshold):
    out = np.zeros((len(cams), 4), np.float32)
    for i, norm in enumerate(normalize_cams(cams)):
        boxes = _components((norm >= np.float32(threshold)).view(np.uint8))
        if len(boxes):
            out[i] = boxes[0]
    return out


def choe_cam_to_boxes(cams, threshold):
    """Choe et al.'s recipe: uint8 map, strict threshold, largest contour."""
    out = np.zeros((len(cams), 4), np.float32)
    for i, norm in enumerate(normalize_cams(cams)):
        image = (norm * 255).astype(np.uint8)
        _, binary = cv2.threshold(image, int(threshold * image.max()), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if contours:
            x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
            out[i] = x, y, x + w, y + h
    return out


def make_noisy(kind, batch, seed=0):
    """Noisy CAMs: "checker" (B, 96, 128) or "uniform" (B, 224, 224), with gt boxes."""
    rng = np.random.default_rng(seed)
    if kind == "checker":
        shape = (batch, 96, 128)
        high = np.add.outer(np.arange(96), np.arange(128)) % 2 == 1
        cams = np.where(high, rng.uniform(0.5, 1, shape), rng.uniform(0, 0.5, shape))
    else:
        shape = (batch, SIZE, SIZE)
        cams = rng.random(shape)
    corner = rng.uniform(0, 0.5, (batch, 2)) * shape[:0:-1]
    gt = [np.array([[*c, *(c + np.array(shape[:0:-1]) / 2)]]) for c in corner]
    return cams.astype(np.float32), gt, rng.integers(0, 10, batch), rng.random((batch, 10))


class LoopMetrics:
    """The sweep's hit counts, one OpenCV call per image and threshold."""

    def __init__(self, choe=False):
        self.choe = choe
        self.largest = np.zeros((len(IOUS), len(THRESHOLDS)), np.int64)
        self.every = np.zeros((len(IOUS), len(THRESHOLDS)), np.int64)

    def update(self, cams, gt_boxes, labels, scores):
        ious = np.array(IOUS)[:, None]
        for norm, gt in zip(normalize_cams(cams), gt_boxes):
            best_largest = np.zeros(len(THRESHOLDS))
            best_every = np.zeros(len(THRESHOLDS))
            image = (norm * 255).astype(np.uint8)
            for k, t in enumerate(THRESHOLDS):
                boxes = (
                    self._choe(image, t)
                    if self.choe
                    else _components((norm >= np.float32(t)).view(np.uint8))
                )
                if len(boxes):
                    iou = _iou(boxes, gt)
                    best_largest[k], best_every[k] = iou[0].max(), iou.max()
            self.largest += best_largest >= ious
            self.every += best_every >= ious

    @staticmethod
    def _choe(image, t):
        _, binary = cv2.threshold(image, int(t * image.max()), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if not contours:
            return np.zeros((0, 4))
        largest = max(range(len(contours)), key=lambda j: cv2.contourArea(contours[j]))
        contours = [contours[largest]] + [c for j, c in enumerate(contours) if j != largest]
        rects = np.array([cv2.boundingRect(c) for c in contours], np.float64)
        rects[:, 2:] += rects[:, :2]
        return rects


def run(rounds):
    results = []
    workers = default_num_workers()

    cams, *_ = make_batch(128)
    reference = loop_cam_to_boxes(cams, 0.2)
    assert np.array_equal(cam_to_boxes(cams, 0.2), reference)
    assert np.array_equal(cam_to_boxes(cams, 0.2, num_workers=1), reference)
    figures = measure(
        {
            "loop over images, connectedComponentsWithStats (baseline)": (
                lambda: loop_cam_to_boxes(cams, 0.2)
            ),
            "loop over images, Choe (uint8, findContours)": lambda: choe_cam_to_boxes(cams, 0.2),
            "keras_has cam_to_boxes, 1 thread": lambda: cam_to_boxes(cams, 0.2, num_workers=1),
            f"keras_has cam_to_boxes, {workers} threads (default)": lambda: cam_to_boxes(cams, 0.2),
            "keras_has cam_to_boxes, all components": (
                lambda: cam_to_boxes(cams, 0.2, all_components=True)
            ),
        },
        rounds,
        reps=3,
    )
    table("cam_to_boxes, 128 CAMs 224x224, threshold 0.2", 128, figures, results, "cam_to_boxes")

    batch = make_batch(32, seed=1)
    check_counts(batch)
    figures = measure(sweeps(batch, workers), rounds, reps=1)
    table(
        "LocalizationMetrics.update, 32 CAMs 224x224, 100 CAM thresholds",
        32,
        figures,
        results,
        "sweep",
    )

    for kind, size in (("checker", "96x128"), ("uniform", "224x224")):
        noisy = make_noisy(kind, 4, seed=2)
        check_counts(noisy)
        figures = measure(sweeps(noisy, workers), rounds, reps=1)
        title = f"LocalizationMetrics.update, 4 noisy CAMs ({kind}) {size}, 100 CAM thresholds"
        table(title, 4, figures, results, f"sweep_{kind}")
    return results


def update(metrics, batch):
    return lambda: metrics.update(*batch)


def sweeps(batch, workers):
    """The 100-threshold sweep of `batch` by each method, baseline first."""
    return {
        "loop over thresholds, connectedComponentsWithStats (baseline)": update(
            LoopMetrics(), batch
        ),
        "loop over thresholds, Choe (uint8, findContours)": update(LoopMetrics(choe=True), batch),
        "keras_has LocalizationMetrics, 1 thread": update(
            LocalizationMetrics(iou_thresholds=IOUS, num_workers=1), batch
        ),
        f"keras_has LocalizationMetrics, {workers} threads (default)": update(
            LocalizationMetrics(iou_thresholds=IOUS), batch
        ),
    }


def check_counts(batch):
    """The sweep's hit counts equal those of the per-threshold loop."""
    baseline = LoopMetrics()
    baseline.update(*batch)
    ours = LocalizationMetrics(iou_thresholds=IOUS)
    ours.update(*batch)
    i = list(ours._ious).index
    for j, iou in enumerate(IOUS):
        assert np.array_equal(ours._hits_largest[i(iou)], baseline.largest[j])
        assert np.array_equal(ours._hits_any[i(iou)], baseline.every[j])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    print(
        f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), NumPy "
        f"{np.__version__}, {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.2f}"
    )
    results = run(args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

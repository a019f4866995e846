"""Many CAM thresholds at once: `threshold_sweep`, the IoUs per threshold.

Thresholds are swept without one OpenCV call per threshold: the T masks of
an image (each cropped to the rows where it has foreground) are stacked into
one tall canvas and labelled in one call (`keras_has.boxes.components`); the
components go back to their thresholds by their top row. The IoUs with the
ground-truth boxes and the per-threshold reductions are vectorized NumPy,
and images are spread over the thread pool (`keras_has.boxes.workers`).
`keras_has.metrics.LocalizationMetrics` calls `sweep_normalized`.
"""

import numpy as np

from keras_has._arguments import as_box_lists, as_fractions, as_maps
from keras_has.boxes import components
from keras_has.boxes.iou import pairwise_iou
from keras_has.boxes.threshold import foreground, normalize_cams
from keras_has.boxes.workers import check_workers, thread_map


def threshold_sweep(cams, gt_boxes, thresholds, num_workers=None):
    """Best IoU with the ground truth of each image at each CAM threshold.

    For each image and each threshold `t` (foreground ``normalized >= t``):
    the IoU of the largest component's box with its best-matching
    ground-truth box, and the best IoU over all components and all
    ground-truth boxes (Choe et al.'s multi-contour evaluation). One OpenCV
    call per image covers all thresholds.

    Args:
        cams: (B, H, W) CAMs (or one (H, W) map), min-max normalized here.
        gt_boxes: a list of B arrays (M_i, 4) of half-open boxes, a (B, M, 4)
            array (or one (M, 4) array with one map). A box with non-positive
            area never matches (IoU 0); an image without boxes has IoU 0.
        thresholds: (T,) CAM thresholds in [0, 1], any order.
        num_workers: threads over images (None: one per core).

    Returns:
        (largest, any): two float64 arrays (B, T), or (T,) for one map.
    """
    array = as_maps(cams)
    thresholds = as_fractions(thresholds, "thresholds")
    workers = check_workers(num_workers)
    single = array.ndim == 2
    if single:
        array = array[None]
        gt_boxes = [gt_boxes]
    gt_boxes = as_box_lists(gt_boxes, len(array))
    largest, every = sweep_normalized(normalize_cams(array), gt_boxes, thresholds, workers)
    return (largest[0], every[0]) if single else (largest, every)


def sweep_normalized(maps, gt_boxes, thresholds, num_workers=None):
    """`threshold_sweep` without argument checks, on normalized (B, H, W) maps.

    `gt_boxes` is a list of B float64 (M_i, 4) arrays, `thresholds` a float64
    (T,) array. For callers that validated their inputs already.
    """
    order = np.argsort(thresholds, kind="stable")
    ascending = thresholds[order].astype(np.float32)

    def run(i):
        return _sweep_one(maps[i], gt_boxes[i], ascending)

    results = thread_map(run, range(len(maps)), num_workers)
    count = len(thresholds)
    largest = np.zeros((len(maps), count), np.float64)
    every = np.zeros((len(maps), count), np.float64)
    for i, (best_largest, best_any) in enumerate(results):
        largest[i, order] = best_largest
        every[i, order] = best_any
    return largest, every


def _sweep_one(norm, gt, ascending):
    """(largest, any) best IoUs (T,) of one normalized map at `ascending`."""
    count = len(ascending)
    largest = np.zeros(count, np.float64)
    every = np.zeros(count, np.float64)
    if len(gt) == 0:
        return largest, every
    # Thresholds 0..top-1 have foreground; band k is cropped to the rows
    # whose max reaches threshold k, and all bands to the columns of the
    # lowest one (the bands are nested).
    row_max = norm.max(axis=1)
    top = np.count_nonzero(foreground(row_max.max(), ascending))
    if top == 0:
        return largest, every
    c0, c1 = components.row_range(foreground(norm.max(axis=0), ascending[0]))
    above = foreground(row_max[None, :], ascending[:top, None])  # (bands, H)
    r0 = above.argmax(axis=1)
    r1 = above.shape[1] - above[:, ::-1].argmax(axis=1)
    heights = r1 - r0
    # One OpenCV call per group of bands of at most MAX_CANVAS_PIXELS (one
    # group for 224x224 maps and 100 thresholds: about 5M pixels).
    ends = np.cumsum(heights + 1)
    first = 0
    while first < top:
        limit = ends[first] - heights[first] - 1 + components.MAX_CANVAS_PIXELS // (c1 - c0)
        last = max(first + 1, int(np.searchsorted(ends, limit, side="right")))
        bands = np.arange(first, last)
        _sweep_bands(norm[:, c0:c1], gt, ascending, bands, r0, heights, c0, largest, every)
        first = last
    return largest, every


def _sweep_bands(crop, gt, ascending, bands, r0, heights, c0, largest, every):
    """Fills `largest` and `every` at `bands` from one stacked canvas."""
    starts = np.r_[0, np.cumsum(heights[bands] + 1)[:-1]].astype(np.int64)
    canvas = np.zeros((int((heights[bands] + 1).sum()), crop.shape[1]), np.uint8)
    flags = canvas.view(bool)
    for k, start in zip(bands, starts):
        rows = slice(start, start + heights[k])
        foreground(crop[r0[k] : r0[k] + heights[k]], ascending[k], out=flags[rows])
    comps = components.Components(canvas, starts, r0[bands].astype(np.int64), c0)
    best = pairwise_iou(comps.boxes, gt).max(axis=1)
    present = bands[comps.present]
    largest[present] = best[comps.starts]
    every[present] = np.maximum.reduceat(best, comps.starts)

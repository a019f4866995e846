"""Class activation maps to boxes, on the host (NumPy and OpenCV).

Conventions (the whole package uses them):

- A box is ``(x_min, y_min, x_max, y_max)`` in pixels, half-open: a box
  covering pixel columns ``a..b`` inclusive has ``x_min = a, x_max = b + 1``.
  Its area is ``(x_max - x_min) * (y_max - y_min)`` and IoU is the plain
  area ratio (no ``+ 1`` anywhere).
- CAMs are at image resolution, ``(B, H, W)``. Each map is min-max
  normalized to [0, 1] before thresholding; a constant map normalizes to all
  zeros.
- The foreground at threshold ``t`` is ``normalized >= t``, compared in
  float32 (the maps' precision, as ``normalize_cams(cams) >= t`` in NumPy
  and the in-graph localizer do). Objects are its 8-connected components.
  An image with no foreground gets the box ``(0, 0, 0, 0)``, whose IoU with
  anything is 0.
- The "largest" component has the most pixels; ties go to the component met
  first in a raster scan (row by row, left to right, by its first pixel).

Thresholds are swept without one OpenCV call per threshold: the T binary
masks of an image (each cropped to the rows where it has foreground) are
stacked into one tall image with a row of zeros between them, traced by one
OpenCV call, and the components are given back to their thresholds by their
top row. Components come from border following (``cv2.findContours``), which
gives the same 8-connected components as ``cv2.connectedComponentsWithStats``
with exact pixel counts and about 4 to 6 times faster on smooth maps (see
`component_stats`). Its cost per contour grows with the number of contours
in one call, so a canvas that a cheap count on a sample of its rows finds
noisy (about one contour per 100 pixels or more, as pixel noise gives) is
labelled by ``cv2.connectedComponentsWithStats`` instead, whose cost is
linear in the pixels: the same components either way, and noisy maps cost
about as much as a loop that calls OpenCV once per threshold. The IoUs with
the ground-truth boxes and the per-threshold reductions are vectorized NumPy.
Images are spread over a thread pool, one thread per core (OpenCV and NumPy
release the GIL; `cv2.findContours` is single-threaded).
"""

import atexit
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

__all__ = [
    "box_iou",
    "cam_to_boxes",
    "component_stats",
    "normalize_cams",
    "threshold_sweep",
]

# At most this many pixels per OpenCV call in `cam_to_boxes`.
_MAX_CANVAS_PIXELS = 1 << 23
# Border following costs about 1 ns per pixel and 2 us per contour, and more per contour the more
# contours one call finds (16 us each at 275 000, a noisy 224x224 map's 100 thresholds); labelling
# costs about 5 ns per pixel (10 on pixel noise), linear in the pixels. The two break even on
# smooth CAMs plus noise at about one estimated contour per 100 pixels (smooth CAMs: one per 700);
# canvases above that are labelled.
_PIXELS_PER_CONTOUR = 100
# The estimate looks at one row in this many (about 3% of a smooth map's sweep).
_SAMPLED_ROWS = 32

_pools = {}  # thread pools by size, kept for the process's life
_pools_lock = threading.Lock()


def default_num_workers():
    """Threads used over images when `num_workers` is None: one per core."""
    return max(1, min(os.cpu_count() or 1, 8))


def _workers(num_workers):
    """`num_workers` checked, None -> `default_num_workers()`."""
    if num_workers is None:
        return default_num_workers()
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
        raise ValueError(  # noqa: TRY004 - the package raises ValueError for bad arguments
            f"`num_workers` must be an int >= 1 or None. Received: {num_workers!r}"
        )
    if num_workers < 1:
        raise ValueError(f"`num_workers` must be >= 1. Received: {num_workers}")
    return int(num_workers)


def _map(fn, items, num_workers):
    """`[fn(item) for item in items]`, over a shared thread pool.

    `fn` must not itself wait on the pool (tasks call OpenCV and NumPy only).
    """
    items = list(items)
    workers = _workers(num_workers)
    if workers == 1 or len(items) < 2:
        return [fn(item) for item in items]
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="keras_has.boxes"
            )
    return list(pool.map(fn, items))


@atexit.register
def _shutdown_pools():
    for pool in _pools.values():
        pool.shutdown(wait=False)


# --------------------------------------------------------------------------
# Argument checks


def _as_maps(cams, name="cams", ranks=(2, 3)):
    """`cams` as a NumPy array of one of `ranks`, with a clear error if not."""
    try:
        array = np.asarray(cams)
    except Exception as error:  # any failure is a bad argument
        raise ValueError(f"`{name}` must be an array. Received: {cams!r}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold real numbers. Received: dtype={array.dtype}")
    if array.ndim not in ranks:
        shapes = " or ".join({2: "(H, W)", 3: "(B, H, W)"}.get(r, f"rank {r}") for r in ranks)
        raise ValueError(f"`{name}` must have shape {shapes}. Received: shape={array.shape}")
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"`{name}` has an empty map. Received: shape={array.shape}")
    return array


def _as_threshold(threshold, name="threshold"):
    try:
        value = float(threshold)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be a number. Received: {name}={threshold!r}") from error
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={threshold!r}")
    return value


def _as_thresholds(thresholds, name="thresholds"):
    try:
        values = np.asarray(thresholds, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must be a 1-D sequence of numbers. Received: {thresholds!r}"
        ) from error
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence of numbers. Received: shape={values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` must be finite. Received: {thresholds!r}")
    return values


def as_boxes(boxes, name="boxes"):
    """`boxes` as a float64 (N, 4) array; raises ValueError naming `name`."""
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must be an (N, 4) array of boxes. Received: {boxes!r}"
        ) from error
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"`{name}` must have shape (N, 4) (x_min, y_min, x_max, y_max). "
            f"Received: shape={array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite coordinates.")
    return array


# --------------------------------------------------------------------------
# Geometry


def box_iou(a, b):
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4): (N, M).

    Half-open boxes, plain areas. A box with non-positive width or height
    has area 0; a pair whose union is empty has IoU 0.
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    return _iou(a, b)


def _iou(a, b):
    a = a[:, None, :]
    b = b[None, :, :]
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    area_a = np.maximum(a[..., 2] - a[..., 0], 0) * np.maximum(a[..., 3] - a[..., 1], 0)
    area_b = np.maximum(b[..., 2] - b[..., 0], 0) * np.maximum(b[..., 3] - b[..., 1], 0)
    union = area_a + area_b - inter
    out = np.zeros(union.shape, np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


# --------------------------------------------------------------------------
# Normalization


def normalize_cams(cams):
    """Min-max normalizes each map of `cams` (..., H, W) to [0, 1], float32.

    ``(cam - min) / (max - min)`` per map; a constant map becomes all zeros.
    Raises ValueError for non-finite values.
    """
    array = _as_maps(cams, ranks=tuple(range(2, 33))).astype(np.float32, copy=False)
    low = array.min(axis=(-2, -1), keepdims=True)
    high = array.max(axis=(-2, -1), keepdims=True)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError("`cams` must hold finite values (found NaN or inf).")
    spread = high - low
    constant = spread == 0
    out = (array - low) / np.where(constant, np.float32(1), spread)
    if constant.any():
        out = np.where(constant, np.float32(0), out)
    return out


# --------------------------------------------------------------------------
# Connected components of many masks in one OpenCV call


def component_stats(mask):
    """Box, pixel count and first pixel of each 8-connected component.

    `mask`: (H, W) uint8 or bool, nonzero = foreground. Returns ``(boxes, area,
    first)``: (K, 4) int64 half-open boxes, (K,) int64 pixel counts and
    (K, 2) int64 (row, column) of each component's first pixel in raster
    order, in no particular order.

    One ``cv2.findContours(RETR_CCOMP)`` call instead of
    ``cv2.connectedComponentsWithStats``: the same components, about 4 to 6
    times faster on the threshold sweep's stacked masks, which are mostly
    uniform (labelling with statistics costs about 5 ns per pixel, border
    following about 1). Each component has one outer border, traced
    through the centres of its border pixels (8-connected), and one hole
    border per hole (``RETR_CCOMP`` makes the component's outer border the
    holes' parent). Its box is the outer border's extent. Its pixel count
    follows from Pick's theorem on the traced polygons: a closed border of
    shoelace area A and s unit steps (axial or diagonal) encloses
    ``A + s / 2 + 1`` pixels counting its own, and a hole border encloses
    ``A - s / 2 + 1`` background pixels (one-pixel-wide spurs walked out and
    back add steps and no area, which keeps both exact). The outer border
    starts at the component's first pixel in raster order (border following
    starts where the raster scan first meets the component). The tests check
    all three against ``cv2.connectedComponentsWithStats`` and a flood fill.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        empty = np.zeros((0, 4), np.int64)
        return empty, np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
    lengths = np.fromiter(map(len, contours), np.int64, len(contours))
    points = np.concatenate(contours).reshape(-1, 2).astype(np.int64)  # (x, y)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    following = np.arange(1, len(points) + 1)
    following[starts + lengths - 1] = starts  # close each polygon
    x, y = points[:, 0], points[:, 1]
    x_next, y_next = x[following], y[following]
    twice_area = np.abs(np.add.reduceat(x * y_next - x_next * y, starts))
    steps = np.add.reduceat(np.maximum(np.abs(x_next - x), np.abs(y_next - y)), starts)
    parent = hierarchy[0][:, 3]
    outer = parent < 0
    # Twice the pixel counts, to stay in integers: 2A + s + 2 enclosed by
    # outer borders, minus 2A - s + 2 per hole.
    twice_pixels = np.where(outer, twice_area + steps + 2, -(twice_area - steps + 2))
    owner = np.where(outer, np.arange(len(contours)), parent)
    area = np.bincount(owner, weights=twice_pixels, minlength=len(contours))[outer]
    area = (np.rint(area).astype(np.int64)) // 2
    boxes = np.stack(
        [
            np.minimum.reduceat(x, starts),
            np.minimum.reduceat(y, starts),
            np.maximum.reduceat(x, starts) + 1,
            np.maximum.reduceat(y, starts) + 1,
        ],
        axis=1,
    )[outer]
    first = np.stack([y[starts], x[starts]], axis=1)[outer]
    return boxes, area, first


def _labelled_stats(mask):
    """`component_stats` by labelling: (boxes, area, rank), rank in raster order.

    ``cv2.connectedComponentsWithStats`` with Wu et al.'s scan (``CCL_SAUF``),
    whose labels follow the raster order of the components' first pixels
    (also in OpenCV's parallel version), unlike the default block-based scans.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_SAUF
    )
    left, top, width, height, area = stats[1:].astype(np.int64).T
    boxes = np.stack([left, top, left + width, top + height], axis=1)
    return boxes, area, np.arange(count - 1)


def _contour_estimate(canvas):
    """About how many contours border following would find in (H, W) 0/1 uint8 `canvas`.

    On one row in `_SAMPLED_ROWS`, counts the pixels where a raster scan meets
    a new component (foreground; left and three upper neighbours background)
    or a new hole (background; left and upper neighbours foreground): an
    upper bound on those rows' share of the contours.
    """
    row = canvas[1::_SAMPLED_ROWS].view(bool)
    above = canvas[::_SAMPLED_ROWS][: len(row)].view(bool)
    blocked = above.copy()
    blocked[:, 1:] |= above[:, :-1] | row[:, :-1]
    blocked[:, :-1] |= above[:, 1:]
    starts = np.count_nonzero(row > blocked)
    holes = np.count_nonzero((row[:, :-1] & above[:, 1:]) > row[:, 1:])
    return (starts + holes) * _SAMPLED_ROWS


def _use_labelling(canvas):
    """Whether `canvas` looks noisy enough for labelling to beat border following."""
    return _contour_estimate(canvas) * _PIXELS_PER_CONTOUR > canvas.size


class _Components:
    """The 8-connected components of a stack of masks ("bands").

    `canvas` holds the bands one below the other with a zero row after each;
    band k starts at canvas row `band_starts[k]`, which is image row
    `row0[k]`; all bands start at image column `col0`. Attributes, one entry
    per component, grouped by band (ascending) and inside a band by pixel
    count descending, then raster order of the first pixel: `band`, `boxes`
    (K, 4) float64 in image coordinates, `area`. `starts` holds the index of
    each present band's first entry, `present` those bands. Border following
    or labelling (`_use_labelling`) give the same attributes.
    """

    def __init__(self, canvas, band_starts, row0, col0):
        if _use_labelling(canvas):
            boxes, area, rank = _labelled_stats(canvas)
        else:
            boxes, area, first = component_stats(canvas)
            rank = first[:, 0] * canvas.shape[1] + first[:, 1]
        band = np.searchsorted(band_starts, boxes[:, 1], side="right") - 1
        shift = row0[band] - band_starts[band]
        boxes = (boxes + np.stack([0 * shift + col0, shift] * 2, axis=1)).astype(np.float64)
        order = np.lexsort((rank, -area, band))
        self.band = band[order]
        self.boxes = boxes[order]
        self.area = area[order]
        change = np.flatnonzero(np.diff(self.band)) + 1
        self.starts = np.r_[0, change].astype(np.int64) if len(order) else change
        self.present = self.band[self.starts]


def _stack(band_masks, width):
    """One uint8 canvas of `band_masks` (a list of (h_k, width) bool arrays)."""
    heights = np.array([m.shape[0] for m in band_masks], np.int64)
    starts = np.r_[0, np.cumsum(heights + 1)[:-1]].astype(np.int64)
    canvas = np.zeros((int((heights + 1).sum()), width), np.uint8)
    for mask, start in zip(band_masks, starts):
        canvas[start : start + mask.shape[0]] = mask
    return canvas, starts


def _row_range(any_rows):
    rows = np.flatnonzero(any_rows)
    return rows[0], rows[-1] + 1


# --------------------------------------------------------------------------
# One threshold: boxes of a batch


def cam_to_boxes(cams, threshold=0.2, all_components=False, num_workers=None):
    """Boxes of the thresholded CAMs.

    Args:
        cams: (B, H, W) class activation maps at image resolution, or one
            (H, W) map. Each map is min-max normalized first.
        threshold: foreground is ``normalized >= threshold``.
        all_components: False: the box of the largest 8-connected component
            of each map; True: the boxes of all components.
        num_workers: threads over chunks of the batch (None: one per core).

    Returns:
        all_components=False: (B, 4) float32, or (4,) for one map; a map with
        no foreground gives (0, 0, 0, 0).
        all_components=True: a list of B float32 arrays (n_i, 4), sorted by
        component area (pixels) descending, ties in raster order; or one such
        array for one map. A map with no foreground gives a (0, 4) array.
    """
    array = _as_maps(cams)
    threshold = _as_threshold(threshold)
    if not isinstance(all_components, (bool, np.bool_)):
        raise ValueError(  # noqa: TRY004 - the package raises ValueError for bad arguments
            f"`all_components` must be a bool. Received: all_components={all_components!r}"
        )
    workers = _workers(num_workers)
    single = array.ndim == 2
    maps = array[None] if single else array
    batch, height, width = maps.shape
    per_chunk = max(1, _MAX_CANVAS_PIXELS // ((height + 1) * width))
    per_chunk = min(per_chunk, max(1, -(-batch // workers)))
    chunks = [range(i, min(i + per_chunk, batch)) for i in range(0, batch, per_chunk)]

    def run(chunk):
        normalized = normalize_cams(maps[chunk.start : chunk.stop])
        return _boxes_of_chunk(normalized, threshold, all_components)

    results = _map(run, chunks, workers)
    if all_components:
        out = [boxes for result in results for boxes in result]
        return out[0] if single else out
    out = np.concatenate(results, axis=0) if results else np.zeros((0, 4), np.float32)
    return out[0] if single else out


def _boxes_of_chunk(maps, threshold, all_components):
    batch = len(maps)
    foreground = maps >= np.float32(threshold)
    rows = foreground.any(axis=2)
    cols = foreground.any(axis=(0, 1))
    present = np.flatnonzero(rows.any(axis=1))
    empty = np.zeros((0, 4), np.float32)
    if len(present) == 0:
        return [empty] * batch if all_components else np.zeros((batch, 4), np.float32)
    c0, c1 = _row_range(cols)
    ranges = [_row_range(rows[i]) for i in present]
    masks = [foreground[i, r0:r1, c0:c1] for i, (r0, r1) in zip(present, ranges)]
    canvas, starts = _stack(masks, c1 - c0)
    row0 = np.array([r0 for r0, _ in ranges], np.int64)
    comps = _Components(canvas, starts, row0, c0)
    image = present[comps.present]
    boxes = comps.boxes.astype(np.float32)
    if all_components:
        out = [empty] * batch
        ends = np.r_[comps.starts[1:], len(boxes)]
        for i, start, end in zip(image, comps.starts, ends):
            out[i] = boxes[start:end]
        return out
    out = np.zeros((batch, 4), np.float32)
    out[image] = boxes[comps.starts]
    return out


# --------------------------------------------------------------------------
# Many thresholds: the sweep


def threshold_sweep(cams, gt_boxes, thresholds, num_workers=None):
    """Best IoU with the ground truth of each image at each CAM threshold.

    For each image and each threshold `t` (foreground ``normalized >= t``):
    the IoU of the largest component's box with its best-matching
    ground-truth box, and the best IoU over all components and all
    ground-truth boxes (Choe et al.'s multi-contour evaluation). One OpenCV
    call per image covers all thresholds.

    Args:
        cams: (B, H, W) CAMs (or one (H, W) map), min-max normalized here.
        gt_boxes: a list of B arrays (M_i, 4) of half-open boxes (or one
            (M, 4) array with one map). A box with non-positive area never
            matches (IoU 0).
        thresholds: (T,) CAM thresholds, any order.
        num_workers: threads over images (None: one per core).

    Returns:
        (largest, any): two float64 arrays (B, T), or (T,) for one map.
    """
    array = _as_maps(cams)
    thresholds = _as_thresholds(thresholds)
    workers = _workers(num_workers)
    single = array.ndim == 2
    if single:
        array = array[None]
        gt_boxes = [gt_boxes]
    if isinstance(gt_boxes, np.ndarray) and gt_boxes.ndim == 3:
        gt_boxes = list(gt_boxes)
    if not isinstance(gt_boxes, (list, tuple)) or len(gt_boxes) != len(array):
        raise ValueError(
            f"`gt_boxes` must be a list of {len(array)} (M_i, 4) arrays, one per "
            f"map. Received: {type(gt_boxes).__name__}"
            + (f" of length {len(gt_boxes)}" if hasattr(gt_boxes, "__len__") else "")
        )
    gt_boxes = [as_boxes(b, f"gt_boxes[{i}]") for i, b in enumerate(gt_boxes)]
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

    results = _map(run, range(len(maps)), num_workers)
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
    top = int(np.searchsorted(ascending, row_max.max(), side="right"))
    if top == 0:
        return largest, every
    c0, c1 = _row_range(norm.max(axis=0) >= ascending[0])
    above = row_max[None, :] >= ascending[:top, None]  # (bands, H)
    r0 = above.argmax(axis=1)
    r1 = above.shape[1] - above[:, ::-1].argmax(axis=1)
    heights = r1 - r0
    # One OpenCV call per group of bands of at most _MAX_CANVAS_PIXELS (one
    # group for 224x224 maps and 100 thresholds: about 5M pixels).
    ends = np.cumsum(heights + 1)
    first = 0
    while first < top:
        limit = ends[first] - heights[first] - 1 + _MAX_CANVAS_PIXELS // (c1 - c0)
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
    for k, start in zip(bands, starts):  # float32 comparisons
        rows = slice(start, start + heights[k])
        np.greater_equal(crop[r0[k] : r0[k] + heights[k]], ascending[k], out=flags[rows])
    comps = _Components(canvas, starts, r0[bands].astype(np.int64), c0)
    best = _iou(comps.boxes, gt).max(axis=1)
    present = bands[comps.present]
    largest[present] = best[comps.starts]
    every[present] = np.maximum.reduceat(best, comps.starts)

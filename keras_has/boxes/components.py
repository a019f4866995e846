"""The 8-connected components of many masks in one OpenCV call.

The masks (one per image, or one per threshold of an image) are cropped to
the rows where they have foreground and stacked into one tall canvas with a
row of zeros between them (`stack_masks`), labelled in one OpenCV call, and
the components are given back to their masks by their top row
(`Components`).

Components come from border following (``cv2.findContours``), which gives
the same 8-connected components as ``cv2.connectedComponentsWithStats`` with
exact pixel counts and about 4 to 6 times faster on smooth maps (see
`component_stats`). Its cost per contour grows with the number of contours
in one call, so a canvas that a cheap count on a sample of its rows finds
noisy (about one contour per 100 pixels or more, as pixel noise gives) is
labelled by ``cv2.connectedComponentsWithStats`` instead, whose cost is
linear in the pixels: the same components either way, and noisy maps cost
about as much as a loop that calls OpenCV once per threshold.
"""

import cv2
import numpy as np

# At most this many pixels per OpenCV call (read at call time by `cam_to_boxes` and the sweep).
MAX_CANVAS_PIXELS = 1 << 23
# Border following costs about 1 ns per pixel and 2 us per contour, and more per contour the more
# contours one call finds (16 us each at 275 000, a noisy 224x224 map's 100 thresholds); labelling
# costs about 5 ns per pixel (10 on pixel noise), linear in the pixels. The two break even on
# smooth CAMs plus noise at about one estimated contour per 100 pixels (smooth CAMs: one per 700);
# canvases above that are labelled.
_PIXELS_PER_CONTOUR = 100
# The estimate looks at one row in this many (about 3% of a smooth map's sweep).
_SAMPLED_ROWS = 32


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


class Components:
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


def stack_masks(band_masks, width):
    """One uint8 canvas of `band_masks` (a list of (h_k, width) bool arrays), and
    the canvas row where each starts."""
    heights = np.array([m.shape[0] for m in band_masks], np.int64)
    starts = np.r_[0, np.cumsum(heights + 1)[:-1]].astype(np.int64)
    canvas = np.zeros((int((heights + 1).sum()), width), np.uint8)
    for mask, start in zip(band_masks, starts):
        canvas[start : start + mask.shape[0]] = mask
    return canvas, starts


def row_range(any_rows):
    """(first, last + 1) of the True entries of a 1-D bool array (one at least)."""
    rows = np.flatnonzero(any_rows)
    return rows[0], rows[-1] + 1

"""CAM -> boxes on the host, against hand cases and a pure-Python oracle."""

from collections import deque
from unittest import mock

import cv2
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_has import boxes as boxes_lib
from keras_has.boxes import box_iou, cam_to_boxes, normalize_cams, threshold_sweep

# Tolerances. Boxes come from integer masks (pixel indices): compared exactly. IoUs are float64
# host arithmetic on small integer areas (one division each): HOST, far below the 1e-3 and more
# that a different box or overlap changes them by. Where both sides are the same elementwise
# float64 formula on the same boxes (IEEE +, -, *, / and min/max, no reduction order), they are
# bit-identical and compared exactly.
HOST = {"rtol": 0, "atol": 1e-12}  # float64 host arithmetic (assert_allclose)
HOST_APPROX = {"abs": 1e-12}  # float64 host arithmetic (pytest.approx)

# --------------------------------------------------------------------------
# The oracle: plain Python, no OpenCV, no NumPy vectorization.


def oracle_normalize(cam):
    """Min-max normalization, element by element in float32."""
    values = [np.float32(v) for v in np.asarray(cam, np.float32).ravel()]
    low, high = min(values), max(values)
    span = np.float32(high - low)
    rows, cols = np.shape(cam)
    return [
        [
            np.float32(0) if span == 0 else np.float32((np.float32(cam[y][x]) - low) / span)
            for x in range(cols)
        ]
        for y in range(rows)
    ]


def oracle_components(cam, threshold):
    """[(pixels, box)] of the 8-connected components, largest first.

    Breadth-first flood fill from each unvisited foreground pixel in raster
    order, so that equal sizes stay in raster order of their first pixel.
    """
    norm = oracle_normalize(cam)
    rows, cols = len(norm), len(norm[0])
    fg = [[norm[y][x] >= np.float32(threshold) for x in range(cols)] for y in range(rows)]
    seen = [[False] * cols for _ in range(rows)]
    found = []
    for y in range(rows):
        for x in range(cols):
            if not fg[y][x] or seen[y][x]:
                continue
            seen[y][x] = True
            queue, pixels = deque([(y, x)]), []
            while queue:
                cy, cx = queue.popleft()
                pixels.append((cy, cx))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < rows and 0 <= nx < cols and fg[ny][nx] and not seen[ny][nx]:
                            seen[ny][nx] = True
                            queue.append((ny, nx))
            ys = [p[0] for p in pixels]
            xs = [p[1] for p in pixels]
            found.append((len(pixels), (min(xs), min(ys), max(xs) + 1, max(ys) + 1)))
    return sorted(found, key=lambda c: -c[0])  # stable: raster order in ties


def oracle_iou(a, b):
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------
# Hand cases


def blank(rows=8, cols=10):
    return np.zeros((rows, cols), np.float32)


def test_largest_of_two_blobs_and_all_components_by_area():
    cam = blank()
    cam[1:3, 1:3] = 1.0  # 4 pixels, box (1, 1, 3, 3)
    cam[4:7, 5:8] = 1.0  # 9 pixels, box (5, 4, 8, 7)
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 4, 8, 7])
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[5, 4, 8, 7], [1, 1, 3, 3]]
    )


def test_threshold_selects_pixels_and_is_inclusive():
    cam = blank()
    cam[1:7, 1:7] = 0.4  # halo
    cam[2:5, 3:6] = 1.0  # core, box (3, 2, 6, 5)
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.3), [1, 1, 7, 7])
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [3, 2, 6, 5])
    # >=: a threshold equal to the halo's normalized value keeps the halo.
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.4), [1, 1, 7, 7])
    # Threshold 0 keeps everything; above 1 nothing.
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.0), [0, 0, 10, 8])
    np.testing.assert_array_equal(cam_to_boxes(cam, 1.5), [0, 0, 0, 0])


def test_normalization_is_min_max_per_map():
    cam = blank() + 10.0
    cam[1:7, 1:7] = 14.0  # normalizes to 0.4
    cam[2:5, 3:6] = 20.0  # normalizes to 1
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.3), [1, 1, 7, 7])
    np.testing.assert_array_equal(cam_to_boxes(-cam, 0.5), [0, 0, 10, 8])  # inverted


def test_diagonal_neighbours_join():
    cam = blank()
    for i in range(4):
        cam[2 + i, 1 + i] = 1.0  # a diagonal line: one 8-connected component
    cam[0, 9] = 1.0
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[1, 2, 5, 6], [9, 0, 10, 1]]
    )


def test_half_open_coordinates():
    cam = blank()
    cam[3, 5] = 1.0  # pixel column 5, row 3
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 3, 6, 4])
    cam[3:5, 5:9] = 1.0  # columns 5..8, rows 3..4
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [5, 3, 9, 5])
    cam[:] = 0
    cam[7, 9] = 1.0  # the bottom-right pixel
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [9, 7, 10, 8])


def test_constant_map_has_no_box_above_zero():
    cams = np.stack([np.full((6, 7), 3.0, np.float32), np.zeros((6, 7), np.float32)])
    np.testing.assert_array_equal(cam_to_boxes(cams, 0.2), np.zeros((2, 4)))
    assert [b.shape for b in cam_to_boxes(cams, 0.2, all_components=True)] == [(0, 4)] * 2
    np.testing.assert_array_equal(normalize_cams(cams), np.zeros((2, 6, 7)))  # selected fill
    # Normalized to zeros everywhere, so threshold 0 keeps the whole image.
    np.testing.assert_array_equal(cam_to_boxes(cams, 0.0), [[0, 0, 7, 6]] * 2)


def test_ties_go_to_the_first_pixel_in_raster_order():
    cam = blank()
    cam[1, 0] = cam[2, 0] = 1.0  # first pixel (row 1, column 0)
    cam[0, 6] = cam[1, 6] = 1.0  # first pixel (row 0, column 6): first in raster order
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [6, 0, 7, 2])
    np.testing.assert_array_equal(
        cam_to_boxes(cam, 0.5, all_components=True), [[6, 0, 7, 2], [0, 1, 1, 3]]
    )
    cam[0, 6] = 0.0  # now the left one is larger
    np.testing.assert_array_equal(cam_to_boxes(cam, 0.5), [0, 1, 1, 3])


def test_batch_shapes_and_dtypes():
    cams = np.random.default_rng(0).random((5, 9, 11)).astype(np.float64)
    out = cam_to_boxes(cams, 0.5)
    assert out.shape == (5, 4) and out.dtype == np.float32
    for i in range(5):
        np.testing.assert_array_equal(cam_to_boxes(cams[i], 0.5), out[i])
    every = cam_to_boxes(cams, 0.5, all_components=True)
    assert len(every) == 5 and all(b.dtype == np.float32 and b.shape[1] == 4 for b in every)
    np.testing.assert_array_equal([b[0] for b in every], out)
    norm = normalize_cams(cams.reshape(5, 1, 9, 11))
    assert norm.shape == (5, 1, 9, 11) and norm.dtype == np.float32
    # Exact: (low - low) / span is 0 and (high - low) / span is 1 in IEEE arithmetic.
    assert norm.min() == 0 and norm.max() == 1


def test_box_iou_hand_cases():
    a = [[0, 0, 4, 4], [0, 0, 2, 2], [5, 5, 5, 9]]
    b = [[0, 0, 4, 4], [2, 0, 6, 4], [4, 0, 8, 4]]
    expected = [
        [1.0, 8 / 24, 0.0],  # identical; half overlap; touching edges (half-open)
        [4 / 16, 0.0, 0.0],  # inside
        [0.0, 0.0, 0.0],  # zero width
    ]
    np.testing.assert_allclose(box_iou(a, b), expected, **HOST)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0  # the fill of an empty union


def test_sweep_hand_case():
    cam = blank(10, 10)
    cam[1:7, 1:7] = 0.5  # box (1, 1, 7, 7)
    cam[2:6, 2:6] = 1.0  # box (2, 2, 6, 6)
    cam[9, 9] = 0.5  # a far pixel: a second component at t <= 0.5
    gt = [[2, 2, 6, 8], [9, 9, 10, 10]]
    largest, every = threshold_sweep(cam, gt, [0.75, 0.0, 0.5, 0.25, 1.1])
    # t=0.75: core, IoU 16/24 with the first box. t=0: whole image, 24/100.
    # t<=0.5: halo (1, 1, 7, 7) IoU 20/40 with the first box; the far pixel
    # matches the second box exactly (IoU 1) but is not the largest.
    # t=1.1: nothing.
    np.testing.assert_allclose(largest, [16 / 24, 0.24, 0.5, 0.5, 0.0], **HOST)
    np.testing.assert_allclose(every, [16 / 24, 0.24, 1.0, 1.0, 0.0], **HOST)


def test_sweep_matches_one_opencv_call_per_threshold_on_upsampled_maps():
    rng = np.random.default_rng(3)
    small = rng.random((3, 7, 7)).astype(np.float32)
    cams = np.stack([cv2.resize(s, (96, 80), interpolation=cv2.INTER_LINEAR) for s in small])
    cams[2, 10:20, 30:40] += 3.0  # one peaked map: crops of very different heights
    gt = [rng.uniform(0, 60, (k, 2)) for k in (1, 2, 3)]
    gt = [np.concatenate([g, g + rng.uniform(5, 40, g.shape)], axis=1) for g in gt]
    thresholds = np.arange(0, 1, 0.01)
    largest, every = threshold_sweep(cams, gt, thresholds)
    for k, t in enumerate(thresholds):
        boxes = cam_to_boxes(cams, t, all_components=True)
        for i in range(3):
            ious = box_iou(boxes[i], gt[i]) if len(boxes[i]) else np.zeros((1, 1))
            # Exact: the same integer boxes through the same elementwise float64 IoU formula.
            assert largest[i, k] == ious[0].max() and every[i, k] == ious.max()


def test_threads_and_chunks_give_the_same_boxes(monkeypatch):
    cams = np.random.default_rng(1).random((7, 12, 9)).astype(np.float32)
    gt = [[[0, 0, 4, 4], [3, 2, 9, 12]]] * 7
    thresholds = np.linspace(0, 1, 30)
    expected = cam_to_boxes(cams, 0.6, num_workers=1)
    expected_all = cam_to_boxes(cams, 0.6, all_components=True, num_workers=1)
    expected_sweep = threshold_sweep(cams, gt, thresholds, num_workers=1)
    # Two maps per call in cam_to_boxes, a few bands per call in the sweep.
    monkeypatch.setattr(boxes_lib, "_MAX_CANVAS_PIXELS", 2 * 13 * 9)
    for workers in (1, 2, 3):
        np.testing.assert_array_equal(cam_to_boxes(cams, 0.6, num_workers=workers), expected)
        got = cam_to_boxes(cams, 0.6, all_components=True, num_workers=workers)
        for a, b in zip(got, expected_all):
            np.testing.assert_array_equal(a, b)
        sweep = threshold_sweep(cams, gt, thresholds, num_workers=workers)
        np.testing.assert_array_equal(sweep, expected_sweep)  # same boxes, same float64 IoUs


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cam_to_boxes(np.zeros((2, 3, 4, 5))), "cams"),
        (lambda: cam_to_boxes(np.zeros(5)), "cams"),
        (lambda: cam_to_boxes(np.array([["a"]])), "cams"),
        (lambda: cam_to_boxes(np.zeros((2, 0, 4))), "cams"),
        (lambda: cam_to_boxes(np.full((3, 3), np.nan)), "cams"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold="high"), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), threshold=np.inf), "threshold"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), all_components="yes"), "all_components"),
        (lambda: cam_to_boxes(np.zeros((3, 3)), num_workers=0), "num_workers"),
        (lambda: normalize_cams(np.zeros(4)), "cams"),
        (lambda: box_iou(np.zeros((2, 3)), np.zeros((1, 4))), "`a`"),
        (lambda: box_iou(np.zeros((2, 4)), np.zeros(4)), "`b`"),
        (lambda: threshold_sweep(np.zeros((2, 3, 3)), [np.zeros((1, 4))], [0.5]), "gt_boxes"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 3)), [0.5]), r"gt_boxes\[0\]"),
        (lambda: threshold_sweep(np.zeros((3, 3)), np.zeros((1, 4)), []), "thresholds"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# Properties against the oracle

maps = st.integers(1, 9).flatmap(
    lambda rows: st.integers(1, 9).flatmap(
        lambda cols: st.integers(1, 4).flatmap(
            lambda batch: st.one_of(
                # Few levels: plateaus, ties, thresholds hitting values exactly.
                hnp.arrays(
                    np.float32, (batch, rows, cols), elements=st.sampled_from([0, 1, 2, 3, 4])
                ),
                hnp.arrays(
                    np.float32,
                    (batch, rows, cols),
                    elements=st.floats(-2, 2, width=32, allow_subnormal=False),
                ),
            )
        )
    )
)
thresholds = st.one_of(
    st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0]),
    st.floats(0, 1.05, allow_subnormal=False),
)


@given(cams=maps, threshold=thresholds)
def test_cam_to_boxes_matches_the_flood_fill_oracle(cams, threshold):
    largest = cam_to_boxes(cams, threshold)
    every = cam_to_boxes(cams, threshold, all_components=True)
    for i, cam in enumerate(cams):
        expected = [box for _, box in oracle_components(cam, threshold)]
        np.testing.assert_array_equal(every[i], np.array(expected, np.float32).reshape(-1, 4))
        np.testing.assert_array_equal(largest[i], expected[0] if expected else [0, 0, 0, 0])


gt_boxes = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(-1, 7), st.integers(-1, 7)).map(
        lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])  # may be degenerate
    ),
    min_size=1,
    max_size=3,
)


@given(
    cams=maps,
    thresholds=st.lists(thresholds, min_size=1, max_size=6),
    boxes=st.lists(gt_boxes, min_size=4, max_size=4),
)
def test_sweep_matches_the_flood_fill_oracle(cams, thresholds, boxes):
    gt = boxes[: len(cams)]
    largest, every = threshold_sweep(cams, gt, thresholds)
    assert largest.shape == every.shape == (len(cams), len(thresholds))
    for i, cam in enumerate(cams):
        for k, t in enumerate(thresholds):
            found = [box for _, box in oracle_components(cam, t)]
            ious = [[oracle_iou(f, g) for g in gt[i]] for f in found]
            # The oracle's Python-float IoU may round differently from NumPy's: HOST.
            assert largest[i, k] == pytest.approx(max(ious[0]) if found else 0.0, **HOST_APPROX)
            assert every[i, k] == pytest.approx(
                max(max(row) for row in ious) if found else 0.0, **HOST_APPROX
            )


@given(
    a=hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(4)), elements=st.integers(-5, 5)),
    b=hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(4)), elements=st.integers(-5, 5)),
)
def test_box_iou_matches_the_oracle(a, b):
    got = box_iou(a, b)
    assert got.shape == (len(a), len(b))
    for i in range(len(a)):
        for j in range(len(b)):
            assert got[i, j] == pytest.approx(oracle_iou(a[i], b[j]), **HOST_APPROX)
            assert got[i, j] == pytest.approx(box_iou(b, a)[j, i], **HOST_APPROX)


@pytest.mark.parametrize("density", [0.1, 0.4, 0.6, 0.8, 0.95])
def test_component_stats_match_opencv_labelling(density):
    """Border following + Pick's theorem against connectedComponentsWithStats.

    Noise masks have many holes, spurs and pinches, and touch the borders.
    """
    rng = np.random.default_rng(int(density * 100))
    for _ in range(20):
        rows, cols = rng.integers(1, 40, 2)
        mask = (rng.random((rows, cols)) < density).astype(np.uint8)
        boxes, area, first = boxes_lib.component_stats(mask)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        expected = {}
        for label in range(1, count):
            x, y, w, h, pixels = stats[label]
            ys, xs = np.nonzero(labels == label)
            expected[(ys[0], xs[0])] = (x, y, x + w, y + h, pixels)
        got = {
            (r, c): (*b, a) for (r, c), b, a in zip(first.tolist(), boxes.tolist(), area.tolist())
        }
        assert got == expected


def test_empty_batches():
    assert cam_to_boxes(np.zeros((0, 5, 6))).shape == (0, 4)
    assert cam_to_boxes(np.zeros((0, 5, 6)), all_components=True) == []
    largest, every = threshold_sweep(np.zeros((0, 5, 6)), [], [0.2, 0.5])
    assert largest.shape == every.shape == (0, 2)


# --------------------------------------------------------------------------
# Noisy maps: labelling instead of border following


def checker_noise(rows, cols, seed):
    """A checkerboard of high and low random values: most pixels are contours."""
    rng = np.random.default_rng(seed)
    high = np.add.outer(np.arange(rows), np.arange(cols)) % 2 == 1
    return np.where(high, rng.uniform(0.5, 1, (rows, cols)), rng.uniform(0, 0.5, (rows, cols)))


def smooth_maps(count, seed, size=(80, 96)):
    small = np.random.default_rng(seed).random((count, 7, 7)).astype(np.float32)
    return np.stack([cv2.resize(s, size[::-1], interpolation=cv2.INTER_LINEAR) for s in small])


def per_threshold_sweep(cam, gt, thresholds):
    """The sweep with one border-following call per threshold (the reference)."""
    norm = normalize_cams(cam)
    largest, every = np.zeros(len(thresholds)), np.zeros(len(thresholds))
    for k, t in enumerate(thresholds):
        boxes, area, first = boxes_lib.component_stats(norm >= np.float32(t))
        if len(boxes):
            ious = box_iou(boxes[np.lexsort((first[:, 1], first[:, 0], -area))], gt)
            largest[k], every[k] = ious[0].max(), ious.max()
    return largest, every


@pytest.mark.parametrize("density", [0.05, 0.5, 0.97])
def test_labelling_gives_the_components_of_border_following(monkeypatch, density):
    # Stacked noise bands: thousands of components, many of equal size (ties).
    rng = np.random.default_rng(int(100 * density))
    heights = rng.integers(1, 60, 12)
    canvas, starts = boxes_lib._stack([rng.random((h, 70)) < density for h in heights], 70)
    row0 = rng.integers(0, 9, len(heights))
    found = {}
    for labelled in (False, True):
        monkeypatch.setattr(boxes_lib, "_use_labelling", lambda _, labelled=labelled: labelled)
        comps = boxes_lib._Components(canvas, starts, row0, 5)
        found[labelled] = [comps.band, comps.boxes, comps.area, comps.starts, comps.present]
    assert len(found[True][0]) >= len(heights)
    for a, b in zip(found[False], found[True]):
        np.testing.assert_array_equal(a, b)


@given(cams=maps, threshold=thresholds)
def test_labelling_matches_the_flood_fill_oracle(cams, threshold):
    with mock.patch.object(boxes_lib, "_use_labelling", lambda _: True):
        every = cam_to_boxes(cams, threshold, all_components=True)
    for i, cam in enumerate(cams):
        expected = [box for _, box in oracle_components(cam, threshold)]
        np.testing.assert_array_equal(every[i], np.array(expected, np.float32).reshape(-1, 4))


def test_noisy_maps_are_labelled_and_smooth_maps_traced(monkeypatch):
    chosen = []
    choose = boxes_lib._use_labelling
    monkeypatch.setattr(
        boxes_lib, "_use_labelling", lambda c: chosen.append(choose(c)) or chosen[-1]
    )
    gt = [np.array([[10.0, 10, 60, 50]])] * 3
    threshold_sweep(smooth_maps(3, seed=4), gt, np.arange(0, 1, 0.01), num_workers=1)
    assert chosen == [False] * 3
    chosen.clear()
    noisy = np.stack([checker_noise(80, 96, 0), np.random.default_rng(1).random((80, 96))])
    threshold_sweep(noisy, gt[:2], np.arange(0, 1, 0.01), num_workers=1)
    assert chosen == [True] * 2
    chosen.clear()
    cam_to_boxes(noisy, 0.3, num_workers=1)
    assert chosen == [True]


def test_no_border_following_call_meets_a_noisy_stack(monkeypatch):
    # Border following slows down per contour as one call's contours grow:
    # 44 s for this map's sweep with all 100 masks in one call.
    calls = []
    trace = cv2.findContours

    def spy(mask, *args):
        contours, hierarchy = trace(mask, *args)
        calls.append((len(contours), mask.size))
        return contours, hierarchy

    monkeypatch.setattr(cv2, "findContours", spy)
    cams = np.stack([checker_noise(48, 64, 2), smooth_maps(1, seed=5, size=(48, 64))[0]])
    gt = [np.array([[4.0, 4, 40, 30]])] * 2
    threshold_sweep(cams, gt, np.arange(0, 1, 0.01), num_workers=1)
    cam_to_boxes(np.repeat(cams[:1], 8, axis=0), 0.5, num_workers=1)
    assert calls  # the smooth map is traced
    assert all(contours <= pixels / 50 for contours, pixels in calls), calls


@pytest.mark.parametrize("make", [lambda: checker_noise(48, 64, 3), lambda: None])
def test_noisy_sweeps_match_one_call_per_threshold(make):
    rng = np.random.default_rng(6)
    cam = make()
    cam = rng.random((56, 56)) if cam is None else cam
    gt = np.array([[3.0, 5, 30, 40], [20, 10, 56, 48]])
    thresholds = np.arange(0, 1, 0.01)
    largest, every = threshold_sweep(cam, gt, thresholds)
    expected_largest, expected_every = per_threshold_sweep(cam, gt, thresholds)
    np.testing.assert_array_equal(largest, expected_largest)  # same boxes, same float64 IoUs
    np.testing.assert_array_equal(every, expected_every)
    for t in (0.5, 0.8):
        boxes, area, first = boxes_lib.component_stats(normalize_cams(cam) >= np.float32(t))
        expected = boxes[np.lexsort((first[:, 1], first[:, 0], -area))]
        np.testing.assert_array_equal(cam_to_boxes(cam, t, all_components=True), expected)

"""The pure-Python oracle of CAM -> boxes (no OpenCV, no NumPy vectorization), the
tolerances of the box tests, and the maps they draw or build."""

from collections import deque

import cv2
import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

# Tolerances. Boxes come from integer masks (pixel indices): compared exactly. IoUs are float64
# host arithmetic on small integer areas (one division each): HOST, far below the 1e-3 and more
# that a different box or overlap changes them by. Where both sides are the same elementwise
# float64 formula on the same boxes (IEEE +, -, *, / and min/max, no reduction order), they are
# bit-identical and compared exactly.
HOST = {"rtol": 0, "atol": 1e-12}  # float64 host arithmetic (assert_allclose)
HOST_APPROX = {"abs": 1e-12}  # float64 host arithmetic (pytest.approx)


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


def blank(rows=8, cols=10):
    return np.zeros((rows, cols), np.float32)


# Hypothesis strategies

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
    st.floats(0, 1, allow_subnormal=False),
)


# Built maps


def checker_noise(rows, cols, seed):
    """A checkerboard of high and low random values: most pixels are contours."""
    rng = np.random.default_rng(seed)
    high = np.add.outer(np.arange(rows), np.arange(cols)) % 2 == 1
    return np.where(high, rng.uniform(0.5, 1, (rows, cols)), rng.uniform(0, 0.5, (rows, cols)))


def smooth_maps(count, seed, size=(80, 96)):
    small = np.random.default_rng(seed).random((count, 7, 7)).astype(np.float32)
    return np.stack([cv2.resize(s, size[::-1], interpolation=cv2.INTER_LINEAR) for s in small])

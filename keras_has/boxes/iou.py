"""Intersection over union of half-open pixel boxes."""

import numpy as np

from keras_has._arguments import as_boxes


def box_iou(a, b):
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4): (N, M).

    Half-open boxes, plain areas. A box with non-positive width or height
    has area 0; a pair whose union is empty has IoU 0.
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    return pairwise_iou(a, b)


def pairwise_iou(a, b):
    """`box_iou` without argument checks, on float64 (N, 4) and (M, 4) arrays."""
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

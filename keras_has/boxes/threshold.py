"""The CAM threshold rule and the min-max normalization it applies to.

A CAM's foreground at threshold ``t`` is ``normalize_cams(cam) >= t``,
compared in float32 (the maps' precision). `foreground` is that comparison
and the one place the host code applies it: `cam_to_boxes`, the threshold
sweep (`keras_has.metrics.LocalizationMetrics`) and the recipes' part
coverage call it. The exportable localizer
(`keras_has.localizer.largest_component_boxes`) applies the same rule in
Keras ops; its tests check that both give the same boxes.
"""

import numpy as np

from keras_has.boxes.checks import as_maps


def normalize_cams(cams):
    """Min-max normalizes each map of `cams` (..., H, W) to [0, 1], float32.

    ``(cam - min) / (max - min)`` per map; a constant map becomes all zeros.
    Raises ValueError for non-finite values.
    """
    array = as_maps(cams, ranks=tuple(range(2, 33))).astype(np.float32, copy=False)
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


def foreground(normalized, threshold, out=None):
    """The CAM threshold rule: ``normalized >= threshold``, compared in float32.

    Args:
        normalized: float32 maps from `normalize_cams`, or values taken from
            them (row or column maxima).
        threshold: a number, or an array of thresholds that broadcasts
            against `normalized`.
        out: optional bool array to write the result into.

    Returns:
        A bool array, True on the foreground.
    """
    return np.greater_equal(normalized, np.asarray(threshold, np.float32), out=out)

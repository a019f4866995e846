"""The CAM threshold rule and the min-max normalization it applies to.

A CAM's foreground at threshold ``t`` is ``normalize_cams(cam) >= t``,
compared in float32 (the maps' precision). `foreground` is that comparison
and the one place the host code applies it: `cam_to_boxes`, the threshold
sweep (`keras_has.metrics.LocalizationMetrics`) and the recipes' part
coverage call it. Its in-graph twin is `keras_has.localizer.foreground`
(Keras ops, for the exportable localizer); tests/test_localizer.py checks
that the two give the same masks, pixel for pixel.
"""

import numpy as np

from keras_has._arguments import as_maps, check_finite


def normalize_cams(cams):
    """Min-max normalizes each map of `cams` (..., H, W) to [0, 1], float32.

    ``(cam - min) / (max - min)`` per map; a constant map becomes all zeros.
    Raises ValueError for non-finite values.
    """
    array = as_maps(cams, ranks=tuple(range(2, 33))).astype(np.float32, copy=False)
    low = array.min(axis=(-2, -1), keepdims=True)
    high = array.max(axis=(-2, -1), keepdims=True)
    check_finite([low, high], "cams")  # NaN and inf show in a map's min or max
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

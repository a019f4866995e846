"""Action segments from 1-D class activation maps (Sec. 3.2 and 4.2.3).

A video's CAM for class c is a sequence (T,) over its sampled features. As
Sec. 4.2.3 says, it is thresholded at a fraction of its maximum (paper: 0.5;
the raw values divided by the max, not min-max normalized as image CAMs are
in `keras_has.boxes`: a long background of negative values would otherwise
sit in the middle of the range), and every contiguous run of steps at or
above the threshold is one detection. Step i covers the time
[i * step_seconds, (i + 1) * step_seconds).

This sits beside `keras_has.boxes` rather than in it: boxes are 2-D
connected components (OpenCV), segments are runs of a 1-D mask (NumPy).
"""

import numpy as np

from keras_has._arguments import as_fraction, as_maps, check_finite


def runs(mask):
    """The contiguous runs of True in a (T,) bool mask, as (R, 2) int [start, stop)."""
    mask = np.asarray(mask, bool)
    if mask.ndim != 1:
        raise ValueError(f"`mask` must be 1-D (T,), got shape {mask.shape}.")
    edges = np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def above_threshold(cams, threshold):
    """(..., T) bool: the steps of each CAM at or above `threshold` of its max; none where
    the max is not positive.

    The 1-D rule, used by `cam_to_segments` and the temporal recipe: a fraction of the raw
    maximum, in the CAM's own precision, unlike the image rule `keras_has.boxes.foreground`
    (min-max normalized maps, float32)."""
    cams = np.asarray(cams)
    peak = cams.max(axis=-1, keepdims=True)
    return (cams >= threshold * peak) & (peak > 0)


def cam_to_segments(cams, threshold=0.5, step_seconds=1.0):
    """Detections of one class's 1-D CAMs.

    Args:
        cams: (T,) one CAM or (B, T) a batch (raw values).
        threshold: fraction in [0, 1] of each CAM's maximum. A CAM whose
            maximum is not positive has no detections.
        step_seconds: seconds per step, a number or (B,) one per video
            (a video of N features at `fps`, sampled to T steps: N / fps / T).

    Returns:
        For (T,): a float64 array (R, 3) of [start_seconds, end_seconds,
        score], score = the run's mean of cam / max(cam) (in [threshold, 1]
        up to the CAM's rounding), in time order. For (B, T): a list of B such arrays.
    """
    array = as_maps(cams, "cams", ranks=(1, 2), axes=1)
    threshold = as_fraction(threshold, "threshold")
    batch = array.reshape(-1, array.shape[-1])
    steps = np.broadcast_to(np.asarray(step_seconds, np.float64), (len(batch),))
    if not (np.isfinite(steps).all() and (steps > 0).all()):
        raise ValueError(
            f"`step_seconds` must be > 0 (one or one per video), got {step_seconds!r}."
        )
    check_finite(batch, "cams")
    out = []
    for raw, step in zip(batch, steps):
        found = runs(above_threshold(raw, threshold))  # the rule, in the CAM's own precision
        cam = raw.astype(np.float64)
        scores = np.array([cam[a:b].mean() / cam.max() for a, b in found])
        out.append(np.column_stack([found * step, scores]).astype(np.float64))
    return out[0] if array.ndim == 1 else out

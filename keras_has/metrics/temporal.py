"""Temporal action localization: mAP at tIoU thresholds (THUMOS14 / ActivityNet).

Per class and threshold: detections sorted by score (highest first), each
matched greedily to the unmatched ground-truth segment of the same video and
class with the highest tIoU, if that tIoU is >= the threshold (a true
positive), else a false positive; AP is the area under the interpolated
precision-recall curve (precision made monotone from the right, summed over
the recall steps, as ActivityNet's `interpolated_prec_rec`). mAP is the mean
over the classes that have ground truth; a class without detections has AP 0.

Ties in score keep the input order (a stable sort). There this differs from
ActivityNet's evaluation, which sorts with NumPy's unstable
``argsort()[::-1]``: later detections first among ties in small inputs, no
defined order in large ones. AP differs only when tied detections of a class
differ in being true positives.
"""

import numpy as np

from keras_has._arguments import as_fractions

TIOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def segment_iou(segment, segments):
    """tIoU of one [start, end] segment with each of (M, 2) `segments`, (M,)."""
    segments = np.asarray(segments, np.float64).reshape(-1, 2)
    start, end = float(segment[0]), float(segment[1])
    inter = np.clip(np.minimum(end, segments[:, 1]) - np.maximum(start, segments[:, 0]), 0, None)
    union = (end - start) + (segments[:, 1] - segments[:, 0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def interpolated_ap(precision, recall):
    """Area under the precision-recall curve with precision interpolated
    (made non-increasing in recall); `precision`, `recall` (K,) in rank order."""
    prec = np.concatenate([[0.0], np.asarray(precision, np.float64), [0.0]])
    rec = np.concatenate([[0.0], np.asarray(recall, np.float64), [1.0]])
    prec = np.maximum.accumulate(prec[::-1])[::-1]
    steps = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return float(np.sum((rec[steps] - rec[steps - 1]) * prec[steps]))


def average_precision(detections, ground_truth, tiou):
    """AP of one class at one tIoU threshold.

    Args:
        detections: iterable of (video, start, end, score); ties in score are
            ranked in this order.
        ground_truth: iterable of (video, start, end).
        tiou: the threshold; a match needs tIoU >= tiou.
    """
    truth = {}
    for video, start, end in ground_truth:
        truth.setdefault(video, []).append((start, end))
    truth = {video: np.asarray(s, np.float64) for video, s in truth.items()}
    total = sum(len(s) for s in truth.values())
    if total == 0:
        raise ValueError(
            "`ground_truth` is empty: AP is undefined for a class without ground truth."
        )
    ranked = sorted(detections, key=lambda d: -float(d[3]))
    used = {video: np.zeros(len(s), bool) for video, s in truth.items()}
    hits = np.zeros(len(ranked))
    for i, (video, start, end, _) in enumerate(ranked):
        if video not in truth:
            continue
        overlap = np.where(used[video], -1.0, segment_iou((start, end), truth[video]))
        best = int(np.argmax(overlap))
        if overlap[best] >= tiou:
            used[video][best] = True
            hits[i] = 1
    true_pos = np.cumsum(hits)
    precision = true_pos / np.arange(1, len(ranked) + 1)
    return interpolated_ap(precision, true_pos / total)


def detection_map(detections, ground_truth, tiou_thresholds=TIOU_THRESHOLDS):
    """mAP of temporal detections at each tIoU threshold, as ActivityNet's but for ties.

    Args:
        detections: iterable of (video, label, start, end, score), seconds;
            ties in score are ranked in this order (a stable sort; ActivityNet's
            order among ties is not defined, see the module docstring).
        ground_truth: iterable of (video, label, start, end), seconds.
        tiou_thresholds: thresholds in (0, 1].

    Returns:
        {"map@0.1": ..., ..., "map_mean": mean over the thresholds,
        "ap": {label: [AP at each threshold]}}; fractions in [0, 1].
    """
    thresholds = as_fractions(tiou_thresholds, "tiou_thresholds", "(]").tolist()
    by_class_truth, by_class_found = {}, {}
    for video, label, start, end in ground_truth:
        if not end > start:
            raise ValueError(f"`ground_truth`: segment ({start}, {end}) of {video!r} is empty.")
        by_class_truth.setdefault(label, []).append((video, start, end))
    if not by_class_truth:
        raise ValueError("`ground_truth` is empty.")
    for video, label, start, end, score in detections:
        by_class_found.setdefault(label, []).append((video, start, end, score))
    ap = {
        label: [average_precision(by_class_found.get(label, []), truth, t) for t in thresholds]
        for label, truth in sorted(by_class_truth.items(), key=lambda item: str(item[0]))
    }
    means = np.mean(list(ap.values()), axis=0)
    out = {f"map@{t:g}": float(m) for t, m in zip(thresholds, means)}
    out["map_mean"] = float(np.mean(means))
    out["ap"] = ap
    return out

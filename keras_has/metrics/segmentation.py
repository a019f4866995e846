"""Semantic segmentation scores from one confusion matrix, streamed over a data set.

`SegmentationMetrics` accumulates ``hist[i, j]``, the pixels of true class i
predicted as j (int64, (N, N)), from class-index maps of any shape, and
computes the scores of FCN's ``score.py`` (Long et al., CVPR 2015) on the
whole data set (not averaged over images):

- pixel accuracy: ``diag.sum() / hist.sum()``;
- mean accuracy: mean over classes of ``diag / hist.sum(1)``, classes absent
  from the ground truth left out;
- mean IoU: mean over classes of ``diag / (hist.sum(1) + hist.sum(0) - diag)``,
  classes absent from both ground truth and predictions left out;
- frequency-weighted IoU: sum over classes of ``freq * iou``, ``freq =
  hist.sum(1) / hist.sum()`` (classes with ``freq > 0``).

Why not `keras.metrics.MeanIoU` alone: it gives mean IoU only (not pixel
accuracy, mean accuracy or frequency-weighted IoU) and keeps its matrix in
float32 TF variables (graph state). Its mean IoU leaves out the same classes
(zero denominator) and agrees with ours. Unlike FCN's ``fast_hist``, labels or
predictions out of range are an error, never silently dropped.
"""

import numpy as np

from keras_has._arguments import as_int

__all__ = ["SegmentationMetrics", "predict_masks", "score"]

_SHOWN = 5  # offending values shown in an error


class SegmentationMetrics:
    """Streaming segmentation scores: `update()` per batch, `result()` at the end.

    Example:

    >>> metrics = SegmentationMetrics(num_classes=21)  # PASCAL VOC, 255 ignored
    >>> for images, labels in dataset:  # labels (B, H, W)
    ...     metrics.update(labels, np.argmax(model(images), axis=-1))
    >>> metrics.result()["mean_iou"]

    Args:
        num_classes: N, the number of classes (an int >= 2); classes are
            0, ..., N - 1.
        ignore_label: the label of pixels left out (void, e.g. VOC's 255), an
            int, or None (no label ignored).

    `result()` returns a dict of Python floats in [0, 1]: ``pixel_accuracy``,
    ``mean_accuracy``, ``mean_iou``, ``fw_iou`` (see the module docstring), and
    ``per_class_iou``, a list of N floats with None for the classes left out
    of the mean IoU (no NaN: results go to JSON). `confusion` is a copy of the
    (N, N) int64 matrix, rows true classes, columns predicted ones.
    """

    def __init__(self, num_classes, ignore_label=255):
        self.num_classes = as_int(num_classes, "num_classes", minimum=2)
        self.ignore_label = as_int(ignore_label, "ignore_label", none=True)
        self.reset()

    def reset(self):
        """Forgets every pixel counted."""
        self._hist = np.zeros((self.num_classes, self.num_classes), np.int64)

    @property
    def confusion(self):
        """A copy of the (N, N) int64 matrix: ``[i, j]`` = pixels of class i predicted as j."""
        return self._hist.copy()

    def update(self, labels, predictions):
        """Counts the pixels of a batch; returns self.

        Args:
            labels: ground-truth class indices, an integer array-like of any
                shape, e.g. (B, H, W) or (H, W); pixels equal to
                `ignore_label` are skipped, others must lie in [0, N).
            predictions: predicted class indices of the same shape (e.g. the
                argmax of the probabilities), in [0, N) everywhere.
        """
        labels = _class_indices(labels, "labels")
        predictions = _class_indices(predictions, "predictions")
        if labels.shape != predictions.shape:
            raise ValueError(
                "`labels` and `predictions` must have the same shape. Received: "
                f"labels.shape={labels.shape}, predictions.shape={predictions.shape}"
            )
        labels, predictions = labels.ravel(), predictions.ravel()
        n = self.num_classes
        _check_range(predictions, n, "predictions")  # everywhere, ignored pixels included
        if self.ignore_label is not None:
            kept = labels != self.ignore_label
            if not kept.all():
                labels, predictions = labels[kept], predictions[kept]
        _check_range(labels, n, "labels", self.ignore_label)
        # In range, so int64 codes < n * n (uint64 + int64 would give float64).
        codes = n * labels.astype(np.int64, copy=False) + predictions.astype(np.int64, copy=False)
        self._hist += np.bincount(codes, minlength=n * n).reshape(n, n)
        return self

    def merge(self, other):
        """Adds the counts of `other` (same num_classes and ignore_label); returns self.

        For accumulation per process or per worker, merged at the end.
        """
        if not isinstance(other, SegmentationMetrics):
            raise TypeError(
                f"`other` must be a SegmentationMetrics. Received: other={type(other).__name__}"
            )
        mine = (self.num_classes, self.ignore_label)
        theirs = (other.num_classes, other.ignore_label)
        if mine != theirs:
            raise ValueError(
                "`other` must have the same num_classes and ignore_label. Received: "
                f"(num_classes, ignore_label)={theirs}, expected {mine}"
            )
        self._hist += other._hist
        return self

    def result(self):
        """The scores (see the class docstring); ValueError if no pixel was counted."""
        hist = self._hist
        total = int(hist.sum())
        if total == 0:
            raise ValueError(
                "Nothing was counted: no update() with a pixel that is not ignored "
                f"(ignore_label={self.ignore_label}). The scores are undefined."
            )
        diag = np.diag(hist)
        truth = hist.sum(1)
        union = truth + hist.sum(0) - diag
        accuracy = diag[truth > 0] / truth[truth > 0]
        iou = np.full(self.num_classes, np.nan)
        np.divide(diag, union, out=iou, where=union > 0)
        present = truth > 0  # freq > 0, hence union > 0
        return {
            "mean_iou": float(np.mean(iou[union > 0])),
            "pixel_accuracy": float(diag.sum() / total),
            "mean_accuracy": float(np.mean(accuracy)),
            # sum(truth * iou) / total: exactly 1.0 for perfect predictions.
            "fw_iou": float(np.sum(truth[present] * iou[present]) / total),
            "per_class_iou": [None if u == 0 else float(v) for u, v in zip(union, iou)],
        }


def predict_masks(model, images):
    """(B, H, W) int32 arg-max class maps of a segmentation `model`'s (B, H, W, N) output."""
    return np.asarray(model.predict_on_batch(images)).argmax(axis=-1).astype(np.int32)


def score(model, batches, num_classes, ignore_label=255):
    """`SegmentationMetrics.result()` of `model` over `batches` (dicts with "image" (B, H, W,
    3) inputs and "mask" (B, H, W) labels; other keys ignored)."""
    metrics = SegmentationMetrics(num_classes, ignore_label)
    for batch in batches:
        metrics.update(np.asarray(batch["mask"]), predict_masks(model, batch["image"]))
    return metrics.result()


def _class_indices(values, name):
    """`values` as a NumPy array of integers; TypeError if they are not integers."""
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"`{name}` must hold integer class indices (e.g. the argmax of the "
            f"probabilities). Received: dtype={array.dtype}"
        )
    return array


def _check_range(values, n, name, ignore_label=None):
    """Raises unless all of `values` (1-D integers) lie in [0, n)."""
    if values.size == 0 or (values.min() >= 0 and values.max() < n):
        return
    bad = np.unique(values[(values < 0) | (values >= n)])
    shown = ", ".join(str(v) for v in bad[:_SHOWN]) + (", ..." if len(bad) > _SHOWN else "")
    ignored = "" if ignore_label is None else f" or the ignore label {ignore_label}"
    raise ValueError(
        f"`{name}` must hold class indices in [0, {n}){ignored}. "
        f"Received: {len(bad)} distinct values out of range: {shown}"
    )

"""Evaluation metrics, one module per task family.

- `localization`: weakly-supervised object localization (Top-1 Loc,
  GT-known Loc, MaxBoxAcc, MaxBoxAccV2, PxAP), streamed over batches.
"""

from keras_has.metrics.localization import LocalizationMetrics, box_iou

__all__ = ["LocalizationMetrics", "box_iou"]

"""Evaluation metrics, one module per task family.

- `localization`: weakly-supervised object localization (Top-1 Loc,
  GT-known Loc, MaxBoxAcc, MaxBoxAccV2, PxAP), streamed over batches.
- `temporal`: temporal action localization (mAP at tIoU thresholds, as
  THUMOS14 / ActivityNet).
"""

from keras_has.metrics.localization import LocalizationMetrics, box_iou
from keras_has.metrics.temporal import detection_map, segment_iou

__all__ = ["LocalizationMetrics", "box_iou", "detection_map", "segment_iou"]

"""Evaluation metrics, one module per task family.

- `localization`: weakly-supervised object localization (Top-1 Loc,
  GT-known Loc, MaxBoxAcc, MaxBoxAccV2, PxAP), streamed over batches.
- `occlusion`: occlusion robustness of classifiers (masks of random grid
  cells or of the top of a CAM, and filling them).
- `retrieval`: person re-identification (CMC rank-k, mAP; Market-1501 protocol).
- `segmentation`: semantic segmentation (pixel accuracy, mean accuracy,
  mean IoU, frequency-weighted IoU) from one streamed confusion matrix.
- `temporal`: temporal action localization (mAP at tIoU thresholds, as
  THUMOS14 / ActivityNet).
"""

from keras_has.metrics import occlusion
from keras_has.metrics.localization import LocalizationMetrics, box_iou
from keras_has.metrics.retrieval import retrieval_scores
from keras_has.metrics.segmentation import SegmentationMetrics
from keras_has.metrics.temporal import detection_map, segment_iou

__all__ = [
    "LocalizationMetrics",
    "SegmentationMetrics",
    "box_iou",
    "detection_map",
    "occlusion",
    "retrieval_scores",
    "segment_iou",
]

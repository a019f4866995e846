"""Class activation maps to boxes, on the host (NumPy and OpenCV).

Conventions (the whole package uses them):

- A box is ``(x_min, y_min, x_max, y_max)`` in pixels, half-open: a box
  covering pixel columns ``a..b`` inclusive has ``x_min = a, x_max = b + 1``.
  Its area is ``(x_max - x_min) * (y_max - y_min)`` and IoU is the plain
  area ratio (no ``+ 1`` anywhere).
- CAMs are at image resolution, ``(B, H, W)``. Each map is min-max
  normalized to [0, 1] before thresholding; a constant map normalizes to all
  zeros.
- The foreground at threshold ``t`` is ``normalized >= t``, compared in
  float32 (`foreground`, the one place the host code applies the rule; the
  in-graph localizer mirrors it). Objects are its 8-connected components.
  An image with no foreground gets the box ``(0, 0, 0, 0)``, whose IoU with
  anything is 0.
- The "largest" component has the most pixels; ties go to the component met
  first in a raster scan (row by row, left to right, by its first pixel).

Modules: `threshold` (normalization and the threshold rule), `components`
(8-connected components of many masks in one OpenCV call), `extraction`
(`cam_to_boxes`, one threshold), `sweep` (`threshold_sweep`, many
thresholds), `iou` (`box_iou`) and `workers` (the thread pool over images).
Their argument checks are the package's (`keras_has._arguments`).
"""

from keras_has._arguments import as_boxes as as_boxes
from keras_has.boxes.components import component_stats
from keras_has.boxes.extraction import cam_to_boxes
from keras_has.boxes.iou import box_iou
from keras_has.boxes.sweep import sweep_normalized as sweep_normalized
from keras_has.boxes.sweep import threshold_sweep
from keras_has.boxes.threshold import foreground, normalize_cams
from keras_has.boxes.workers import default_num_workers as default_num_workers

__all__ = [
    "box_iou",
    "cam_to_boxes",
    "component_stats",
    "foreground",
    "normalize_cams",
    "threshold_sweep",
]

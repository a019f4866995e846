"""Weakly-supervised object localization (WSOL) metrics, streamed.

`LocalizationMetrics` takes batches of CAMs with their ground truth and
keeps only counters: per-threshold hit counts and two histograms, O(number
of CAM thresholds) memory whatever the number of images. The boxes and the
threshold sweep follow `keras_has.boxes` (half-open pixel boxes, min-max
normalized CAMs, foreground ``>= t`` by `keras_has.boxes.foreground`,
8-connected components, largest = most pixels).

The metrics:

- Top-1 Loc and GT-known Loc (Zhou et al. 2016, used by Hide-and-Seek): the
  box of the largest component at one CAM threshold (0.2 for AlexNet-GAP,
  0.3 for GoogLeNet-GAP in the HaS paper) is correct when its IoU with the
  best-matching ground-truth box is >= 0.5 (the HaS paper writes "more than
  50%"; the ILSVRC convention and Choe et al.'s code use >=).
- MaxBoxAcc (Choe et al., CVPR 2020): the same box accuracy at IoU 0.5, at
  the best CAM threshold of the sweep ``np.arange(0, 1, interval)``.
- MaxBoxAccV2 (Choe et al., TPAMI 2022 and the CVPR 2020 code): boxes of
  all components, an image counts when any of them matches any
  ground-truth box; the max over the sweep is averaged over IoU 0.3, 0.5
  and 0.7.
- PxAP (Choe et al.): the area under the pixel precision-recall curve of
  the normalized CAM against ground-truth masks, from histograms over the
  same threshold bins.

Where this differs from Choe et al.'s reference code (wsolevaluation), and
why:

- Components, not contours. Their code calls ``cv2.findContours`` with
  ``RETR_TREE``, which also returns the contours of holes: in the
  multi-contour mode every hole adds a box (inside its component's box).
  The largest is picked by ``cv2.contourArea``, the polygon area through the
  border pixels' centres, which is 0 for lines and single pixels and is
  not the pixel count. Here the objects are the 8-connected components
  (the same objects whose outer contours they trace), each counted once and
  ranked by pixel count: exactly what ``cv2.connectedComponentsWithStats``
  gives, computed faster by `keras_has.boxes.component_stats`.
- Exact thresholds. Their code quantizes the normalized map to uint8
  (``int(255 * s)``) and keeps ``int(255 * s) > int(255 * t)`` (strict ``>``
  of ``cv2.threshold``): slightly fewer pixels than ``s >= t``, and at
  ``t = 0`` not the whole image. Here ``s >= t`` on the float32 map.
- Box convention. Their boxes are inclusive integer corners and IoU adds 1
  to each side; a contour's box is ``(x, y, x + w, y + h)`` clipped to
  ``W - 1, H - 1``, one pixel too wide and tall except at the border, and
  "no foreground" gives ``(0, 0, 0, 0)``, a 1-pixel box. Here boxes are
  half-open, IoU uses plain areas and "no foreground" matches nothing.
  Inclusive integer annotations convert by adding 1 to ``x_max, y_max``.
- Thresholds, the same as theirs: ``np.arange(0, 1, interval)``, in every
  version of their code (``evaluation.py`` and ``inference.py``, January
  2020 to September 2022). Their default interval is 0.001 in training
  (``config.py``) and ``evaluate_wsol``, 0.01 on ``evaluation.py``'s
  command line; 0.01 here.
- PxAP follows their histogram scheme (bins ``[t_k, t_{k+1})`` and
  ``[1, inf)``, precision and recall at each threshold from 1.0 down, AP =
  sum of precision times recall increments); pixels of the `ignore` mask
  that are not foreground are left out, as their OpenImages masks do.
"""

import numpy as np

from keras_has._arguments import as_box_lists, as_fraction, as_fractions, as_maps
from keras_has.boxes import box_iou, normalize_cams
from keras_has.boxes.sweep import sweep_normalized
from keras_has.boxes.workers import check_workers, thread_map

__all__ = ["LocalizationMetrics", "box_iou"]

LOC_IOU = 0.5  # Top-1 Loc, GT-known Loc and MaxBoxAcc


class LocalizationMetrics:
    """Streaming WSOL metrics: `update()` per batch, `result()` at the end.

    Example:

    >>> cam_model = keras_has.CAMModel(classifier, classes="given")
    >>> metrics = LocalizationMetrics(cam_threshold=0.2)
    >>> for images, gt_boxes, labels in dataset:  # boxes padded or a list
    ...     out = cam_model(images, class_ids=labels)  # ground-truth class
    ...     metrics.update(
    ...         out["cams"][..., 0], gt_boxes, labels, out["probabilities"]
    ...     )
    >>> metrics.result()["gt_known_loc"]

    Args:
        cam_threshold: the CAM threshold of Top-1 Loc and GT-known Loc, in
            [0, 1] (0.2 for AlexNet-GAP and 0.3 for GoogLeNet-GAP in HaS).
        iou_thresholds: IoU thresholds of MaxBoxAccV2, in (0, 1]; Choe et
            al.'s (0.3, 0.5, 0.7).
        cam_curve_interval: step of the CAM threshold sweep
            ``np.arange(0, 1, cam_curve_interval)`` (0.01: 100 thresholds).
        num_workers: threads over the images of a batch (None: one per
            core).

    `result()` returns a dict of floats:

    - ``num_images``: images seen.
    - ``top1_cls``: Top-1 classification accuracy.
    - ``top1_loc``: class right AND the box at `cam_threshold` has IoU
      >= 0.5 with its best-matching ground-truth box.
    - ``gt_known_loc``: the box at `cam_threshold` has IoU >= 0.5 (class
      ignored).
    - ``maxboxacc``: Choe et al.'s MaxBoxAcc: box of the largest component,
      IoU >= 0.5, max over the CAM thresholds of the sweep;
      ``maxboxacc_threshold`` is the best CAM threshold.
    - ``maxboxacc_v2``: mean over `iou_thresholds` of
      ``maxboxacc_v2@{100 * iou}`` (e.g. ``maxboxacc_v2@50``): boxes of all
      components, IoU >= iou with some ground-truth box, max over the
      sweep; ``maxboxacc_v2@50_threshold``... the best CAM thresholds.
    - ``pxap``: pixel average precision (Choe et al.), only when `masks`
      were given (NaN when no mask pixel was foreground).

    Ties between CAM thresholds go to the lowest. With no image seen, every
    value is NaN. `curves()` gives the accuracy at each threshold (and the
    pixel precision-recall curve) for plotting.
    """

    def __init__(
        self,
        cam_threshold=0.2,
        iou_thresholds=(0.3, 0.5, 0.7),
        cam_curve_interval=0.01,
        num_workers=None,
    ):
        self.cam_threshold = as_fraction(cam_threshold, "cam_threshold")
        ious = as_fractions(iou_thresholds, "iou_thresholds", "(]").tolist()
        names = [_percent(v) for v in ious]
        if len(set(names)) != len(names):
            raise ValueError(
                "`iou_thresholds` must be distinct in whole percents. "
                f"Received: iou_thresholds={iou_thresholds!r}"
            )
        self.iou_thresholds = tuple(ious)
        self.cam_curve_interval = as_fraction(cam_curve_interval, "cam_curve_interval", "(]")
        self.thresholds = np.arange(0, 1, self.cam_curve_interval)
        check_workers(num_workers)
        self.num_workers = num_workers
        # The IoU thresholds counted: the V2 ones and 0.5 for MaxBoxAcc.
        self._ious = np.array(sorted(set(ious) | {LOC_IOU}))
        # Swept thresholds, then `cam_threshold` (one OpenCV call for all).
        self._sweep = np.r_[self.thresholds, self.cam_threshold]
        # PxAP bins: [t_k, t_{k+1}) for the sweep, then [1, inf).
        self._edges = np.r_[self.thresholds, 1.0].astype(np.float32)
        self.reset()

    def reset(self):
        """Forgets every image seen."""
        count = len(self.thresholds)
        self._images = 0
        self._cls_right = 0
        self._located = 0
        self._both = 0
        self._hits_largest = np.zeros((len(self._ious), count), np.int64)
        self._hits_any = np.zeros((len(self._ious), count), np.int64)
        self._pixels = np.zeros((2, count + 1), np.int64)  # [bg, fg] x bins
        self._with_masks = None

    def update(self, cams, gt_boxes, labels, predictions, masks=None, ignore=None):
        """Adds a batch.

        Args:
            cams: (B, H, W) CAMs of the ground-truth class, at image
                resolution (for Top-1 Loc, the predicted class's map is
                needed only when the prediction is right, and then it is
                this one). Min-max normalized here.
            gt_boxes: a list of B arrays (M_i, 4), or a padded (B, M, 4)
                array; boxes (x_min, y_min, x_max, y_max) half-open, in the
                CAM's pixels. Rows of non-positive area are padding and are
                dropped; each image needs at least one box.
            labels: (B,) ground-truth class ids.
            predictions: (B,) predicted class ids or (B, C) scores (argmax).
            masks: optional (B, H, W) ground-truth foreground masks (bool or
                0/1) for PxAP; give them in every update or in none.
            ignore: optional (B, H, W) bool or 0/1 mask of pixels left out of
                PxAP where not foreground (Choe et al.'s OpenImages ignore
                regions); needs `masks`.
        """
        cams = as_maps(cams, "cams", ranks=(3,))
        batch = len(cams)
        gt = _positive_area(as_box_lists(gt_boxes, batch))
        labels = _class_ids(labels, "labels", batch)
        predicted = _predicted(predictions, batch)
        if ignore is not None and masks is None:
            raise ValueError("`ignore` needs `masks`: it only applies to PxAP.")
        with_masks = masks is not None
        if self._with_masks is not None and with_masks != self._with_masks:
            raise ValueError(
                "`masks` must be given in every update or in none (PxAP "
                f"over a subset of the images is not defined). This update "
                f"{'has' if with_masks else 'has no'} masks, earlier ones "
                f"{'had' if self._with_masks else 'had none'}; call reset() to start over."
            )
        if with_masks:
            masks = _binary_mask(masks, "masks", cams.shape)
            ignore = None if ignore is None else _binary_mask(ignore, "ignore", cams.shape)
        if batch == 0:
            return
        count = len(self.thresholds)
        workers = check_workers(self.num_workers)
        size = max(1, -(-batch // workers))
        chunks = [slice(i, min(i + size, batch)) for i in range(0, batch, size)]

        def measure(chunk):
            # Normalization, sweep and histograms of a chunk of the batch, in
            # one task of the thread pool.
            maps = normalize_cams(cams[chunk])
            largest, every = sweep_normalized(maps, gt[chunk], self._sweep, 1)
            pixels = None
            if with_masks:
                # Bin k holds t_k <= s < t_{k+1} (float32): the foreground at t_k
                # (`keras_has.boxes.foreground`) is exactly bins k and above.
                index = np.searchsorted(self._edges, maps, side="right") - 1
                index += (count + 1) * masks[chunk]
                if ignore is not None:
                    index = index[~(ignore[chunk] & ~masks[chunk])]
                pixels = np.bincount(index.ravel(), minlength=2 * (count + 1))
            return largest, every, pixels

        parts = thread_map(measure, chunks, workers)
        largest = np.concatenate([part[0] for part in parts])
        every = np.concatenate([part[1] for part in parts])
        at_threshold = largest[:, count]
        largest, every = largest[:, :count], every[:, :count]
        ious = self._ious[:, None, None]
        self._hits_largest += (largest[None] >= ious).sum(axis=1)
        self._hits_any += (every[None] >= ious).sum(axis=1)
        right = predicted == labels
        located = at_threshold >= LOC_IOU
        self._images += batch
        self._cls_right += int(right.sum())
        self._located += int(located.sum())
        self._both += int((right & located).sum())
        if with_masks:
            self._pixels += sum(part[2] for part in parts).reshape(2, count + 1)
        self._with_masks = with_masks

    def result(self):
        """The metrics as a dict of floats (see the class docstring)."""
        curves = self.curves()
        images = self._images
        out = {
            "num_images": images,
            "top1_cls": _ratio(self._cls_right, images),
            "top1_loc": _ratio(self._both, images),
            "gt_known_loc": _ratio(self._located, images),
        }
        out["maxboxacc"], out["maxboxacc_threshold"] = self._best(curves["boxacc"][LOC_IOU])
        values = []
        for iou in self.iou_thresholds:
            name = f"maxboxacc_v2@{_percent(iou)}"
            out[name], out[f"{name}_threshold"] = self._best(curves["boxacc_v2"][iou])
            values.append(out[name])
        out["maxboxacc_v2"] = float(np.mean(values))
        if self._with_masks:
            out["pxap"] = curves["pxap"]
        return out

    def _best(self, accuracy):
        """(max accuracy, its lowest CAM threshold), NaNs with no image."""
        if not self._images:
            return float("nan"), float("nan")
        best = int(np.argmax(accuracy))
        # Rounded: np.arange gives thresholds such as 0.6900000000000001.
        return float(accuracy[best]), round(float(self.thresholds[best]), 10)

    def curves(self):
        """Per-threshold curves, for plotting.

        Returns a dict: ``thresholds`` (T,) the CAM threshold sweep;
        ``boxacc`` {iou: (T,)} box accuracy of the largest component at each
        threshold (0.5 and the `iou_thresholds`); ``boxacc_v2`` {iou: (T,)}
        the same with all components. With masks: ``pr_thresholds`` (T + 1,)
        from 1.0 down to 0, ``precision`` and ``recall`` (T + 1,) of the
        pixels at those thresholds, and ``pxap``.
        """
        images = self._images
        scale = 1 / images if images else np.nan
        out = {
            "thresholds": self.thresholds.copy(),
            "boxacc": {float(v): h * scale for v, h in zip(self._ious, self._hits_largest)},
            "boxacc_v2": {float(v): h * scale for v, h in zip(self._ious, self._hits_any)},
        }
        if self._with_masks:
            background, foreground = self._pixels
            true_pos = np.cumsum(foreground[::-1])
            false_pos = np.cumsum(background[::-1])
            kept = true_pos + false_pos
            precision = np.divide(true_pos, kept, out=np.zeros(len(kept)), where=kept > 0)
            positives = true_pos[-1]
            recall = true_pos / positives if positives else np.full(len(kept), np.nan)
            out["pr_thresholds"] = np.r_[1.0, self.thresholds[::-1]]
            out["precision"] = precision
            out["recall"] = recall
            out["pxap"] = (
                float(np.sum(precision * np.diff(recall, prepend=0.0)))
                if positives
                else float("nan")
            )
        return out


def _percent(iou):
    return round(100 * iou)


def _ratio(count, total):
    return count / total if total else float("nan")


def _positive_area(items):
    """The boxes of positive area of each image's (M_i, 4) array (others are padding)."""
    out = []
    for i, item in enumerate(items):
        keep = (item[:, 2] > item[:, 0]) & (item[:, 3] > item[:, 1])
        if not keep.any():
            raise ValueError(
                f"`gt_boxes[{i}]` has no box of positive area (rows of "
                "non-positive area are padding); every image needs a box. "
                f"Received: {item.tolist()}"
            )
        out.append(item[keep])
    return out


def _class_ids(values, name, batch):
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != batch:
        raise ValueError(
            f"`{name}` must have shape ({batch},), one class id per image. "
            f"Received: shape={array.shape}"
        )
    if array.dtype.kind not in "iu":
        raise ValueError(f"`{name}` must hold integer class ids. Received: dtype={array.dtype}")
    return array.astype(np.int64)


def _predicted(predictions, batch):
    array = np.asarray(predictions)
    if array.ndim == 2:
        if array.shape[0] != batch or array.shape[1] == 0:
            raise ValueError(
                f"`predictions` as scores must have shape ({batch}, C). "
                f"Received: shape={array.shape}"
            )
        if array.dtype.kind not in "biuf":
            raise ValueError(f"`predictions` must hold numbers. Received: dtype={array.dtype}")
        return np.argmax(array, axis=1)
    if array.ndim != 1:
        raise ValueError(
            f"`predictions` must be ({batch},) class ids or ({batch}, C) "
            f"scores. Received: shape={array.shape}"
        )
    return _class_ids(array, "predictions", batch)


def _binary_mask(values, name, shape):
    array = np.asarray(values)
    if array.shape != shape:
        raise ValueError(
            f"`{name}` must have the shape of `cams`, {shape}. Received: shape={array.shape}"
        )
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        raise ValueError(f"`{name}` must be bool or hold only 0 and 1.")
    return array.astype(bool)

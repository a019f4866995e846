"""An exportable localizer: image -> (class, score, box, CAM).

The box is computed in the graph (Keras ops, no OpenCV), so the model
exports as a SavedModel with `model.export()`. It follows the same rule as
`keras_has.boxes.cam_to_boxes`, and the tests check that both give the
same boxes: min-max normalize the CAM, keep pixels >= threshold (the rule
of `keras_has.boxes.foreground`, here in Keras ops: `foreground`), take the
largest 8-connected component (ties: the one whose first pixel comes first
in raster order, as OpenCV's labels), box = (x_min, y_min, x_max, y_max)
half-open in pixels, (0, 0, 0, 0) when nothing is kept.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
import keras
from keras import ops

from keras_has._arguments import as_fraction
from keras_has.cam import CAMModel, QuietExport, normalize_maps


class Localizer(QuietExport, keras.Model):
    """`Localizer(classifier)(images)` -> dict of the top-1 class's localization.

    Outputs: "class" (B,) int32, "score" (B,) its probability, "box" (B, 4)
    float32 (x_min, y_min, x_max, y_max) half-open pixels, "cam" (B, H, W)
    float32 CAM at image resolution.

    Args:
        classifiers: a classifier, a list of them (ensemble), or a
            `CAMModel` with `classes=1`.
        threshold: fraction of the CAM's (min-max normalized) max kept as
            foreground (paper: 0.2 for AlexNet-GAP, 0.3 for GoogLeNet-GAP).
        input_range: None (no check), or the (low, high) range the
            classifiers expect, e.g. (-1, 1): eager calls on images reaching
            beyond it by more than its width (0-255 pixels for (-1, 1)) warn
            once, naming `zoo.preprocess` (see `CAMModel`).
        **cam_kwargs: `CAMModel` arguments (`crop_size` for 10-crop
            averaging, `features_layer`, `dense_layer`, ...).

    `export(path)` writes a SavedModel (signature "serve"), quietly unless
    `verbose=True`; `get_config()` holds the arguments besides the
    classifiers, which save on their own.
    """

    def __init__(self, classifiers, threshold=0.2, input_range=None, **cam_kwargs):
        name = cam_kwargs.pop("name", None)
        super().__init__(name=name)
        threshold = as_fraction(threshold, "threshold")
        if isinstance(classifiers, CAMModel):
            if (
                cam_kwargs
                or input_range is not None
                or classifiers.classes != 1
                or not classifiers.resize
            ):
                raise ValueError(
                    "A `CAMModel` given to Localizer must have classes=1 and "
                    "resize=True, and takes no further arguments (give it `input_range`)."
                )
            self.cam_model = classifiers
        else:
            self.cam_model = CAMModel(classifiers, classes=1, input_range=input_range, **cam_kwargs)
        self.threshold = threshold

    def get_config(self):
        crops = self.cam_model.crops
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "input_range": self.cam_model.input_range,
            "crop_size": None if crops is None else crops.size,
        }

    def call(self, images):
        out = self.cam_model(images)
        cam = out["cams"][..., 0]
        return {
            "class": out["class_ids"][:, 0],
            "score": out["scores"][:, 0],
            "box": largest_component_boxes(cam, self.threshold),
            "cam": cam,
        }


def largest_component_boxes(cams, threshold):
    """Boxes of the largest component of each thresholded map.

    Args:
        cams: (B, H, W) maps, any scale.
        threshold: fraction in [0, 1] of the normalized map.

    Returns:
        (B, 4) float32 (x_min, y_min, x_max, y_max), half-open pixels.
    """
    height, width = cams.shape[1:]
    mask = foreground(cams, threshold)
    labels = component_labels(mask)
    size = height * width
    batch = ops.shape(labels)[0]
    ids = ops.cast(labels, "int32") + (size + 1) * ops.arange(batch, dtype="int32")[:, None, None]
    areas = ops.segment_sum(
        ops.reshape(ops.cast(mask, "int32"), (-1,)),
        ops.reshape(ids, (-1,)),
        num_segments=batch * (size + 1),
    )
    areas = ops.reshape(areas, (-1, size + 1))
    largest = ops.max(areas, axis=1, keepdims=True)
    # Label L was first seen at raster index size - L: the highest label among
    # the largest is the first in raster order.
    candidates = (areas == largest) & (largest > 0)
    best = ops.max(ops.where(candidates, ops.arange(size + 1), 0), axis=1)
    inside = (labels == ops.cast(best, labels.dtype)[:, None, None]) & mask
    x_min, x_max = _extent(ops.any(inside, axis=1), width)
    y_min, y_max = _extent(ops.any(inside, axis=2), height)
    return ops.stack([x_min, y_min, x_max, y_max], axis=1)


def foreground(cams, threshold):
    """The CAM threshold rule of `keras_has.boxes.foreground`, in Keras ops.

    (B, H, W) bool: each map min-max normalized (`normalize_maps`, float32) >= `threshold`,
    compared in float32.
    """
    normalized = normalize_maps(ops.cast(cams, "float32")[..., None])[..., 0]
    return normalized >= ops.cast(threshold, "float32")


def _extent(present, length):
    """(B, L) occupancy -> (first, last + 1) as float32, (0, 0) if empty."""
    index = ops.arange(length, dtype="float32")
    first = ops.min(ops.where(present, index, float(length)), axis=1)
    end = ops.max(ops.where(present, index + 1, 0.0), axis=1)
    return ops.where(end > 0, first, 0.0), end


def component_labels(mask):
    """8-connected component labels of (B, H, W) boolean masks.

    Each component gets H * W - (raster index of its first pixel), so labels
    are unique per image; background is 0. Labels spread by whole row and
    column runs, then to diagonal neighbours, until nothing changes (a few
    rounds for blob-like shapes).
    """
    height, width = mask.shape[1:]
    if height * width >= 2**24:
        raise ValueError(f"Maps of {height}x{width} are too large (labels are float32).")
    first = height * width - ops.arange(height * width, dtype="float32")
    labels = ops.where(mask, ops.reshape(first, (height, width)), 0.0)
    transposed = ops.transpose(mask, (0, 2, 1))

    def spread(labels, _):
        new = _run_max(labels, mask)
        new = ops.transpose(_run_max(ops.transpose(new, (0, 2, 1)), transposed), (0, 2, 1))
        pooled = ops.max_pool(new[..., None], 3, strides=1, padding="same")[..., 0]
        new = ops.where(mask, pooled, 0.0)
        return new, ops.any(new != labels)

    labels, _ = ops.while_loop(
        lambda _, changed: changed, spread, (labels, ops.convert_to_tensor(True))
    )
    return labels


def _run_max(labels, mask):
    """Max of `labels` over each horizontal run of `mask`, (B, H, W)."""
    left = ops.pad(mask[:, :, :-1], [(0, 0), (0, 0), (1, 0)])
    starts = ops.reshape(~(mask & left), (-1,))
    segments = ops.cumsum(ops.cast(starts, "int32")) - 1
    flat = ops.reshape(labels, (-1,))
    run_max = ops.segment_max(flat, segments, num_segments=ops.shape(flat)[0])
    return ops.reshape(ops.take(run_max, segments), ops.shape(labels))

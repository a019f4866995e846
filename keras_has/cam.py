"""Class activation maps (CAM, Zhou et al. 2016; Eq. 1 of the HaS paper).

For a classifier that ends in conv features F (B, h, w, K) -> global
pooling -> dense W (K, C) -> softmax, CAM(c) = sum_k W[k, c] F_k, a 1x1
convolution of the features with the dense kernel (a matmul over the channel
axis, all classes at once). `CAMModel` returns probabilities and CAMs in one
forward pass, for every class, the top-k or given classes, optionally
averaged over 10 crops and over several models.

Sequence classifiers (B, T, D) -> features (B, T', K) -> GlobalAverage/
MaxPooling1D -> dense (Sec. 3.2, `zoo.temporal_cam_net`) give 1-D CAMs
(B, T', n), one value per step.
"""

import warnings

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
import keras
import numpy as np
from keras import ops

from keras_has import crops as crops_lib
from keras_has._arguments import is_int, is_number

_POOLING_2D = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)
_POOLING_1D = (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalMaxPooling1D)


def find_cam_layers(classifier, features_layer=None, dense_layer=None):
    """The feature tensor and dense layer that define `classifier`'s CAMs.

    Args:
        classifier: a built functional or Sequential `keras.Model` ending in
            conv features -> global pooling (2-D or 1-D) -> dense (-> softmax).
        features_layer: name of the layer whose output is F; by default the
            input of the last global pooling layer.
        dense_layer: name of the dense layer whose kernel is W; by default the
            only `Dense` after that pooling layer.

    Returns:
        (extractor, dense, channels_first): `extractor` maps the classifier's
        input to [probabilities (B, C), features]; `dense` is the layer.
    """
    layers = _flat_layers(classifier)
    pooling = _POOLING_2D + _POOLING_1D
    pool = next((la for la in reversed(layers) if isinstance(la, pooling)), None)
    if features_layer is not None:
        features = _layer(classifier, layers, features_layer, "features_layer").output
    elif pool is None:
        raise ValueError(
            "`classifier` has no GlobalAveragePooling or GlobalMaxPooling (2D "
            "or 1D) layer; pass `features_layer=` and `dense_layer=` by name."
        )
    else:
        features = pool.input
    if dense_layer is not None:
        dense = _layer(classifier, layers, dense_layer, "dense_layer")
    else:
        after = layers[layers.index(pool) + 1 :] if pool is not None else layers
        denses = [la for la in after if isinstance(la, keras.layers.Dense)]
        if len(denses) != 1:
            raise ValueError(
                f"Expected exactly one Dense layer after the pooling layer of "
                f"`classifier`, found {len(denses)}; pass `dense_layer=` by name."
            )
        dense = denses[0]
    channels_first = pool is not None and pool.data_format == "channels_first"
    channels = features.shape[1 if channels_first else -1]
    if len(features.shape) not in (3, 4) or dense.kernel.shape[0] != channels:
        raise ValueError(
            f"The features {tuple(features.shape)} and the kernel of "
            f"`dense_layer` '{dense.name}' {tuple(dense.kernel.shape)} do not "
            f"match: expected 4-D (B, h, w, K) or 3-D (B, T, K) features with "
            f"K = kernel.shape[0] channels."
        )
    outputs = classifier.outputs
    if len(outputs) != 1:
        raise ValueError(f"`classifier` must have one output, got {len(outputs)}.")
    inputs = classifier.inputs[0] if len(classifier.inputs) == 1 else classifier.inputs
    extractor = keras.Model(inputs, [outputs[0], features])
    return extractor, dense, channels_first


def _flat_layers(model):
    """Layers of `model` in order, nested models expanded."""
    out = []
    for layer in model.layers:
        out.extend(_flat_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def _layer(model, layers, name, argument):
    for layer in layers:
        if layer.name == name:
            return layer
    raise ValueError(f"`{argument}`: no layer named '{name}' in '{model.name}'.")


def class_maps(features, kernel, class_ids=None):
    """CAMs as a 1x1 convolution of `features` with the dense `kernel`.

    Args:
        features: (B, h, w, K), or (B, T, K) for sequences.
        kernel: (K, C) dense kernel.
        class_ids: None for all classes, or (B, n) int class ids.

    Returns:
        (B, h, w, C) or (B, h, w, n) float32 maps (no bias: Eq. 1); (B, T, .)
        for sequences.
    """
    features = ops.cast(features, "float32")
    kernel = ops.cast(kernel, "float32")
    where = "hw"[: len(features.shape) - 2]
    if class_ids is None:
        return ops.einsum(f"b{where}k,kc->b{where}c", features, kernel)
    weights = ops.take(ops.transpose(kernel), class_ids, axis=0)  # (B, n, K)
    return ops.einsum(f"b{where}k,bnk->b{where}n", features, weights)


def normalize_maps(maps):
    """Min-max normalize each map of (B, h, w, n) or (B, T, n) to [0, 1].

    A constant map becomes zeros.
    """
    axes = tuple(range(1, len(maps.shape) - 1))
    low = ops.min(maps, axis=axes, keepdims=True)
    span = ops.max(maps, axis=axes, keepdims=True) - low
    return ops.where(span > 0, (maps - low) / ops.where(span > 0, span, 1.0), 0.0)


def check_input_range(input_range):
    """`input_range` as a (low, high) tuple of floats, or None; ValueError if bad."""
    if input_range is None:
        return None
    values = tuple(input_range) if isinstance(input_range, (tuple, list)) else ()
    if not (
        len(values) == 2
        and all(is_number(v) and np.isfinite(v) for v in values)
        and values[0] < values[1]
    ):
        raise ValueError(
            "`input_range` must be None or (low, high), finite numbers with low < high, "
            f"got {input_range!r}."
        )
    return float(values[0]), float(values[1])


def _is_eager(x):
    """Whether backend tensor `x` holds values now, not a graph's placeholder."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return hasattr(x, "numpy")  # graph tensors have no values
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "torch":
        return x.device.type != "meta"  # Keras traces shapes on "meta"
    return True


class QuietExport:
    """`export` without Keras's list of every captured tensor, unless asked."""

    def export(self, filepath, format="tf_saved_model", verbose=False, **kwargs):
        """`keras.Model.export`, with `verbose=False` by default."""
        return super().export(filepath, format=format, verbose=verbose, **kwargs)


class CAMModel(QuietExport, keras.Model):
    """Probabilities and CAMs of one classifier or an ensemble, in one pass.

    `CAMModel(classifier)(images)` returns a dict:
      - "probabilities": (B, C) softmax output, averaged over crops/models;
      - "class_ids": (B, n) int32 classes of the maps (highest first);
      - "scores": (B, n) their probabilities;
      - "cams": (B, H, W, n) float32 CAMs at the image's resolution
        (bilinear upsampling), or at the features' (h, w) with `resize=False`;
        for sequence classifiers (B, T', n) at the features' length (T' = T
        for pointwise networks such as `zoo.temporal_cam_net`).

    Args:
        classifiers: a classifier or a list of them (an ensemble, as the ICCV
            paper's: CAMs and probabilities averaged). Members' CAMs are
            min-max normalized per map before averaging, since different
            networks' maps have different scales; one model's maps are the
            raw Eq. 1 values.
        classes: "all" (n = C), an int k (the top-k classes), or "given"
            (call with `class_ids` (B,) or (B, n)).
        crop_size: None, or (height, width) / int of the 10 crops (4 corners,
            centre and their horizontal flips) whose probabilities and CAMs
            are averaged, maps pasted back into image coordinates. Images
            larger than twice the crop on a side are first resized to at most
            twice the crop (bilinear; see `crops.TenCrop`), so that the crops
            cover every pixel, and the CAMs are resized back to the image.
        extra_classifiers: models that only vote on probabilities (the ICCV
            ensemble adds AlexNet-GAP's probabilities to four HaS models').
        features_layer, dense_layer: layer names, when the layers cannot be
            found automatically (see `find_cam_layers`); one name for all.
        resize: upsample the CAMs to the image (default) or keep (h, w);
            ensembles and crops need True.
        input_range: None (no check), or the (low, high) range of the
            classifiers' inputs, e.g. (-1, 1). Called eagerly on values (NumPy
            or eager tensors; never inside a graph), images reaching beyond it
            by more than its width (0-255 pixels for (-1, 1)) give one warning.

    `get_config()` holds the arguments besides the classifiers, which save on
    their own; `export()` is quiet unless `verbose=True`.
    """

    def __init__(
        self,
        classifiers,
        classes=1,
        crop_size=None,
        extra_classifiers=(),
        features_layer=None,
        dense_layer=None,
        resize=True,
        input_range=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_range = check_input_range(input_range)
        self._range_warned = False
        members = classifiers if isinstance(classifiers, (list, tuple)) else [classifiers]
        if not members or not all(isinstance(m, keras.Model) for m in members):
            raise ValueError(
                f"`classifiers` must be a keras.Model or a non-empty list of them, "
                f"got {classifiers!r}."
            )
        named = isinstance(classes, str) and classes in ("all", "given")
        if not (named or (is_int(classes) and classes >= 1)):
            raise ValueError(
                f"`classes` must be 'all', 'given' or a positive int (top-k), got {classes!r}."
            )
        if not resize and (len(members) > 1 or crop_size is not None):
            raise ValueError("`resize=False` needs one classifier and no `crop_size`.")
        found = [find_cam_layers(m, features_layer, dense_layer) for m in members]
        self.extractors = [f[0] for f in found]
        self.denses = [f[1] for f in found]
        self._channels_first = [f[2] for f in found]
        if crop_size is not None and any(self._channels_first):
            raise ValueError("`crop_size` needs channels_last classifiers.")
        sequences = [len(e.outputs[1].shape) == 3 for e in self.extractors]
        if crop_size is not None and any(sequences):
            raise ValueError("`crop_size` is for images; sequence classifiers take none.")
        self.crops = None if crop_size is None else crops_lib.TenCrop(crop_size)
        for extractor in self.extractors if self.crops else ():
            size = tuple(extractor.inputs[0].shape[1:3])
            if size != self.crops.size and size != (None, None):
                raise ValueError(
                    f"`crop_size` {self.crops.size} must be the classifiers' input "
                    f"size, got a classifier taking {size}."
                )
        self.extra_classifiers = list(extra_classifiers)
        self.classes = classes if named else int(classes)
        self.resize = resize

    def get_config(self):
        return {
            **super().get_config(),
            "classes": self.classes,
            "crop_size": None if self.crops is None else self.crops.size,
            "resize": self.resize,
            "input_range": self.input_range,
        }

    def call(self, images, class_ids=None):
        if (class_ids is None) != (self.classes != "given"):
            raise ValueError(
                "`class_ids` must be given exactly when `classes='given'` "
                f"(classes={self.classes!r})."
            )
        if self.input_range is not None and not self._range_warned:
            self._check_range(images)
        views = images if self.crops is None else self.crops.views(images)
        outputs = [e(views, training=False) for e in self.extractors]
        votes = [p for p, _ in outputs]
        votes += [m(views, training=False) for m in self.extra_classifiers]
        probabilities = sum(ops.cast(p, "float32") for p in votes) / len(votes)
        if self.crops is not None:
            probabilities = self.crops.average(probabilities)
        ids = self._class_ids(probabilities, class_ids)
        maps = [
            self._maps(features, dense, channels_first, ids, images)
            for (_, features), dense, channels_first in zip(
                outputs, self.denses, self._channels_first
            )
        ]
        cams = maps[0] if len(maps) == 1 else sum(map(normalize_maps, maps)) / len(maps)
        scores = probabilities if ids is None else ops.take_along_axis(probabilities, ids, axis=-1)
        if ids is None:
            ids = ops.broadcast_to(
                ops.arange(ops.shape(probabilities)[-1], dtype="int32"),
                ops.shape(probabilities),
            )
        return {
            "probabilities": probabilities,
            "class_ids": ids,
            "scores": scores,
            "cams": cams,
        }

    def _check_range(self, images):
        """Warns once if eager `images` reach far beyond `input_range`."""
        if not _is_eager(images) or 0 in images.shape:
            return
        low, high = self.input_range
        found = [float(f(images)) for f in (ops.min, ops.max)]
        if found[0] < low - (high - low) or found[1] > high + (high - low):
            self._range_warned = True
            warnings.warn(
                f"Images range over [{found[0]:g}, {found[1]:g}], far outside "
                f"`input_range` ({low:g}, {high:g}) of the classifiers: preprocess them "
                "as in training (`zoo.preprocess`); CAMs and boxes of such inputs are "
                "meaningless.",
                stacklevel=2,
            )

    def _class_ids(self, probabilities, class_ids):
        if self.classes == "all":
            return None
        if self.classes == "given":
            class_ids = ops.cast(class_ids, "int32")
            return class_ids[:, None] if len(class_ids.shape) == 1 else class_ids
        return ops.cast(ops.top_k(probabilities, self.classes)[1], "int32")

    def _maps(self, features, dense, channels_first, ids, images):
        sequence = len(features.shape) == 3
        if channels_first:
            features = ops.transpose(features, (0, 2, 1) if sequence else (0, 2, 3, 1))
        if self.crops is not None:
            ids = self.crops.repeat(ids)
        maps = class_maps(features, dense.kernel, ids)
        if sequence or not self.resize:
            return maps
        if self.crops is not None:
            return self.crops.paste(maps, images)
        return ops.image.resize(maps, _spatial(images, channels_first))


def _spatial(images, channels_first):
    size = tuple(images.shape[2:4] if channels_first else images.shape[1:3])
    if None in size:
        raise ValueError(
            f"Upsampling CAMs needs images of a static size, got {tuple(images.shape)}; "
            "build the classifier with a fixed input size or pass `resize=False`."
        )
    return size

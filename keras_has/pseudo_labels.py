"""Pseudo ground truth for weakly-supervised semantic segmentation, from the CAMs of a
multi-label classifier trained with image-level labels only (Sec. 4.4 of the extended paper:
DCSP's pseudo-labels; Kolesnikov & Lampert's and Ahn & Kwak's background threshold).

For each training image, the CAM of each class present in it (its image-level labels) is
scaled by its maximum over the image (ReLU first: negative evidence is none), the background
gets the constant score `background`, and each pixel takes the arg-max: a class where its
scaled CAM reaches the threshold and beats the others, else background. Classes absent from
the image never appear. No dense CRF refines them: the CRF packages on the package index
(pydensecrf 1.0rc3, 2018; its forks) are unmaintained C++ sources that build with Cython,
not a well-kept library to depend on; say so rather than vendor one.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import numpy as np

from keras_has._arguments import as_fraction


def from_cams(cams, labels, background=0.3):
    """Pseudo-labels of CAMs.

    Args:
        cams: (B, H, W, C) float CAMs of all C object classes (`CAMModel(classes="all")`).
        labels: (B, C) multi-hot image-level labels (the classes present).
        background: the background's score in [0, 1): pixels where no present class's
            max-scaled CAM reaches it are background.

    Returns:
        (B, H, W) uint8 class-index maps: 0 background, c + 1 for object class c.
    """
    background = as_fraction(background, "background", ends="[)")
    cams = np.asarray(cams, np.float32)
    labels = np.asarray(labels)
    if cams.ndim != 4 or labels.shape != (cams.shape[0], cams.shape[-1]):
        raise ValueError(
            "`cams` must be (B, H, W, C) and `labels` (B, C) of the same B and C. Received: "
            f"cams.shape={cams.shape}, labels.shape={labels.shape}"
        )
    positive = np.maximum(cams, 0.0)
    peaks = positive.max(axis=(1, 2), keepdims=True)
    scaled = np.divide(positive, peaks, out=np.zeros_like(positive), where=peaks > 0)
    scaled = np.where(labels[:, None, None, :] > 0, scaled, -1.0)  # absent classes never win
    scores = np.concatenate([np.full(scaled.shape[:3] + (1,), background, np.float32), scaled], -1)
    return scores.argmax(axis=-1).astype(np.uint8)


def of_source(cam_model, source, stats, background=0.3, sweep=(), batch_size=1):
    """A segmentation source whose masks are pseudo-labels, and their quality.

    Args:
        cam_model: a `keras_has.CAMModel` with classes="all" of the multi-label classifier.
        source: a segmentation source (`keras_has.data.segmentation`): dicts "image" uint8
            (H, W, 3), "labels" (C,) (given to the pseudo-labels), "mask" (H, W) (the truth,
            read only to score them; 255 ignored).
        stats: (mean, std) pixels of the classifier's input normalization.
        background: the pseudo-labels' background score (`from_cams`).
        sweep: more background scores at which the pseudo-labels are scored.
        batch_size: images per CAM batch (1 for images of different sizes).

    Returns:
        (source, scores): the source with "mask" replaced by the pseudo-labels (in order), and
        {"pseudo_mean_iou", "pseudo_pixel_accuracy"} at `background`, with
        "pseudo_best_mean_iou" and "pseudo_best_background" over `background` and `sweep`.
    """
    import tensorflow as tf

    from keras_has.data.classification import normalize
    from keras_has.metrics.segmentation import SegmentationMetrics

    scores = {}
    pseudo = []
    for batch in source.batch(batch_size):
        cams = np.asarray(cam_model(normalize(batch["image"], stats))["cams"])
        labels = batch["labels"].numpy()
        for value in dict.fromkeys((background, *sweep)):  # each once, `background` first
            maps = from_cams(cams, labels, value)
            scores.setdefault(value, SegmentationMetrics(labels.shape[-1] + 1))
            scores[value].update(batch["mask"].numpy(), maps)
            if value == background:
                pseudo.extend(maps)
    results = {value: metrics.result() for value, metrics in scores.items()}
    best = max(results, key=lambda value: results[value]["mean_iou"])
    if len({m.shape for m in pseudo}) == 1:
        masks = tf.data.Dataset.from_tensor_slices(np.stack(pseudo))
    else:
        masks = tf.data.Dataset.from_generator(
            lambda: iter(pseudo), output_signature=tf.TensorSpec((None, None), tf.uint8)
        )
    labelled = tf.data.Dataset.zip(source, masks).map(lambda ex, mask: {**ex, "mask": mask})
    return labelled, {
        "pseudo_mean_iou": results[background]["mean_iou"],
        "pseudo_pixel_accuracy": results[background]["pixel_accuracy"],
        "pseudo_best_mean_iou": results[best]["mean_iou"],
        "pseudo_best_background": best,
    }

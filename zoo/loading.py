"""Ready models from presets or files: `load_classifier`, `load` (a localizer), `preprocess`.

Input contract of a preset: RGB images (B, H, W, 3) with 0..255 pixels
mapped linearly onto its `input_range` ((-1, 1) for the project's models,
`keras_has.data.pipeline.normalize`); `preprocess(images, preset)` resizes
them to its `image_size` and maps them.
"""

import os
import re
from pathlib import Path

import numpy as np

from . import files, registry


def load_classifier(name_or_path, builder=None, sha256=None, **config):
    """Loads a zoo classifier: a preset, or a `.keras` / `.weights.h5` file.

    Args:
        name_or_path: a preset name "model.tag" (`list_presets()`; its file
            is downloaded if a URL and checked against its sha256 before
            loading), or the path of the user's own `.keras` model or
            `.weights.h5` weights.
        builder: `.weights.h5` files only: a registered model name or a
            builder callable that rebuilds the model the weights came from.
        sha256: files only: None, or the SHA-256 (64 hex digits) the file
            must have, checked before loading.
        **config: the builder's keyword arguments; for a preset they
            override its config where no weight depends on them:
            `input_shape` (spatial axes, e.g. `(None, None, 3)`), `pooling`, `has`.

    Returns:
        The `keras.Model`, images (B, H, W, C) -> probabilities (B, N).

    Raises:
        FileNotFoundError: no such preset or file.
        ValueError: a bad argument, a sha256 mismatch, a file that is not
            what its suffix says or is damaged, weights that do not fit the
            builder's model, or non-finite weights after loading.
    """
    preset = registry.PRESETS.get(name_or_path) if isinstance(name_or_path, str) else None
    if preset is not None:
        for argument, value in (("builder", builder), ("sha256", sha256)):
            if value is not None:
                raise ValueError(
                    f"{preset.name!r} is a preset, which names its model and sha256; do not "
                    f"pass `{argument}`. Received: {argument}={value!r}"
                )
        return registry.build(preset.model, weights=preset.name, **config)
    if sha256 is not None and not (
        isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha256)
    ):
        raise ValueError(f"`sha256` must be None or 64 hex digits. Received: sha256={sha256!r}")
    path = Path(os.fspath(name_or_path))
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is neither a preset (presets: {registry.list_presets()}) nor an existing file."
        )
    if not path.name.endswith((".keras", ".weights.h5")):
        raise ValueError(
            "`name_or_path` must be a preset name, a .keras or a .weights.h5 file; "
            f"{path} has neither suffix{files.SUFFIX_HINTS[files.kind(path)]}. Received: "
            f"name_or_path={name_or_path!r}"
        )
    if path.name.endswith(".keras") and (builder is not None or config):
        raise ValueError(
            "A .keras file holds its own architecture; `builder` and "
            f"builder kwargs do not apply. Received: builder={builder!r}, "
            f"config={config!r}"
        )
    if path.name.endswith(".weights.h5") and builder is None:
        raise ValueError(
            f"{path} holds weights only: pass `builder` (one of {registry.list_models()} or a "
            "callable) and its kwargs, as the model was built."
        )
    if sha256 is not None:
        files.check_sha256(path, sha256.lower(), "The file is damaged or not the one you meant.")
    if path.name.endswith(".keras"):
        return files.load_model(path)
    if isinstance(builder, str):
        builder = registry.lookup(registry.MODELS, builder, "builder", "models")
    elif not callable(builder):
        raise TypeError(f"`builder` must be a model name or a callable. Received: {builder!r}")
    built_by = f"{getattr(builder, '__name__', builder)}({config})"
    return files.load_weights(builder(**config), path, built_by)


def load(name_or_path, threshold=None, crop_size=None, builder=None, sha256=None, **config):
    """A ready localizer: `keras_has.Localizer` on `load_classifier(...)`.

    A preset's localizer gets its `cam_threshold` and `input_range` (raw
    0..255 pixels then trigger a warning pointing to `zoo.preprocess`). The
    shipped presets ("googlenet_gap.has_builtin", "googlenet_gap.baseline_builtin")
    take 136x136 images (any size runs; their README figures are 10-crop,
    `crop_size=128`) of the 8 animal classes of `keras_has.data.synthetic`,
    ids 0..7, named in the preset's `class_names` by head colour. A user's
    file takes what it was trained on.

    Args:
        name_or_path, builder, sha256, **config: as `load_classifier`.
        threshold: fraction of the CAM max kept; by default the preset's
            `cam_threshold`, or the paper's AlexNet value 0.2 for a file.
        crop_size: None, or the classifier's input size for 10-crop averaging
            (images then come larger, e.g. 256 for 224 crops).

    Returns:
        `keras_has.Localizer`: images -> {"class", "score", "box", "cam"}.
    """
    from keras_has.localizer import Localizer

    preset = registry.PRESETS.get(name_or_path) if isinstance(name_or_path, str) else None
    if threshold is None:
        threshold = preset.cam_threshold if preset is not None else 0.2
    classifier = load_classifier(name_or_path, builder=builder, sha256=sha256, **config)
    known = {} if preset is None else {"input_range": preset.input_range}  # a file's is unknown
    return Localizer(classifier, threshold=threshold, crop_size=crop_size, **known)


def preprocess(images, name):
    """0..255 RGB images of any size -> what the preset `name` takes.

    Resizes to the preset's `image_size` square as its evaluation does
    (`keras_has.data.pipeline.resize`: bilinear with antialiasing, rounded
    to 0..255), then maps 0..255 linearly onto its `input_range` ((-1, 1):
    exactly `keras_has.data.pipeline.normalize`).

    Args:
        images: uint8 or 0..255 numbers, (H, W, 3) or (B, H, W, 3), or a
            list of (H_i, W_i, 3) images of different sizes.
        name: a preset name whose preset has an `image_size` S.

    Returns:
        float32 NumPy (S, S, 3) for one image, else (B, S, S, 3).
    """
    from keras_has.data import pipeline

    preset = registry.PRESETS.get(name) if isinstance(name, str) else None
    if preset is None or preset.image_size is None:
        sized = sorted(n for n, p in registry.PRESETS.items() if p.image_size is not None)
        raise ValueError(
            f"`name` must be a preset name with an image size, one of {sized}. "
            f"Received: name={name!r}"
        )
    if isinstance(images, (list, tuple)) and images and all(np.ndim(i) == 3 for i in images):
        return np.stack([preprocess(image, name) for image in images])
    array = _check_pixels(images)
    resized = pipeline.resize(
        {"image": array, "boxes": np.zeros((0, 4), np.float32)}, preset.image_size
    )
    low, high = preset.input_range
    # x / 127.5 + -1.0 for (-1, 1): the same float32 operations as pipeline.normalize.
    return np.asarray(resized["image"], np.float32) / np.float32(255 / (high - low)) + np.float32(
        low
    )


def _check_pixels(images):
    """`images` as an array (H, W, 3) or (B, H, W, 3) of 0..255 numbers, or ValueError."""
    array = np.asarray(images)
    if array.ndim not in (3, 4) or array.shape[-1] != 3 or 0 in array.shape:
        raise ValueError(
            "`images` must be RGB (H, W, 3) or (B, H, W, 3), channels last. Received shape "
            f"{array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"`images` must be uint8 or 0..255 numbers. Received dtype {array.dtype}")
    low, high = float(array.min()), float(array.max())
    if not (0 <= low and high <= 255):
        raise ValueError(
            f"`images` must be 0..255 pixels; received values in [{low}, {high}] (already "
            "normalized?)."
        )
    if np.issubdtype(array.dtype, np.floating) and 0 < high <= 1:
        raise ValueError(
            f"`images` must be 0..255 pixels; received floats in [{low}, {high}], which look "
            "scaled to [0, 1]: multiply them by 255."
        )
    return array

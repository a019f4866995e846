"""Registry of trained zoo weights, checked by sha256 before loading.

An entry names a `.weights.h5` file (relative to the package folder
`zoo/weights/`, absolute, or an https URL downloaded once into the Keras
cache), its sha256, the builder and config that rebuild the model, and the
CAM threshold the paper uses with it. `register` adds an entry; the
project's own weights are registered at the end of this module.
"""

import dataclasses
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import keras

from zoo.builders import BUILDERS

WEIGHTS_DIR = Path(__file__).parent / "weights"
CACHE_DIR = None  # get_file's default: the Keras home, ~/.keras.
CACHE_SUBDIR = "keras_has"
REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One set of registered weights.

    Attributes:
        name: the registry key.
        file: a `.weights.h5` path relative to `zoo/weights/`, an absolute
            path (str or path-like), or an https URL.
        sha256: the file's SHA-256, 64 hex digits.
        builder: a name in `zoo.BUILDERS`.
        config: the builder's keyword arguments (`num_classes`, ...).
        cam_threshold: the fraction of the CAM's maximum that separates
            foreground from background (paper: 0.2 AlexNet, 0.3 GoogLeNet).
    """

    name: str
    file: str
    sha256: str
    builder: str
    config: dict = dataclasses.field(default_factory=dict)
    cam_threshold: float = 0.2

    def __post_init__(self):
        object.__setattr__(self, "file", os.fspath(self.file))  # Paths too.


def register(entry):
    """Adds `entry` (an `Entry`) to `REGISTRY`; returns it."""
    if not isinstance(entry, Entry):
        raise TypeError(f"`entry` must be a zoo.weights.Entry. Received: {entry!r}")
    problems = [
        (not entry.name or not isinstance(entry.name, str), "name: a non-empty str"),
        (
            isinstance(entry.name, str) and entry.name in REGISTRY,
            f"name: not registered yet ({entry.name!r} is)",
        ),
        (
            not entry.file.endswith(".weights.h5"),
            "file: a .weights.h5 path or URL",
        ),
        (
            not re.fullmatch(r"[0-9a-f]{64}", str(entry.sha256)),
            "sha256: 64 lowercase hex digits",
        ),
        (entry.builder not in BUILDERS, f"builder: one of {sorted(BUILDERS)}"),
        (not isinstance(entry.config, dict), "config: a dict of builder kwargs"),
        (
            not isinstance(entry.cam_threshold, (int, float)) or not 0 < entry.cam_threshold < 1,
            "cam_threshold: a number in (0, 1)",
        ),
    ]
    bad = [expected for failed, expected in problems if failed]
    if bad:
        raise ValueError(f"Invalid weights entry; expected {'; '.join(bad)}. Received: {entry!r}")
    REGISTRY[entry.name] = entry
    return entry


def sha256(path, chunk_size=1 << 20):
    """The SHA-256 hex digest of a file, read in `chunk_size`-byte chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def load_classifier(name_or_path, builder=None, **config):
    """Loads a zoo classifier: a registered name, or a `.keras` / `.weights.h5` file.

    Args:
        name_or_path: a `REGISTRY` name (its file is downloaded if a URL and
            checked against its sha256 before loading), or the path of the
            user's own `.keras` model or `.weights.h5` weights.
        builder: `.weights.h5` files only: a `zoo.BUILDERS` name or a
            builder callable that rebuilds the model the weights came from.
        **config: the builder's keyword arguments; for a registry name they
            override the entry's config (e.g. `input_shape=(None, None, 3)`).

    Returns:
        The `keras.Model`, images (B, H, W, C) -> probabilities (B, N).
    """
    entry = REGISTRY.get(name_or_path) if isinstance(name_or_path, str) else None
    if entry is not None:
        if builder is not None:
            raise ValueError(
                f"{entry.name!r} is a registry name, which names its builder "
                f"({entry.builder!r}); do not pass `builder`. Received: "
                f"builder={builder!r}"
            )
        path = _resolve(entry)
        actual = sha256(path)
        if actual != entry.sha256:
            raise ValueError(
                f"sha256 mismatch for {path} (registry entry {entry.name!r}): "
                f"expected {entry.sha256}, got {actual}. The file is corrupted "
                "or not the registered one; delete it to download it again."
            )
        return _build_and_load(path, entry.builder, {**entry.config, **config})
    path = Path(os.fspath(name_or_path))
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is neither a registered name (registered: "
            f"{sorted(REGISTRY)}) nor an existing file."
        )
    if path.name.endswith(".keras"):
        if builder is not None or config:
            raise ValueError(
                "A .keras file holds its own architecture; `builder` and "
                f"builder kwargs do not apply. Received: builder={builder!r}, "
                f"config={config!r}"
            )
        return keras.saving.load_model(path)
    if path.name.endswith(".weights.h5"):
        if builder is None:
            raise ValueError(
                f"{path} holds weights only: pass `builder` (one of "
                f"{sorted(BUILDERS)} or a callable) and its kwargs, as the "
                "model was built."
            )
        return _build_and_load(path, builder, config)
    raise ValueError(
        f"`name_or_path` must be a registry name, a .keras or a .weights.h5 "
        f"file. Received: {name_or_path!r}"
    )


def load(name_or_path, threshold=None, crop_size=None, builder=None, **config):
    """A ready localizer: `keras_has.Localizer` on `load_classifier(...)`.

    Args:
        name_or_path, builder, **config: as `load_classifier`.
        threshold: fraction of the CAM max kept; by default the entry's
            `cam_threshold`, or the paper's AlexNet value 0.2 for a file.
        crop_size: None, or the classifier's input size for 10-crop averaging
            (images then come larger, e.g. 256 for 224 crops).

    Returns:
        `keras_has.Localizer`: images -> {"class", "score", "box", "cam"}.
    """
    from keras_has.localizer import Localizer

    entry = REGISTRY.get(name_or_path) if isinstance(name_or_path, str) else None
    if threshold is None:
        threshold = entry.cam_threshold if entry is not None else 0.2
    classifier = load_classifier(name_or_path, builder=builder, **config)
    return Localizer(classifier, threshold=threshold, crop_size=crop_size)


def _resolve(entry):
    """The local path of an entry's file; a URL is downloaded once.

    Downloads go to `<Keras cache>/keras_has/<sha256[:16]>/`, so a new
    version of a file never meets a stale copy.
    """
    if "://" in entry.file:
        path = keras.utils.get_file(
            os.path.basename(urlparse(entry.file).path),
            origin=entry.file,
            cache_dir=CACHE_DIR,
            cache_subdir=os.path.join(CACHE_SUBDIR, entry.sha256[:16]),
        )
        return Path(path)
    path = WEIGHTS_DIR / entry.file  # An absolute `file` replaces WEIGHTS_DIR.
    if not path.is_file():
        raise FileNotFoundError(f"Registered weights file {path} does not exist.")
    return path


def _build_and_load(path, builder, config):
    """`builder(**config)` (a name or a callable) with the weights of `path`."""
    if isinstance(builder, str):
        if builder not in BUILDERS:
            raise ValueError(
                f"`builder` must be one of {sorted(BUILDERS)} or a callable. "
                f"Received: builder={builder!r}"
            )
        builder = BUILDERS[builder]
    elif not callable(builder):
        raise TypeError(f"`builder` must be a builder name or a callable. Received: {builder!r}")
    model = builder(**config)
    model.load_weights(path)
    return model


# The project's weights: GoogLeNet-GAP (width 0.25) trained by the main job, `python -m
# recipes.wsol` with its defaults (seed 0), on the built-in animals (8 classes, 136x136 images,
# 128 crops): the GAP baseline and the HaS model. Any input size works; the figures in the README
# are 10-crop (crop_size=128 on 136x136 images).
BUILTIN_CONFIG = {"num_classes": 8, "width": 0.25, "input_shape": (None, None, 3)}
for _name, _sha256 in (
    ("googlenet_gap_builtin", "20f5b93a3d48b969a750e65be10f1ce7853c952c047b56ad95a654eb08909e37"),
    ("googlenet_has_builtin", "fbdec0c2fceec7ab9ef39b36228d9263ee5342eed8768126222739b807de0c6a"),
):
    register(Entry(_name, f"{_name}.weights.h5", _sha256, "googlenet_gap", BUILTIN_CONFIG, 0.3))

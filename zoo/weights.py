"""Registry of trained zoo weights, checked by sha256 before loading.

An entry names a `.weights.h5` file (relative to the package folder
`zoo/weights/`, absolute, or an https URL downloaded once into the Keras
cache), its sha256, the builder and config that rebuild the model, the CAM
threshold the paper uses with it, and the image size and class names of its
data. `register` adds an entry; the project's own weights are registered at
the end of this module.

Every file is checked before it is used: its sha256 (a registered file, or
a user's own with `sha256=`), that it is what its suffix says (a `.keras`
zip archive, a `.weights.h5` HDF5 file) and readable, that a `.weights.h5`
file's variables fit the model its builder makes (none missing, none of
another shape), and, after loading, that every weight is finite.

Input contract of registered models: RGB images (B, H, W, 3) with pixels
mapped to `INPUT_RANGE` [-1, 1] by `keras_has.data.pipeline.normalize`
(`preprocess` resizes 0..255 images and maps them).
"""

import dataclasses
import hashlib
import inspect
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

import h5py
import keras
import numpy as np

from zoo.builders import BUILDERS

WEIGHTS_DIR = Path(__file__).parent / "weights"
CACHE_DIR = None  # get_file's default: the Keras home, ~/.keras.
CACHE_SUBDIR = "keras_has"
REGISTRY = {}
# What every registered model takes: keras_has.data.pipeline.normalize's range.
INPUT_RANGE = (-1.0, 1.0)
# Builder kwargs that change no weight's shape; input_shape only in height and width.
SHAPE_FREE = ("input_shape", "pooling", "has")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


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
        image_size: None, or the side S the evaluation resizes images to
            (S x S, `preprocess`).
        class_names: () or one name per class, in class-id order.
    """

    name: str
    file: str
    sha256: str
    builder: str
    config: dict = dataclasses.field(default_factory=dict)
    cam_threshold: float = 0.2
    image_size: int | None = None
    class_names: tuple = ()

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
        (
            entry.image_size is not None
            and not (isinstance(entry.image_size, int) and entry.image_size >= 1),
            "image_size: None or an int >= 1",
        ),
        (
            not isinstance(entry.class_names, tuple)
            or not all(isinstance(n, str) for n in entry.class_names)
            or (
                entry.class_names
                and isinstance(entry.config, dict)
                and len(entry.class_names) != entry.config.get("num_classes")
            ),
            "class_names: () or a tuple of num_classes str",
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


def load_classifier(name_or_path, builder=None, sha256=None, **config):
    """Loads a zoo classifier: a registered name, or a `.keras` / `.weights.h5` file.

    Args:
        name_or_path: a `REGISTRY` name (its file is downloaded if a URL and
            checked against its sha256 before loading), or the path of the
            user's own `.keras` model or `.weights.h5` weights.
        builder: `.weights.h5` files only: a `zoo.BUILDERS` name or a
            builder callable that rebuilds the model the weights came from.
        sha256: files only: None, or the SHA-256 (64 hex digits) the file
            must have, checked before loading.
        **config: the builder's keyword arguments; for a registry name they
            override the entry's config where no weight depends on them:
            `input_shape` (height and width, e.g. `(None, None, 3)`),
            `pooling`, `has`.

    Returns:
        The `keras.Model`, images (B, H, W, C) -> probabilities (B, N).

    Raises:
        FileNotFoundError: no such name or file.
        ValueError: a bad argument, a sha256 mismatch, a file that is not
            what its suffix says or is damaged, weights that do not fit the
            builder's model, or non-finite weights after loading.
    """
    entry = REGISTRY.get(name_or_path) if isinstance(name_or_path, str) else None
    if entry is not None:
        for argument, value in (("builder", builder), ("sha256", sha256)):
            if value is not None:
                raise ValueError(
                    f"{entry.name!r} is a registry name, which names its {argument} "
                    f"({getattr(entry, argument)!r}); do not pass `{argument}`. Received: "
                    f"{argument}={value!r}"
                )
        config = _entry_config(entry, config)
        path = _resolve(entry)
        _check_sha256(path, entry.sha256, _refetch_advice(entry, path))
        return _build_and_load(path, entry.builder, config)
    if sha256 is not None and not (
        isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha256)
    ):
        raise ValueError(f"`sha256` must be None or 64 hex digits. Received: sha256={sha256!r}")
    path = Path(os.fspath(name_or_path))
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is neither a registered name (registered: "
            f"{sorted(REGISTRY)}) nor an existing file."
        )
    if not path.name.endswith((".keras", ".weights.h5")):
        raise ValueError(
            "`name_or_path` must be a registry name, a .keras or a .weights.h5 file; "
            f"{path} has neither suffix{_SUFFIX_HINTS[_kind(path)]}. Received: "
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
            f"{path} holds weights only: pass `builder` (one of "
            f"{sorted(BUILDERS)} or a callable) and its kwargs, as the "
            "model was built."
        )
    if sha256 is not None:
        _check_sha256(path, sha256.lower(), "The file is damaged or not the one you meant.")
    if path.name.endswith(".weights.h5"):
        return _build_and_load(path, builder, config)
    _check_archive(path)
    model = keras.saving.load_model(path)
    _check_finite(model, path)
    return model


def load(name_or_path, threshold=None, crop_size=None, builder=None, sha256=None, **config):
    """A ready localizer: `keras_has.Localizer` on `load_classifier(...)`.

    Input contract of a registered name: RGB images (B, H, W, 3) with
    pixels mapped to [-1, 1] by `keras_has.data.pipeline.normalize`
    (0..255 / 127.5 - 1); `preprocess(images, name)` resizes 0..255 images
    to the entry's `image_size` and maps them, and the localizer is given
    that `input_range`. The built-in entries ("googlenet_gap_builtin",
    "googlenet_has_builtin") take 136x136 images (any size runs; their
    README figures are 10-crop, `crop_size=128`) of the 8 animal classes of
    `keras_has.data.synthetic`, ids 0..7, named in the entry's
    `class_names` by head colour: red, orange, lime, green, cyan, blue,
    violet, pink. A user's file takes what it was trained on.

    Args:
        name_or_path, builder, sha256, **config: as `load_classifier`.
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
    classifier = load_classifier(name_or_path, builder=builder, sha256=sha256, **config)
    known = {} if entry is None else {"input_range": INPUT_RANGE}  # a file's range is unknown
    return Localizer(classifier, threshold=threshold, crop_size=crop_size, **known)


def preprocess(images, name):
    """0..255 RGB images of any size -> what the registered model `name` takes.

    Resizes to the entry's `image_size` square as its evaluation does
    (`keras_has.data.pipeline.resize`: bilinear with antialiasing, rounded
    to 0..255), then maps to [-1, 1] with `keras_has.data.pipeline.normalize`.

    Args:
        images: uint8 or 0..255 numbers, (H, W, 3) or (B, H, W, 3), or a
            list of (H_i, W_i, 3) images of different sizes.
        name: a `REGISTRY` name whose entry has an `image_size` S.

    Returns:
        float32 NumPy (S, S, 3) for one image, else (B, S, S, 3).
    """
    from keras_has.data import pipeline

    entry = REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None or entry.image_size is None:
        sized = sorted(n for n, e in REGISTRY.items() if e.image_size is not None)
        raise ValueError(
            f"`name` must be a registry name with an image size, one of {sized}. "
            f"Received: name={name!r}"
        )
    if isinstance(images, (list, tuple)) and images and all(np.ndim(i) == 3 for i in images):
        return np.stack([preprocess(image, name) for image in images])
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
    size = entry.image_size
    resized = pipeline.resize({"image": array, "boxes": np.zeros((0, 4), np.float32)}, size)
    return np.asarray(pipeline.normalize(resized["image"]), np.float32)


def _entry_config(entry, overrides):
    """The entry's config with `overrides`, refused where a weight's shape depends on them."""
    for key, value in overrides.items():
        if key not in SHAPE_FREE and (key not in entry.config or entry.config[key] != value):
            raise ValueError(
                f"The weights of {entry.name!r} fix `{key}`"
                + (f"={entry.config[key]!r}" if key in entry.config else " to its default")
                + f"; only {SHAPE_FREE} can change (input_shape in height and width). "
                f"Received: {key}={value!r}"
            )
    if "input_shape" in overrides:
        registered = entry.config.get(
            "input_shape",
            inspect.signature(BUILDERS[entry.builder]).parameters["input_shape"].default,
        )
        shape = overrides["input_shape"]
        if isinstance(shape, (tuple, list)) and len(shape) == 3 and shape[2] != registered[2]:
            raise ValueError(
                f"`input_shape` must keep the {registered[2]} channels the weights of "
                f"{entry.name!r} take, as (height, width, {registered[2]}). Received: "
                f"input_shape={tuple(shape)!r}"
            )
    return {**entry.config, **overrides}


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


def _refetch_advice(entry, path):
    """How to get the registered file of `entry` (at `path`) back, true for where it is."""
    if "://" in entry.file:
        return f"It is a download of {entry.file}: delete {path} to download it again."
    if not Path(entry.file).is_absolute():
        return (
            "It is a local file shipped in the package folder zoo/weights/ (nothing is "
            "downloaded): reinstall keras-has, or restore the file in a git clone."
        )
    return (
        "It is a local file (nothing is downloaded): put the registered file back, or "
        "register this one with its own sha256."
    )


def _check_sha256(path, expected, advice):
    """Raises ValueError unless the file at `path` has the SHA-256 `expected`."""
    actual = sha256(path)
    if actual != expected:
        raise ValueError(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}. The file is "
            f"damaged or not the expected one. {advice}"
        )


# What a file holds, by its first bytes (`_kind`), as said when its suffix does not fit.
_SUFFIX_HINTS = {
    None: "; it is neither HDF5 nor a zip archive, so not a Keras file (or damaged at its start)",
    "hdf5": (
        "; it holds HDF5 data: weights from `save_weights` go by .weights.h5 (legacy Keras 2 "
        ".h5 models are not supported)"
    ),
    "zip": "; it is a zip archive: a model from `model.save` goes by .keras",
}


def _kind(path):
    """The file's kind by its first bytes: "hdf5", "zip" or None."""
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    return "hdf5" if head == HDF5_SIGNATURE else "zip" if head[:4] == ZIP_SIGNATURE else None


def _unreadable(path, why):
    return ValueError(f"{path} is not a readable .keras / .weights.h5 file: {why}.")


def _check_archive(path):
    """Raises ValueError unless the `.keras` file at `path` is a sound zip with a model config."""
    kind = _kind(path)
    if kind == "hdf5":
        raise _unreadable(
            path,
            "it holds HDF5 data, not a .keras zip archive (weights from `save_weights`: name "
            "them .weights.h5 and pass `builder`)",
        )
    if kind is None:
        raise _unreadable(path, "it is not a zip archive (not a Keras file, or damaged)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged, names = archive.testzip(), archive.namelist()
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        raise _unreadable(path, f"a damaged or truncated zip archive ({error})") from error
    if damaged is not None:
        raise _unreadable(path, f"its member {damaged} fails its CRC check (damaged)")
    if "config.json" not in names:
        raise _unreadable(path, "a zip archive without config.json, so not a Keras model")


def _layout(path):
    """A `.weights.h5` file's variables: ({dataset path: shape}, {group path: layer name})."""
    shapes, names = {}, {}

    def visit(key, item):
        if isinstance(item, h5py.Dataset):
            shapes[key] = item.shape
        elif "name" in item.attrs:
            names[key] = str(item.attrs["name"])

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return shapes, names


def _file_layout(path):
    """`_layout` of a user's `.weights.h5`, or ValueError saying why it cannot be read."""
    kind = _kind(path)
    if kind != "hdf5":
        hint = (
            "it is a zip archive, not HDF5: a model from `model.save` (name it .keras)"
            if kind == "zip"
            else "it is not HDF5 (not a Keras weights file, or damaged)"
        )
        raise _unreadable(path, hint)
    try:
        return _layout(path)[0]
    except (OSError, KeyError, RuntimeError) as error:
        raise _unreadable(path, f"a damaged or truncated HDF5 file ({error})") from error


def _mismatches(model, file_shapes):
    """What keeps the file's variables from loading into `model`, in layer order.

    Keras loads a layer's variables by path ("layers/conv2d/vars/0") and
    ignores layers only in the file (HaS weights load into a model without
    HaS). Returns one "variable: problem" str for each variable of `model`
    that the file lacks or holds in another shape, and each the file has
    beyond a layer's own.
    """
    with tempfile.TemporaryDirectory() as folder:
        expected = os.path.join(folder, "model.weights.h5")
        model.save_weights(expected)
        model_shapes, names = _layout(expected)
    groups = {key.rsplit("/", 1)[0] for key in model_shapes}
    keys = set(model_shapes) | {key for key in file_shapes if key.rsplit("/", 1)[0] in groups}
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    found = []
    for key in keys:
        want, have = model_shapes.get(key), file_shapes.get(key)
        if want == have:
            continue
        group, index = key.rsplit("/", 1)
        layer = names.get(group, group)
        if want is None:
            problem = f"only in the file, {have}"
        elif have is None:
            problem = f"the model's {want} is missing from the file"
        else:
            problem = f"the model's {want} is {have} in the file"
        found.append((order.get(layer, len(order)), layer, int(index), problem))
    return [f"{_variable(model, layer, i)}: {problem}" for _, layer, i, problem in sorted(found)]


def _variable(model, layer_name, index):
    """The path of variable `index` of a layer as Keras saves it ("conv1/kernel")."""
    try:
        variables = model.get_layer(layer_name).weights
    except ValueError:  # A layer inside a nested model.
        variables = []
    return variables[index].path if index < len(variables) else f"{layer_name} variable {index}"


def _build_and_load(path, builder, config):
    """`builder(**config)` (a name or a callable) with the weights of `path`, checked."""
    if isinstance(builder, str):
        if builder not in BUILDERS:
            raise ValueError(
                f"`builder` must be one of {sorted(BUILDERS)} or a callable. "
                f"Received: builder={builder!r}"
            )
        builder = BUILDERS[builder]
    elif not callable(builder):
        raise TypeError(f"`builder` must be a builder name or a callable. Received: {builder!r}")
    file_shapes = _file_layout(path)
    model = builder(**config)
    with warnings.catch_warnings():
        # Keras warns once per nested container of a model whose load failed.
        warnings.filterwarnings("ignore", "Skipping nested container", UserWarning)
        try:
            model.load_weights(path)
        except (OSError, KeyError, RuntimeError) as error:
            raise _unreadable(path, f"a damaged HDF5 file ({error})") from error
        except ValueError:
            # Only on failure: listing the differences saves the model's weights once.
            mismatches = _mismatches(model, file_shapes)
            if not mismatches:
                raise
            raise ValueError(
                f"The weights in {path} do not fit the model of "
                f"{getattr(builder, '__name__', builder)}({config}): {len(mismatches)} "
                f"variable(s) differ ({'; '.join(mismatches[:5])}"
                f"{'; ...' if len(mismatches) > 5 else ''}). Check the builder and the kwargs "
                "the weights were trained with (`num_classes`, the channels of `input_shape`, "
                "`width`)."
            ) from None
    _check_finite(model, path)
    return model


def _check_finite(model, path):
    """Raises ValueError naming `path` and the first variable of `model` with NaN or inf."""
    for variable in model.weights:
        values = keras.ops.convert_to_numpy(variable)
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(
                f"{path}: after loading, variable {variable.path!r} holds "
                f"{finite.size - int(finite.sum())} of {finite.size} values non-finite (NaN or "
                "inf), so the model would predict nonsense: the file is damaged, or was saved "
                "from a diverged training run."
            )


# The project's weights: GoogLeNet-GAP (width 0.25) trained by the main job, `python -m
# recipes.wsol` with its defaults (seed 0), on the built-in animals (8 classes, 136x136 images,
# 128 crops): the GAP baseline and the HaS model. Any input size works; the figures in the README
# are 10-crop (crop_size=128 on 136x136 images).
BUILTIN_CONFIG = {"num_classes": 8, "width": 0.25, "input_shape": (None, None, 3)}
# keras_has.data.synthetic's class c by its head's colour (hue c / 8 of the colour wheel).
BUILTIN_CLASSES = ("red", "orange", "lime", "green", "cyan", "blue", "violet", "pink")
for _name, _sha256 in (
    ("googlenet_gap_builtin", "20f5b93a3d48b969a750e65be10f1ce7853c952c047b56ad95a654eb08909e37"),
    ("googlenet_has_builtin", "fbdec0c2fceec7ab9ef39b36228d9263ee5342eed8768126222739b807de0c6a"),
):
    register(
        Entry(
            _name,
            f"{_name}.weights.h5",
            _sha256,
            "googlenet_gap",
            BUILTIN_CONFIG,
            cam_threshold=0.3,
            image_size=136,
            class_names=BUILTIN_CLASSES,
        )
    )

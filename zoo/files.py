"""Checks of weights and model files before and after they are used.

Every file is checked: its sha256 where one is known (a preset's, or a
user's own with `sha256=`), that it is what its suffix says (a `.keras` zip
archive, a `.weights.h5` HDF5 file) and readable, that a `.weights.h5`
file's variables fit the model (none missing, none of another shape), and,
after loading, that every weight is finite. Each failure is a ValueError
naming the file and what is wrong.
"""

import hashlib
import os
import tempfile
import warnings
import zipfile
import zlib

import h5py
import keras
import numpy as np

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
# What a file holds, by its first bytes (`kind`), as said when its suffix does not fit.
SUFFIX_HINTS = {
    None: "; it is neither HDF5 nor a zip archive, so not a Keras file (or damaged at its start)",
    "hdf5": (
        "; it holds HDF5 data: weights from `save_weights` go by .weights.h5 (legacy Keras 2 "
        ".h5 models are not supported)"
    ),
    "zip": "; it is a zip archive: a model from `model.save` goes by .keras",
}


def sha256(path, chunk_size=1 << 20):
    """The SHA-256 hex digest of a file, read in `chunk_size`-byte chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path, expected, advice):
    """Raises ValueError (ending in `advice`) unless the file at `path` has the SHA-256 `expected`."""
    actual = sha256(path)
    if actual != expected:
        raise ValueError(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}. The file is "
            f"damaged or not the expected one. {advice}"
        )


def kind(path):
    """The file's kind by its first bytes: "hdf5", "zip" or None."""
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    return "hdf5" if head == HDF5_SIGNATURE else "zip" if head[:4] == ZIP_SIGNATURE else None


def load_model(path):
    """The `keras.Model` of the `.keras` file at `path`, checked before and after loading."""
    _check_archive(path)
    model = keras.saving.load_model(path)
    check_finite(model, path)
    return model


def load_weights(model, path, built_by):
    """Loads the `.weights.h5` file at `path` into `model`; returns `model`.

    Args:
        built_by: how `model` was made, for the error message
            ("googlenet_gap({'num_classes': 8})").

    Raises:
        ValueError: an unreadable file, variables that do not fit `model`
            (each named, in layer order), or non-finite weights.
    """
    file_shapes = _file_layout(path)
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
                f"The weights in {path} do not fit the model of {built_by}: "
                f"{len(mismatches)} variable(s) differ ({'; '.join(mismatches[:5])}"
                f"{'; ...' if len(mismatches) > 5 else ''}). Check the builder and the kwargs "
                "the weights were trained with (`num_classes`, the channels of `input_shape`, "
                "`width`)."
            ) from None
    check_finite(model, path)
    return model


def check_finite(model, path):
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


def layout(path):
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


def _unreadable(path, why):
    return ValueError(f"{path} is not a readable .keras / .weights.h5 file: {why}.")


def _check_archive(path):
    """Raises ValueError unless the `.keras` file at `path` is a sound zip with a model config."""
    found = kind(path)
    if found == "hdf5":
        raise _unreadable(
            path,
            "it holds HDF5 data, not a .keras zip archive (weights from `save_weights`: name "
            "them .weights.h5 and pass `builder`)",
        )
    if found is None:
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


def _file_layout(path):
    """`layout(path)[0]`, or ValueError saying why the file cannot be read."""
    found = kind(path)
    if found != "hdf5":
        hint = (
            "it is a zip archive, not HDF5: a model from `model.save` (name it .keras)"
            if found == "zip"
            else "it is not HDF5 (not a Keras weights file, or damaged)"
        )
        raise _unreadable(path, hint)
    try:
        return layout(path)[0]
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
        model_shapes, names = layout(expected)
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

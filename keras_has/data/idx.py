"""IDX files (the MNIST format) and Fashion-MNIST from a local folder.

An IDX file is a big-endian header - two zero bytes, a type code (0x08: unsigned bytes), the
number of dimensions d - then d 32-bit sizes and the values. Fashion-MNIST's four files
(`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-...`), optionally gzipped, are
what the Debian package `dataset-fashion-mnist` installs in /usr/share/datasets/fashion-mnist.
No network: the folder is the user's.
"""

import gzip
import os

import numpy as np

DEBIAN_FOLDER = "/usr/share/datasets/fashion-mnist"

SPLITS = {"train": "train", "test": "t10k"}

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


class IDXError(ValueError):
    """An IDX file that is missing, truncated or not IDX; the message names the file."""


def read_idx(path):
    """The uint8 array of the IDX file `path` (gzipped if it ends in .gz).

    Raises `IDXError` naming the file when it is missing, not an unsigned-byte IDX file, or
    shorter or longer than its header says.
    """
    if not os.path.isfile(path):
        raise IDXError(f"no IDX file {path}")
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:  # a truncated or corrupt gzip stream
        raise IDXError(f"{path} cannot be read: {error}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] == 0:
        raise IDXError(
            f"{path} is not an IDX file of unsigned bytes (its header starts with "
            f"{data[:4].hex() or 'nothing'}, expected 000008 and a dimension count)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{path} is truncated: {len(data)} bytes, shorter than its header")
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise IDXError(
            f"{path} has {len(data)} bytes, but its header {shape} says {expected}"
            + (" (truncated)" if len(data) < expected else "")
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def find(folder, stem):
    """The path of IDX file `stem` in `folder`, plain or .gz; IDXError naming both if neither."""
    for name in (stem, f"{stem}.gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise IDXError(f"no {stem} or {stem}.gz in {folder}")


def fashion_mnist(split, folder=DEBIAN_FOLDER):
    """Fashion-MNIST's `split` ("train": 60,000, "test": 10,000) from its IDX files in `folder`.

    Returns (images uint8 (N, 28, 28, 1), labels int64 (N,)). Raises `IDXError` naming the file
    that is missing, truncated or malformed, or when the images and labels do not match.
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {sorted(SPLITS)}. Received: split={split!r}")
    prefix = SPLITS[split]
    images_path = find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = find(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXError(
            f"{images_path} {images.shape} and {labels_path} {labels.shape} are not N images "
            "and their N labels"
        )
    if labels.size and labels.max() >= len(FASHION_CLASSES):
        raise IDXError(f"{labels_path} has label {labels.max()}, beyond the 10 classes")
    return images[..., None], labels.astype(np.int64)

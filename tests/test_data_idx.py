"""IDX files and Fashion-MNIST from a folder: written here, plain and gzipped; broken files are
errors naming the file; the Debian package's real files when installed."""

import gzip
import os

import numpy as np
import pytest

from keras_has.data import idx


def idx_bytes(array):
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def write_fashion(folder, train=12, test=5, gz=True, seed=0):
    """A Fashion-MNIST folder of random images; returns the arrays written."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    written = {}
    for split, prefix, n in (("train", "train", train), ("test", "t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = os.path.join(folder, f"{prefix}-{kind}-ubyte" + (".gz" if gz else ""))
            with (gzip.open if gz else open)(path, "wb") as f:
                f.write(idx_bytes(array))
        written[split] = (images, labels)
    return written


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_reads_what_was_written(tmp_path, gz):
    written = write_fashion(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = idx.fashion_mnist(split, tmp_path)
        assert images.shape == (len(written[split][0]), 28, 28, 1) and images.dtype == np.uint8
        np.testing.assert_array_equal(images[..., 0], written[split][0])
        np.testing.assert_array_equal(labels, written[split][1])
        assert labels.dtype == np.int64


def test_broken_files_are_errors_naming_the_file(tmp_path):
    write_fashion(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(
        idx.IDXError, match=f"{path} has .* bytes, but its header .* \\(truncated\\)"
    ):
        idx.fashion_mnist("train", tmp_path)
    path.write_bytes(b"\x00\x00\x0d\x03" + data[4:])  # float type code
    with pytest.raises(idx.IDXError, match=f"{path} is not an IDX file of unsigned bytes"):
        idx.read_idx(path)
    path.write_bytes(data)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11)))
    with pytest.raises(idx.IDXError, match="are not N images and their N labels"):
        idx.fashion_mnist("train", tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(
        idx.IDXError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz in"
    ):
        idx.fashion_mnist("test", tmp_path)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(data)[:-50])  # a truncated gzip stream
    with pytest.raises(idx.IDXError, match=f"{gz} cannot be read"):
        idx.read_idx(gz)


@pytest.mark.skipif(
    not os.path.isdir(idx.DEBIAN_FOLDER), reason="dataset-fashion-mnist not installed"
)
def test_the_debian_package_files():
    images, labels = idx.fashion_mnist("test")
    assert images.shape == (10_000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [1000] * 10  # balanced test set

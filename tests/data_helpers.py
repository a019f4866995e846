"""TFDS mock data and ILSVRC box XML files for the data source tests.

No real data is read: `tfds.testing.mock_data` (``MockPolicy.USE_CODE``)
generates examples from the builders' feature specs, and the box XMLs are
written by the tests.
"""

import os

import tensorflow_datasets as tfds

USE_CODE = tfds.testing.MockPolicy.USE_CODE


def mock(n, **kwargs):
    return tfds.testing.mock_data(num_examples=n, policy=USE_CODE, **kwargs)


def raw_examples(name, split):
    """The mocked TFDS examples as NumPy (call inside the same mock_data)."""
    return list(tfds.as_numpy(tfds.builder(name).as_dataset(split=split)))


def as_numpy(ds):
    return list(tfds.as_numpy(ds))


def xml_text(width, height, objects, filename="x"):
    objs = "".join(
        f"<object><name>{wnid}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for wnid, x0, y0, x1, y1 in objects
    )
    return (
        f"<annotation><folder>val</folder><filename>{filename}</filename>"
        f"<source><database>ILSVRC_2012</database></source>"
        f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
        f"<segmented>0</segmented>{objs}</annotation>"
    )


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path

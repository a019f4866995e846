"""ILSVRC (ImageNet) bounding-box XML files, read with the standard library.

The official ILSVRC2012 localization annotations (``ILSVRC2012_bbox_val_v3.tgz``
from image-net.org, or ``Annotations/CLS-LOC/val`` of the Kaggle
"ImageNet Object Localization Challenge" copy) hold one PASCAL-VOC-style file
per validation image, ``ILSVRC2012_val_XXXXXXXX.xml``::

    <annotation>
      <filename>ILSVRC2012_val_00000001</filename>
      <size><width>500</width><height>375</height><depth>3</depth></size>
      <object>
        <name>n01751748</name>
        <bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax><ymax>193</ymax></bndbox>
      </object>
      ...
    </annotation>

Box convention. The corners are whole-pixel indices, 0-based and inclusive:
the box covers columns ``xmin..xmax`` and rows ``ymin..ymax``. The evidence:
corners start at 0, and whole-image boxes end at ``width - 1, height - 1``
(``0, 0, 499, 374`` is frequent; most images are 500 pixels wide); Choe et al.'s
wsolevaluation metadata (``metadata/ILSVRC/test/localization.txt``) copies the
XML integers unchanged (``ILSVRC2012_val_00000001``: ``111,108,441,193``) and
its IoU adds 1 to each side, i.e. reads them as inclusive pixel indices. The
package's boxes are half-open (`keras_has.boxes`), so a box becomes
``(xmin, ymin, xmax + 1, ymax + 1)``. (PASCAL VOC itself is 1-based, which
is why VOC loaders subtract 1; ILSVRC files are not, and nothing is
subtracted here.) A few files may give ``xmax == width``: the half-open box
then ends one pixel past the image, which the data source clips and counts
(`keras_has.data.imagenet2012`); parsing here does not clip.

Speed: 45 to 80 microseconds per file (files in the page cache, one core
of a busy 2-core machine): the 50 000 validation files in 2 to 4 s.
"""

import os
import re
import xml.etree.ElementTree as ET
from typing import NamedTuple

import numpy as np

__all__ = [
    "BoxXMLError",
    "BoxesNotFoundError",
    "XMLBoxes",
    "read_boxes_dir",
    "read_boxes_xml",
    "stem",
]

_INT = re.compile(r"[+-]?\d+")
_STEM = re.compile(r"\.[^./\\]*$")


class BoxesNotFoundError(FileNotFoundError):
    """The box folder does not exist or holds no .xml file."""


class BoxXMLError(ValueError):
    """A malformed box XML file; the message names the file and the tag."""

    def __init__(self, path, message, tag=None):
        self.path = os.fspath(path)
        self.tag = tag
        super().__init__(f"{self.path}: {message}")


class XMLBoxes(NamedTuple):
    """The boxes of one image.

    Attributes:
        boxes: (M, 4) float32, (x_min, y_min, x_max, y_max) half-open pixels,
            M >= 1, in file order.
        wnids: M WordNet ids (the objects' <name>), e.g. "n01751748".
        size: (width, height) from <size>.
    """

    boxes: np.ndarray
    wnids: tuple
    size: tuple


def stem(name):
    """The join key of an image or XML file name: no folder, no last extension.

    ``"ILSVRC2012_val_00000001.JPEG"`` and ``"val/ILSVRC2012_val_00000001.xml"``
    both give ``"ILSVRC2012_val_00000001"``. The same rule runs in the graph
    in `keras_has.data.imagenet2012`.
    """
    name = os.fspath(name).replace("\\", "/").rsplit("/", 1)[-1]
    return _STEM.sub("", name)


def _text(parent, tag, path, where):
    node = parent.find(tag)
    if node is None:
        raise BoxXMLError(path, f"missing <{tag}> in {where}", tag)
    text = (node.text or "").strip()
    if not text:
        raise BoxXMLError(path, f"empty <{tag}> in {where}", tag)
    return text


def _int(parent, tag, path, where):
    text = _text(parent, tag, path, where)
    if _INT.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value.is_integer():
        raise BoxXMLError(
            path, f"<{tag}> in {where} is {text!r}, not a whole number of pixels", tag
        )
    return int(value)


def read_boxes_xml(path):
    """Reads one ILSVRC / PASCAL-VOC-style box file.

    Args:
        path: the .xml file.

    Returns:
        `XMLBoxes` ``(boxes, wnids, (width, height))``: boxes (M, 4) float32
        half-open ``(xmin, ymin, xmax + 1, ymax + 1)`` of the file's inclusive
        corners, M >= 1.

    Raises:
        BoxXMLError: not well-formed XML, a missing or empty tag (<size>,
            <width>, <height>, <object>, <name>, <bndbox>, <xmin>, ...), a
            value that is not a whole number, a size <= 0, a negative corner,
            ``xmax < xmin`` or ``ymax < ymin``. The message names the file,
            the object (1-based, in file order) and the tag.
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise BoxXMLError(path, f"not well-formed XML ({e})") from None
    size = root.find("size")
    if size is None:
        raise BoxXMLError(path, f"missing <size> in <{root.tag}>", "size")
    width = _int(size, "width", path, "<size>")
    height = _int(size, "height", path, "<size>")
    if width <= 0 or height <= 0:
        raise BoxXMLError(path, f"<size> is {width} x {height}, not positive", "size")
    objects = root.findall("object")
    if not objects:
        raise BoxXMLError(path, f"no <object> in <{root.tag}>", "object")
    boxes = np.empty((len(objects), 4), np.float32)
    wnids = []
    for k, obj in enumerate(objects):
        where = f"<object> {k + 1}"
        wnids.append(_text(obj, "name", path, where))
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise BoxXMLError(path, f"missing <bndbox> in {where}", "bndbox")
        where = f"<bndbox> of <object> {k + 1}"
        x0, y0, x1, y1 = (_int(bndbox, t, path, where) for t in ("xmin", "ymin", "xmax", "ymax"))
        if x0 < 0 or y0 < 0:
            tag = "xmin" if x0 < 0 else "ymin"
            raise BoxXMLError(path, f"negative <{tag}> in {where}: {min(x0, y0)}", tag)
        if x1 < x0:
            raise BoxXMLError(path, f"<xmax> {x1} < <xmin> {x0} in {where}", "xmax")
        if y1 < y0:
            raise BoxXMLError(path, f"<ymax> {y1} < <ymin> {y0} in {where}", "ymax")
        boxes[k] = (x0, y0, x1 + 1, y1 + 1)
    return XMLBoxes(boxes, tuple(wnids), (width, height))


def _xml_files(folder):
    """Every *.xml file under `folder` (recursively), sorted by path."""
    found = []
    stack = [os.fspath(folder)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(entry.path)
                elif entry.name.lower().endswith(".xml"):
                    found.append(entry.path)
    return sorted(found)


def read_boxes_dir(folder):
    """Reads every ``*.xml`` box file under `folder` (subfolders included).

    Args:
        folder: e.g. the ``val`` folder of ``ILSVRC2012_bbox_val_v3.tgz``, or
            any folder above it.

    Returns:
        dict: `stem` of the file name (``"ILSVRC2012_val_00000001"``) ->
        `XMLBoxes`.

    Raises:
        BoxesNotFoundError: (a FileNotFoundError) `folder` does not exist or
            holds no .xml file.
        BoxXMLError: a malformed file (the first one met, by path), or two
            files with the same stem in different subfolders.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise BoxesNotFoundError(f"ILSVRC box folder not found: {folder}")
    paths = _xml_files(folder)
    if not paths:
        raise BoxesNotFoundError(f"no .xml box files under {folder}")
    records = {}
    origin = {}
    for path in paths:
        key = stem(path)
        if key in records:
            raise BoxXMLError(path, f"same image name {key!r} as {origin[key]}")
        records[key] = read_boxes_xml(path)
        origin[key] = path
    return records

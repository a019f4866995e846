"""The ILSVRC validation box XML reader (keras_has.data.ilsvrc): inclusive corners ->
half-open boxes, malformed files, folders."""

import os
import re
import tempfile

import numpy as np
import pytest
from data_helpers import write, xml_text
from hypothesis import given
from hypothesis import strategies as st

from keras_has.data.ilsvrc import BoxesNotFoundError, BoxXMLError, read_boxes_dir, read_boxes_xml


def test_inclusive_corners_become_half_open(tmp_path):
    path = write(
        tmp_path / "ILSVRC2012_val_00000001.xml",
        xml_text(
            500,
            375,
            [
                ("n01751748", 111, 108, 441, 193),  # the real file's box
                ("n01751748", 0, 0, 499, 374),  # the whole 500 x 375 image
                ("n01751748", 5, 7, 5, 7),  # one pixel
            ],
            "ILSVRC2012_val_00000001",
        ),
    )
    boxes, wnids, size = read_boxes_xml(path)
    assert boxes.dtype == np.float32 and boxes.shape == (3, 4)
    np.testing.assert_array_equal(boxes, [[111, 108, 442, 194], [0, 0, 500, 375], [5, 7, 6, 8]])
    assert wnids == ("n01751748",) * 3 and size == (500, 375)


def test_whole_number_floats_and_whitespace_are_read(tmp_path):
    text = xml_text(10, 8, [("n1", 1, 2, 3, 4)]).replace("<xmin>1</xmin>", "<xmin>\n 1.0 </xmin>")
    boxes, _, _ = read_boxes_xml(write(tmp_path / "a.xml", text))
    np.testing.assert_array_equal(boxes, [[1, 2, 4, 5]])


@given(
    st.lists(
        st.tuples(*[st.integers(0, 3000)] * 4).map(
            lambda t: (min(t[0], t[1]), min(t[2], t[3]), max(t[0], t[1]), max(t[2], t[3]))
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 5000),
    st.integers(1, 5000),
)
def test_any_valid_file_round_trips(corners, width, height):
    objects = [(f"n{k:08d}", x0, y0, x1, y1) for k, (x0, y0, x1, y1) in enumerate(corners)]
    with tempfile.TemporaryDirectory() as d:
        got = read_boxes_xml(write(os.path.join(d, "f.xml"), xml_text(width, height, objects)))
    expected = [[x0, y0, x1 + 1, y1 + 1] for x0, y0, x1, y1 in corners]
    np.testing.assert_array_equal(got.boxes, np.array(expected, np.float32))
    assert got.wnids == tuple(o[0] for o in objects) and got.size == (width, height)


GOOD = xml_text(50, 40, [("n01440764", 1, 2, 30, 20)])

MALFORMED = {
    "not XML": ("<annotation><size>", None, "not well-formed"),
    "no size": (re.sub(r"<size>.*</size>", "", GOOD), "size", "missing <size>"),
    "no width": (GOOD.replace("<width>50</width>", ""), "width", "missing <width>"),
    "empty height": (GOOD.replace("<height>40</height>", "<height> </height>"), "height", "empty"),
    "zero width": (GOOD.replace("<width>50</width>", "<width>0</width>"), "size", "not positive"),
    "no object": (re.sub(r"<object>.*</object>", "", GOOD), "object", "no <object>"),
    "no name": (GOOD.replace("<name>n01440764</name>", ""), "name", "missing <name>"),
    "no bndbox": (re.sub(r"<bndbox>.*</bndbox>", "", GOOD), "bndbox", "missing <bndbox>"),
    "no ymax": (GOOD.replace("<ymax>20</ymax>", ""), "ymax", "missing <ymax>"),
    "text xmin": (GOOD.replace("<xmin>1</xmin>", "<xmin>abc</xmin>"), "xmin", "'abc'"),
    "half pixel": (GOOD.replace("<ymin>2</ymin>", "<ymin>2.5</ymin>"), "ymin", "whole number"),
    "negative": (GOOD.replace("<xmin>1</xmin>", "<xmin>-3</xmin>"), "xmin", "negative"),
    "xmax < xmin": (GOOD.replace("<xmax>30</xmax>", "<xmax>0</xmax>"), "xmax", "< <xmin>"),
    "ymax < ymin": (GOOD.replace("<ymax>20</ymax>", "<ymax>1</ymax>"), "ymax", "< <ymin>"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_errors_naming_the_file_and_the_tag(tmp_path, case):
    text, tag, words = MALFORMED[case]
    assert text != GOOD
    path = write(tmp_path / "ILSVRC2012_val_00000042.xml", text)
    with pytest.raises(BoxXMLError) as info:
        read_boxes_xml(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message, message
    assert info.value.tag == tag and info.value.path == str(path)
    if tag in ("xmin", "ymin", "xmax", "ymax", "name", "bndbox"):
        assert "<object> 1" in message and f"<{tag}>" in message


def test_second_object_is_named(tmp_path):
    text = xml_text(50, 40, [("n1", 1, 2, 3, 4), ("n1", 9, 9, 2, 9)])
    with pytest.raises(BoxXMLError, match=r"<xmax> 2 < <xmin> 9 in <bndbox> of <object> 2"):
        read_boxes_xml(write(tmp_path / "b.xml", text))


def test_read_boxes_dir_keys_by_stem_recursively(tmp_path):
    write(tmp_path / "val" / "ILSVRC2012_val_00000001.xml", xml_text(5, 6, [("n1", 0, 0, 4, 5)]))
    write(
        tmp_path / "val" / "sub" / "ILSVRC2012_val_00000002.XML",
        xml_text(7, 8, [("n2", 1, 1, 2, 2)]),
    )
    write(tmp_path / "val" / "readme.txt", "not a box file")
    records = read_boxes_dir(tmp_path)
    assert sorted(records) == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"]
    np.testing.assert_array_equal(records["ILSVRC2012_val_00000001"].boxes, [[0, 0, 5, 6]])
    assert records["ILSVRC2012_val_00000002"].size == (7, 8)
    assert records["ILSVRC2012_val_00000002"].wnids == ("n2",)


def test_read_boxes_dir_errors(tmp_path):
    with pytest.raises(BoxesNotFoundError, match="not found") as err:
        read_boxes_dir(tmp_path / "nowhere")
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(BoxesNotFoundError, match="no .xml"):
        read_boxes_dir(tmp_path)
    write(tmp_path / "a" / "x.xml", GOOD)
    write(tmp_path / "b" / "x.xml", GOOD)
    with pytest.raises(BoxXMLError, match="same image name 'x'"):
        read_boxes_dir(tmp_path)
    bad = write(tmp_path / "c" / "y.xml", GOOD.replace("<ymax>20</ymax>", "<ymax>z</ymax>"))
    with pytest.raises(BoxXMLError, match=re.escape(str(bad))):
        read_boxes_dir(tmp_path / "c")

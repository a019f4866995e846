"""Real data sources (CUB, ImageNet) on TFDS mock data, and the ILSVRC XML reader.

No real data is read: `tfds.testing.mock_data` (``MockPolicy.USE_CODE``)
generates examples from the builders' feature specs, and the box XMLs are
written here. Expected boxes are computed here from the mocked TFDS values,
not with the library's code.
"""

import os
import re
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from hypothesis import given
from hypothesis import strategies as st

from keras_has.data import ilsvrc, sources
from keras_has.data.ilsvrc import BoxesNotFoundError, BoxXMLError, read_boxes_dir, read_boxes_xml

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


# --------------------------------------------------------------------------
# ILSVRC XML: inclusive corners -> half-open boxes


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


@pytest.mark.parametrize(
    "name, key",
    [
        ("ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000001"),
        ("val/ILSVRC2012_val_00000001.xml", "ILSVRC2012_val_00000001"),
        ("C:\\ann\\n01440764_10026.xml", "n01440764_10026"),
        ("a.b.c", "a.b"),
        ("no extension here", "no extension here"),
    ],
)
def test_join_key_is_the_same_in_python_and_in_the_graph(name, key):
    assert ilsvrc.stem(name) == key
    assert sources._tf_stem(tf.constant(name)).numpy().decode() == key


# --------------------------------------------------------------------------
# CUB


def expected_cub_box(bbox, height, width, rounded=True):
    """TFDS (ymin, xmin, ymax, xmax) in [0, 1] -> half-open pixels, in float64."""
    ymin, xmin, ymax, xmax = (float(v) for v in bbox)
    box = np.array([xmin * width, ymin * height, xmax * width, ymax * height])
    if rounded:
        box = np.floor(box + 0.5)
    return np.clip(box, 0, [width, height, width, height])


def test_cub_boxes_from_random_mock_examples():
    with mock(6):
        raw = raw_examples("caltech_birds2011", "train")
        ds, info = sources.cub("train", data_dir="/nonexistent", masks=False)
        got = as_numpy(ds)
        exact = as_numpy(sources.cub("train", masks=False, round_boxes=False)[0])
    assert info.name == "caltech_birds2011" and info.num_classes == 200
    assert not info.has_masks and info.has_boxes and info.report is None
    assert len(got) == len(raw) == 6
    for ex, want, ex_exact in zip(got, raw, exact):
        assert set(ex) == {"image", "label", "boxes"}
        h, w = want["image"].shape[:2]
        np.testing.assert_array_equal(ex["image"], want["image"])
        assert ex["label"].dtype == np.int64 and ex["label"] == want["label"]
        assert ex["boxes"].dtype == np.float32 and ex["boxes"].shape == (1, 4)
        np.testing.assert_array_equal(ex["boxes"][0], expected_cub_box(want["bbox"], h, w))
        # float32 boxes against the float64 expectation: one float32 rounding.
        np.testing.assert_allclose(
            ex_exact["boxes"][0], expected_cub_box(want["bbox"], h, w, False), rtol=1e-6
        )


# (H, W, CUB bounding_boxes.txt "x y width height")
CUB_CASES = [
    (375, 500, (60, 27, 325, 304)),  # image 1 of CUB: (60, 27, 385, 331)
    (333, 500, (0, 0, 500, 333)),  # the whole image
    (480, 319, (10, 400, 320, 90)),  # past the right and bottom edges: TFDS clips at 1
    (7, 9, (3, 2, 1, 1)),  # one pixel
]
MASK_LEVELS = np.array([0, 51, 102, 127, 128, 153, 204, 255], np.uint8)


def make_cub_examples():
    rng = np.random.default_rng(7)
    examples = []
    for k, (h, w, (x, y, bw, bh)) in enumerate(CUB_CASES):
        # TFDS: (y / H, x / W, (y + h) / H, (x + w) / W), maxima clipped to 1, float32.
        bbox = np.array([y / h, x / w, min((y + bh) / h, 1.0), min((x + bw) / w, 1.0)], np.float32)
        examples.append(
            {
                "image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                "image/filename": f"{k:03d}.Bird/Bird_{k}.jpg",
                "label": np.int64(k * 50),
                "label_name": "bird",
                "bbox": bbox,
                "segmentation_mask": rng.choice(MASK_LEVELS, (h, w, 1)),
            }
        )
    return examples


def cub_as_dataset_fn(examples):
    def as_dataset(self, split, decoders=None, read_config=None, **kwargs):
        del self, split, decoders, read_config, kwargs
        signature = {
            "image": tf.TensorSpec((None, None, 3), tf.uint8),
            "image/filename": tf.TensorSpec((), tf.string),
            "label": tf.TensorSpec((), tf.int64),
            "label_name": tf.TensorSpec((), tf.string),
            "bbox": tf.TensorSpec((4,), tf.float32),
            "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
        }
        return tf.data.Dataset.from_generator(lambda: iter(examples), output_signature=signature)

    return as_dataset


def test_cub_boxes_and_masks_on_consistent_examples():
    examples = make_cub_examples()
    with mock(len(examples), as_dataset_fn=cub_as_dataset_fn(examples)):
        got = as_numpy(sources.cub("test", keep_file_name=True)[0])
        any_nonzero = as_numpy(sources.cub("test", mask_threshold=0.0)[0])
    expected_boxes = [(60, 27, 385, 331), (0, 0, 500, 333), (10, 400, 319, 480), (3, 2, 4, 3)]
    for ex, ex0, src, box in zip(got, any_nonzero, examples, expected_boxes):
        assert set(ex) == {"image", "label", "boxes", "mask", "file_name"}
        np.testing.assert_array_equal(ex["boxes"], np.array([box], np.float32))
        soft = src["segmentation_mask"][..., 0]
        assert ex["mask"].dtype == np.uint8 and ex["mask"].shape == soft.shape
        np.testing.assert_array_equal(ex["mask"], (soft >= 128).astype(np.uint8))
        np.testing.assert_array_equal(ex0["mask"], (soft > 0).astype(np.uint8))
        assert ex["file_name"].decode() == src["image/filename"]
        assert ex["label"] == src["label"]


def test_cub_mask_of_another_size_is_an_error_naming_the_file():
    with mock(3):  # the random mock draws the mask's size apart from the image's
        raw = raw_examples("caltech_birds2011", "test")
        assert raw[0]["image"].shape[:2] != raw[0]["segmentation_mask"].shape[:2]
        ds, info = sources.cub("test")
        assert info.has_masks
        with pytest.raises(tf.errors.InvalidArgumentError, match="mask size differs") as err:
            as_numpy(ds)
    assert raw[0]["image/filename"].decode() in str(err.value)


def test_cub_argument_checks():
    with pytest.raises(ValueError, match="mask_threshold"):
        sources.cub("train", mask_threshold=1.0)


# --------------------------------------------------------------------------
# ImageNet


def val_examples(n):
    """(file name, height, width, label) of the mocked validation images."""
    return [
        (ex["file_name"].decode(), *ex["image"].shape[:2], int(ex["label"]))
        for ex in raw_examples("imagenet2012", "validation")[:n]
    ]


def wnid(label):
    return tfds.builder("imagenet2012").info.features["label"].int2str(label)


def test_imagenet_validation_boxes_join_on_file_names(tmp_path):
    with mock(5):
        images = val_examples(5)
        expected = {}
        for k, (name, h, w, label) in enumerate(images):
            # Inclusive corners: the whole image, and a small box.
            objects = [(wnid(label), 0, 0, w - 1, h - 1), (wnid(label), 1, 2, 3, 4 + k)]
            write(tmp_path / "val" / f"{name}.xml", xml_text(w, h, objects, name))
            expected[name] = np.array([[0, 0, w, h], [1, 2, 4, min(5 + k, h)]], np.float32)
        ds, info = sources.imagenet(
            "validation", data_dir="/nonexistent", val_boxes_dir=tmp_path, keep_file_name=True
        )
        got = as_numpy(ds)
    assert info.name == "imagenet2012" and info.num_classes == 1000
    assert info.class_names[0] == "n01440764" and info.has_boxes and not info.has_masks
    assert [ex["file_name"].decode() for ex in got] == [name for name, *_ in images]
    for ex, (name, h, w, label) in zip(got, images):
        assert set(ex) == {"image", "label", "boxes", "file_name"}
        assert ex["image"].shape == (h, w, 3) and ex["label"] == label
        np.testing.assert_array_equal(ex["boxes"], expected[name])
    clipped = sum(5 + k > h for k, (_, h, _, _) in enumerate(images))
    assert info.report.counts() == {
        "examples": 5,
        "missing_xml": 0,
        "size_mismatch": 0,
        "label_mismatch": 0,
        "clipped_boxes": clipped,
    }


def write_val_xmls(folder, images, skip=(), size=None, objects=None):
    for name, h, w, label in images:
        if name in skip:
            continue
        xw, xh = size(w, h) if size else (w, h)
        objs = objects(label, xw, xh) if objects else [(wnid(label), 0, 0, xw - 1, xh - 1)]
        write(os.path.join(folder, f"{name}.xml"), xml_text(xw, xh, objs))


def test_imagenet_missing_xml_is_an_error_by_default(tmp_path):
    with mock(4):
        images = val_examples(4)
        missing = images[2][0]
        write_val_xmls(tmp_path, images, skip={missing})
        ds, _ = sources.imagenet("validation", val_boxes_dir=tmp_path)
        with pytest.raises(tf.errors.InvalidArgumentError, match="no box XML") as err:
            as_numpy(ds)
    assert missing in str(err.value) and str(tmp_path) in str(err.value)


def test_imagenet_missing_xml_skipped_with_a_warning_and_a_count(tmp_path):
    with mock(4):
        images = val_examples(4)
        missing = images[1][0]
        write_val_xmls(tmp_path, images, skip={missing})
        ds, info = sources.imagenet("validation", val_boxes_dir=tmp_path, on_missing="skip")
        with pytest.warns(UserWarning, match=re.escape(f"ImageNet {missing}: no box XML")):
            got = as_numpy(ds)
    assert len(got) == 3
    assert info.report.counts()["missing_xml"] == 1 and info.report.counts()["examples"] == 4
    assert info.report.names()["missing_xml"] == [missing]
    assert "1 without XML" in str(info.report)
    info.report.reset()
    assert info.report.counts()["missing_xml"] == 0


def test_imagenet_size_mismatch(tmp_path):
    def double(w, h):
        return 2 * w, 2 * h

    def boxes(label, xw, xh):  # inclusive corners in the doubled size
        return [(wnid(label), 0, 0, xw - 1, xh - 1), (wnid(label), 2, 4, 5, 9)]

    with mock(3):
        images = val_examples(3)
        write_val_xmls(tmp_path, images[:1], size=double, objects=boxes)
        write_val_xmls(tmp_path, images[1:], objects=boxes)
        ds, _ = sources.imagenet("validation", val_boxes_dir=tmp_path)
        with pytest.raises(tf.errors.InvalidArgumentError, match="differs from the decoded") as e:
            as_numpy(ds)
        assert images[0][0] in str(e.value)
        results = {}
        for mode in ("rescale", "keep"):
            ds, info = sources.imagenet("validation", val_boxes_dir=tmp_path, on_size_mismatch=mode)
            with pytest.warns(UserWarning, match="<size> differs"):
                results[mode] = (as_numpy(ds), info.report.counts())
    _, h, w, _ = images[0]
    rescaled, counts = results["rescale"]
    np.testing.assert_allclose(rescaled[0]["boxes"], [[0, 0, w, h], [1, 2, 3, 5]], rtol=1e-6)
    assert counts["size_mismatch"] == 1 and counts["examples"] == 3
    kept, counts = results["keep"]
    want = np.clip([[0, 0, 2 * w, 2 * h], [2, 4, 6, 10]], 0, [w, h, w, h])
    np.testing.assert_array_equal(kept[0]["boxes"], want)
    assert counts["size_mismatch"] == 1
    assert counts["clipped_boxes"] >= 1 + sum(6 > w or 10 > h for _, h, w, _ in images[1:])


def test_imagenet_label_mismatch_and_one_past_the_edge_are_counted(tmp_path):
    def other_class_past_the_edge(label, xw, xh):
        return [(wnid((label + 1) % 1000), 0, 0, xw, xh)]  # xmax == width: 1-based style

    with mock(2):
        images = val_examples(2)
        write_val_xmls(tmp_path, images[:1], objects=other_class_past_the_edge)
        write_val_xmls(tmp_path, images[1:])
        ds, info = sources.imagenet("validation", val_boxes_dir=tmp_path)
        got = as_numpy(ds)
    _, h, w, _ = images[0]
    np.testing.assert_array_equal(got[0]["boxes"], [[0, 0, w, h]])
    counts = info.report.counts()
    assert counts["label_mismatch"] == 1 and counts["clipped_boxes"] == 1
    assert info.report.names()["label_mismatch"] == [images[0][0]]


def test_imagenet_train_boxes_are_whole_image_placeholders():
    with mock(3):
        raw = raw_examples("imagenet2012", "train")
        ds, info = sources.imagenet("train", shuffle_files=True)
        got = as_numpy(ds)
    assert not info.has_boxes and info.report is None
    for ex, want in zip(got, raw):
        assert set(ex) == {"image", "label", "boxes"}
        h, w = want["image"].shape[:2]
        np.testing.assert_array_equal(ex["image"], want["image"])
        np.testing.assert_array_equal(ex["boxes"], np.array([[0, 0, w, h]], np.float32))


def test_imagenet_argument_checks(tmp_path):
    with pytest.raises(ValueError, match="needs `val_boxes_dir`"):
        sources.imagenet("validation[:10]")
    with pytest.raises(ValueError, match="validation split only"):
        sources.imagenet("train", val_boxes_dir=tmp_path)
    for split in ("test", "train+validation"):
        with pytest.raises(ValueError, match="'train' or 'validation'"):
            sources.imagenet(split)
    with pytest.raises(ValueError, match="on_missing"):
        sources.imagenet("validation", val_boxes_dir=tmp_path, on_missing="ignore")
    with pytest.raises(ValueError, match="on_size_mismatch"):
        sources.imagenet("validation", val_boxes_dir=tmp_path, on_size_mismatch="drop")


# --------------------------------------------------------------------------
# Nothing prepared: a clear error, nothing downloaded


def test_unprepared_data_is_a_clear_error_and_nothing_is_downloaded(tmp_path):
    with pytest.raises(sources.DataNotPreparedError, match="download_and_prepare") as err:
        sources.cub("train", data_dir=str(tmp_path))
    assert str(tmp_path) in str(err.value) and "never downloads" in str(err.value)
    # What a caller needs to word its own message (the recipes name their --data-dir).
    assert (err.value.name, err.value.data_dir) == ("caltech_birds2011", str(tmp_path))
    assert "tfds build caltech_birds2011 --data_dir DIR" in err.value.how
    with pytest.raises(sources.DataNotPreparedError, match="ILSVRC2012_img_val.tar"):
        sources.imagenet("train", data_dir=str(tmp_path))
    assert isinstance(err.value, FileNotFoundError)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))

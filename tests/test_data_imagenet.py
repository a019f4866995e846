"""ImageNet (keras_has.data.imagenet2012) on TFDS mock data, with box XMLs written here."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from data_helpers import as_numpy, mock, raw_examples, write, xml_text

from keras_has.data import ilsvrc, imagenet2012
from keras_has.data.imagenet2012 import imagenet


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
    assert imagenet2012._tf_stem(tf.constant(name)).numpy().decode() == key


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
        ds, info = imagenet(
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
        ds, _ = imagenet("validation", val_boxes_dir=tmp_path)
        with pytest.raises(tf.errors.InvalidArgumentError, match="no box XML") as err:
            as_numpy(ds)
    assert missing in str(err.value) and str(tmp_path) in str(err.value)


def test_imagenet_missing_xml_skipped_with_a_warning_and_a_count(tmp_path):
    with mock(4):
        images = val_examples(4)
        missing = images[1][0]
        write_val_xmls(tmp_path, images, skip={missing})
        ds, info = imagenet("validation", val_boxes_dir=tmp_path, on_missing="skip")
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
        ds, _ = imagenet("validation", val_boxes_dir=tmp_path)
        with pytest.raises(tf.errors.InvalidArgumentError, match="differs from the decoded") as e:
            as_numpy(ds)
        assert images[0][0] in str(e.value)
        results = {}
        for mode in ("rescale", "keep"):
            ds, info = imagenet("validation", val_boxes_dir=tmp_path, on_size_mismatch=mode)
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
        ds, info = imagenet("validation", val_boxes_dir=tmp_path)
        got = as_numpy(ds)
    _, h, w, _ = images[0]
    np.testing.assert_array_equal(got[0]["boxes"], [[0, 0, w, h]])
    counts = info.report.counts()
    assert counts["label_mismatch"] == 1 and counts["clipped_boxes"] == 1
    assert info.report.names()["label_mismatch"] == [images[0][0]]


def test_imagenet_train_boxes_are_whole_image_placeholders():
    with mock(3):
        raw = raw_examples("imagenet2012", "train")
        ds, info = imagenet("train", shuffle_files=True)
        got = as_numpy(ds)
    assert not info.has_boxes and info.report is None
    for ex, want in zip(got, raw):
        assert set(ex) == {"image", "label", "boxes"}
        h, w = want["image"].shape[:2]
        np.testing.assert_array_equal(ex["image"], want["image"])
        np.testing.assert_array_equal(ex["boxes"], np.array([[0, 0, w, h]], np.float32))


def test_imagenet_argument_checks(tmp_path):
    with pytest.raises(ValueError, match="needs `val_boxes_dir`"):
        imagenet("validation[:10]")
    with pytest.raises(ValueError, match="validation split only"):
        imagenet("train", val_boxes_dir=tmp_path)
    for split in ("test", "train+validation"):
        with pytest.raises(ValueError, match="'train' or 'validation'"):
            imagenet(split)
    with pytest.raises(ValueError, match="on_missing"):
        imagenet("validation", val_boxes_dir=tmp_path, on_missing="ignore")
    with pytest.raises(ValueError, match="on_size_mismatch"):
        imagenet("validation", val_boxes_dir=tmp_path, on_size_mismatch="drop")

"""PASCAL VOC and SBD readers (keras_has.data.voc) on small folders in the official layouts.

Expected masks and labels are written here by hand, not computed with the library's code.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import tensorflow as tf
from PIL import Image

from keras_has.data import voc as V

H, W = 10, 12


def voc_palette():
    """The VOC colour map (bit-interleaved), 256 RGB entries."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def make_mask(classes, height=H, width=W):
    """Background, one vertical band per class, a void (255) outline around each band."""
    mask = np.zeros((height, width), np.uint8)
    for k, c in enumerate(classes):
        mask[1:-1, 1 + 3 * k : 3 + 3 * k] = 255
        mask[2:-2, 1 + 3 * k : 3 + 3 * k] = c
    return mask


def write_jpeg(path, colour=(200, 30, 90), height=H, width=W):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path, quality=95)


def write_png(path, mask, mode="P"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":
        img = Image.fromarray(mask, mode="P")
        img.putpalette(voc_palette())
    else:
        img = Image.fromarray(np.stack([mask] * 3, -1), mode="RGB")
    img.save(path)


def write_xml(path, objects):
    """objects: (name, difficult) pairs; a person also gets a part named "head"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"<object><name>{name}</name><difficult>{int(difficult)}</difficult>"
        + ("<part><name>head</name></part>" if name == "person" else "")
        + "</object>"
        for name, difficult in objects
    )
    path.write_text(f"<annotation><filename>x.jpg</filename>{body}</annotation>")


def write_list(path, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in ids))


def make_voc(base, masks, splits, xml=None):
    """A VOC year folder `base`: masks {id: mask}, splits {name: ids}, xml {id: objects}."""
    for id_, mask in masks.items():
        write_jpeg(base / "JPEGImages" / f"{id_}.jpg", height=mask.shape[0], width=mask.shape[1])
        write_png(base / "SegmentationClass" / f"{id_}.png", mask)
    for split, ids in splits.items():
        write_list(base / "ImageSets" / "Segmentation" / f"{split}.txt", ids)
    for id_, objects in (xml or {}).items():
        write_xml(base / "Annotations" / f"{id_}.xml", objects)
    return base


def write_mat(path, mask):
    path.parent.mkdir(parents=True, exist_ok=True)
    boundaries = np.empty((20, 1), object)
    for c in range(20):
        boundaries[c, 0] = scipy.sparse.csc_matrix(mask == c + 1)
    present = np.array([c for c in np.unique(mask) if 0 < c <= 20], np.uint8)
    scipy.io.savemat(
        path,
        {"GTcls": {"Segmentation": mask, "Boundaries": boundaries, "CategoriesPresent": present}},
        do_compression=True,
    )


def make_sbd(dataset, masks, splits):
    for id_, mask in masks.items():
        write_jpeg(dataset / "img" / f"{id_}.jpg", height=mask.shape[0], width=mask.shape[1])
        write_mat(dataset / "cls" / f"{id_}.mat", mask)
    for split, ids in splits.items():
        write_list(dataset / f"{split}.txt", ids)
    return dataset


def multi_hot(*classes):
    out = np.zeros(20, np.float32)
    out[[c - 1 for c in classes]] = 1
    return out


def examples(ds):
    return list(ds.as_numpy_iterator())


MASKS = {
    "2007_000032": make_mask([1, 15]),
    "2007_000039": make_mask([20]),
    "2008_000002": make_mask([7, 7, 12]),
    "2009_000001": make_mask([]),  # background only
}


@pytest.fixture
def voc2012(tmp_path):
    make_voc(
        tmp_path / "VOCdevkit" / "VOC2012",
        MASKS,
        {"train": ["2008_000002", "2007_000032", "2009_000001"], "val": ["2007_000039"]},
        xml={
            "2008_000002": [("car", 0), ("dog", 1)],
            "2007_000032": [("aeroplane", 0), ("person", 0), ("bottle", 1)],
            "2009_000001": [("sofa", 0)],
        },
    )
    return tmp_path


def test_constants():
    assert len(V.CLASSES) == V.NUM_CLASSES == 21 and V.IGNORE_LABEL == 255
    assert V.CLASSES[0] == "background" and V.CLASSES[15] == "person"
    assert V.CLASSES[20] == "tvmonitor" and issubclass(V.VOCError, ValueError)


def test_labels_from_mask():
    mask = np.array([[0, 255, 3], [20, 3, 1]], np.uint8)
    got = V.labels_from_mask(mask)
    assert got.dtype == np.float32 and got.shape == (20,)
    np.testing.assert_array_equal(got, multi_hot(1, 3, 20))
    np.testing.assert_array_equal(V.labels_from_mask(np.full((2, 2), 255, np.uint8)), np.zeros(20))
    with pytest.raises(ValueError, match=r"\[21\]"):
        V.labels_from_mask(np.array([[0, 21]], np.uint8))


def test_voc_masks_labels_and_list_order(voc2012):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing malformed: no warning
        ds, report = V.voc(voc2012, "train")
    assert report.count == 0 and report.malformed == []
    spec = ds.element_spec
    assert spec["image"].shape.as_list() == [None, None, 3] and spec["image"].dtype == tf.uint8
    assert spec["mask"].shape.as_list() == [None, None] and spec["mask"].dtype == tf.uint8
    assert spec["labels"].shape.as_list() == [20] and spec["labels"].dtype == tf.float32
    got = examples(ds)
    assert [e["id"] for e in got] == [b"2008_000002", b"2007_000032", b"2009_000001"]
    for ex, classes in zip(got, ([7, 12], [1, 15], [])):
        mask = MASKS[ex["id"].decode()]
        assert ex["mask"].dtype == np.uint8
        np.testing.assert_array_equal(ex["mask"], mask)  # bit-exact: integer PNG indices
        assert ex["labels"].dtype == np.float32
        np.testing.assert_array_equal(ex["labels"], multi_hot(*classes))
        assert ex["image"].shape == (H, W, 3) and ex["image"].dtype == np.uint8
        # JPEG is lossy; a flat colour survives quality 95 within a few levels.
        assert np.abs(ex["image"].astype(int) - [200, 30, 90]).max() <= 3
    assert 255 in got[0]["mask"]


def test_voc_split_choice_and_ids(voc2012):
    ds, _ = V.voc(voc2012, split="val")
    got = examples(ds)
    assert [e["id"] for e in got] == [b"2007_000039"]
    np.testing.assert_array_equal(got[0]["labels"], multi_hot(20))
    assert V.voc_ids(voc2012, "train") == ["2008_000002", "2007_000032", "2009_000001"]
    with pytest.raises(FileNotFoundError, match=r"ImageSets/Segmentation/test\.txt"):
        V.voc(voc2012, "test")


def test_voc_labels_from_xml(voc2012):
    got = examples(V.voc(voc2012, "train", labels="xml")[0])
    # Difficult objects count; the person's part "head" is not a class.
    np.testing.assert_array_equal(got[0]["labels"], multi_hot(7, 12))
    np.testing.assert_array_equal(got[1]["labels"], multi_hot(1, 5, 15))
    np.testing.assert_array_equal(got[2]["labels"], multi_hot(18))  # the mask has none
    np.testing.assert_array_equal(got[2]["mask"], MASKS["2009_000001"])


def test_voc_unknown_xml_class_and_bad_labels_argument(voc2012):
    xml = voc2012 / "VOCdevkit" / "VOC2012" / "Annotations" / "2007_000032.xml"
    write_xml(xml, [("aeroplane", 0), ("airplane", 0)])
    with pytest.raises(V.VOCError, match=re.escape(str(xml)) + ".*'airplane'"):
        V.voc(voc2012, "train", labels="xml")
    with pytest.raises(ValueError, match="labels='boxes'"):
        V.voc(voc2012, "train", labels="boxes")


def test_voc_year_detection(tmp_path):
    m = {"a": make_mask([3])}
    only_2011 = make_voc(tmp_path / "one" / "VOC2011", m, {"train": ["a"]})
    for root in (tmp_path / "one", only_2011):  # the folder holding it, or the folder itself
        assert examples(V.voc(root)[0])[0]["id"] == b"a"
    assert V.voc_ids(tmp_path / "one", "train", year=2011) == ["a"]
    with pytest.raises(FileNotFoundError, match=r"no VOC2012 folder"):
        V.voc(tmp_path / "one", year=2012)

    make_voc(tmp_path / "both" / "VOC2011", m, {"train": ["a"]})
    make_voc(tmp_path / "both" / "VOC2012", {"b": make_mask([4])}, {"train": ["b"]})
    with pytest.raises(V.VOCError, match=re.escape(str(tmp_path / "both")) + ".*both"):
        V.voc(tmp_path / "both")
    assert examples(V.voc(tmp_path / "both", year=2012)[0])[0]["id"] == b"b"
    assert examples(V.voc(tmp_path / "both", year="2011")[0])[0]["id"] == b"a"

    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match=r"none: no VOC2012 or VOC2011 folder"):
        V.voc(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="missing: no such folder"):
        V.voc(tmp_path / "missing")


def malformed_voc(base, n_good=1):
    """A VOC2012 folder with n_good good examples and one of each malformed case."""
    good = {f"good{i}": make_mask([i + 1]) for i in range(n_good)}
    make_voc(base, good, {})
    jpeg, seg = base / "JPEGImages", base / "SegmentationClass"
    write_png(seg / "no_image.png", make_mask([2]))
    write_jpeg(jpeg / "no_mask.jpg")
    write_jpeg(jpeg / "size.jpg", height=H + 1)
    write_png(seg / "size.png", make_mask([2]))
    write_jpeg(jpeg / "rgb.jpg")
    write_png(seg / "rgb.png", make_mask([2]), mode="RGB")
    write_jpeg(jpeg / "truncated.jpg")
    write_png(seg / "truncated.png", make_mask([2]))
    data = (seg / "truncated.png").read_bytes()
    (seg / "truncated.png").write_bytes(data[: len(data) - 20])  # cut in the pixel data
    bad = ["no_image", "no_mask", "size", "rgb", "truncated"]
    return list(good), bad


def test_voc_malformed_examples_reported_counted_skipped(tmp_path):
    base = tmp_path / "VOC2012"
    good, bad = malformed_voc(base)
    ids = [bad[0], good[0], *bad[1:]]
    write_list(base / "ImageSets" / "Segmentation" / "train.txt", ids)
    with pytest.warns(UserWarning) as record:
        ds, report = V.voc(tmp_path, "train")
    assert report.count == 5
    paths = [p for p, _ in report.malformed]
    assert paths == [
        str(base / "JPEGImages" / "no_image.jpg"),
        str(base / "SegmentationClass" / "no_mask.png"),
        str(base / "SegmentationClass" / "size.png"),
        str(base / "SegmentationClass" / "rgb.png"),
        str(base / "SegmentationClass" / "truncated.png"),
    ]
    reasons = [r for _, r in report.malformed]
    assert reasons[0] == "image file missing" and reasons[1] == "mask file missing"
    assert "12x10" in reasons[2] and "12x11" in reasons[2]
    assert "RGB" in reasons[3] and "unreadable" in reasons[4]
    messages = [str(w.message) for w in record]
    assert len(messages) == 5 and all("skipping" in m for m in messages)
    assert all(path in m for path, m in zip(paths, messages))
    got = examples(ds)
    assert [e["id"] for e in got] == [b"good0"]
    np.testing.assert_array_equal(got[0]["mask"], make_mask([1]))


def test_voc_warnings_limited_to_five_then_and_more(tmp_path):
    base = tmp_path / "VOC2012"
    good, bad = malformed_voc(base)
    extra = ["gone1", "gone2"]  # listed, no files at all
    write_list(base / "ImageSets" / "Segmentation" / "train.txt", [*bad, *extra, *good])
    with pytest.warns(UserWarning) as record:
        _, report = V.voc(tmp_path)
    assert report.count == 7
    messages = [str(w.message) for w in record]
    assert (
        len(messages) == 6
        and messages[-1] == "VOC2012 train: and 2 more malformed examples skipped"
    )


def test_voc_bad_mask_value_raises_naming_the_file(tmp_path):
    base = tmp_path / "VOC2012"
    bad = make_mask([3])
    bad[0, 0] = 30
    make_voc(base, {"ok": make_mask([1]), "bad": bad}, {"train": ["ok", "bad"]})
    path = str(base / "SegmentationClass" / "bad.png")
    with pytest.raises(V.VOCError, match=re.escape(path) + r".*\[30\]"):
        V.read_mask(path)
    ds, report = V.voc(tmp_path)
    assert report.count == 0  # found while decoding, not up front
    with pytest.raises(tf.errors.OpError, match=r"VOCError.*" + re.escape(path)):
        examples(ds)


def test_voc_empty_split(tmp_path):
    base = tmp_path / "VOC2012"
    make_voc(base, {"a": make_mask([1])}, {"train": ["gone"], "val": []})
    empty = r"train\.txt: no usable example \(1 malformed"
    with pytest.warns(UserWarning, match="gone.jpg"), pytest.raises(V.VOCError, match=empty):
        V.voc(tmp_path, "train")
    with pytest.raises(V.VOCError, match=r"val\.txt: no usable example \(0 malformed"):
        V.voc(tmp_path, "val")


SBD_MASKS = {"2008_000003": make_mask([19, 2]), "2008_000008": make_mask([13, 15])}


def test_sbd_mat_is_structured_like_the_real_files(tmp_path):
    path = tmp_path / "x.mat"
    write_mat(path, SBD_MASKS["2008_000003"])
    gt = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["GTcls"]
    assert gt.Segmentation.dtype == np.uint8 and gt.Segmentation.shape == (H, W)
    assert gt.Boundaries.shape == (20,) and sorted(gt.CategoriesPresent.tolist()) == [2, 19]
    np.testing.assert_array_equal(V.read_mask(path), SBD_MASKS["2008_000003"])


def test_sbd_masks_order_layouts_and_exclude(tmp_path):
    dataset = tmp_path / "benchmark_RELEASE" / "dataset"
    masks = {**SBD_MASKS, "2007_000032": make_mask([1, 15])}
    make_sbd(dataset, masks, {"train": ["2008_000008", "2007_000032", "2008_000003"]})
    for root in (tmp_path, dataset):
        ds, report = V.sbd(root, "train")
        got = examples(ds)
        assert [e["id"] for e in got] == [b"2008_000008", b"2007_000032", b"2008_000003"]
        assert report.count == 0 and report.excluded == []
    for ex, classes in zip(got, ([13, 15], [1, 15], [2, 19])):
        np.testing.assert_array_equal(ex["mask"], masks[ex["id"].decode()])
        np.testing.assert_array_equal(ex["labels"], multi_hot(*classes))
        assert ex["image"].shape == (H, W, 3) and ex["image"].dtype == np.uint8
    assert ds.element_spec["labels"].shape.as_list() == [20]

    voc_root = make_voc(tmp_path / "VOC2011", {"2007_000032": make_mask([1])}, {"val": []})
    write_list(voc_root / "ImageSets" / "Segmentation" / "val.txt", ["2007_000032", "2010_1"])
    ds, report = V.sbd(tmp_path, "train", exclude=V.voc_ids(voc_root, "val"))
    assert [e["id"] for e in examples(ds)] == [b"2008_000008", b"2008_000003"]
    assert report.excluded == ["2007_000032"] and report.count == 0
    with pytest.raises(TypeError, match="exclude"):
        V.sbd(tmp_path, "train", exclude="2007_000032")
    with pytest.raises(V.VOCError, match=r"train\.txt: no usable example \(0 malformed, 3 excl"):
        V.sbd(tmp_path, "train", exclude=masks)


def test_sbd_malformed_and_missing_files(tmp_path):
    dataset = make_sbd(tmp_path / "dataset", SBD_MASKS, {})
    write_jpeg(dataset / "img" / "no_mat.jpg")
    write_jpeg(dataset / "img" / "size.jpg", width=W + 2)
    write_mat(dataset / "cls" / "size.mat", make_mask([4]))
    write_jpeg(dataset / "img" / "junk.jpg")
    (dataset / "cls" / "junk.mat").write_bytes(b"not a mat file")
    ids = ["no_mat", "2008_000003", "size", "junk", "2008_000008"]
    write_list(dataset / "val.txt", ids)
    with pytest.warns(UserWarning) as record:
        ds, report = V.sbd(tmp_path, "val")
    assert [p for p, _ in report.malformed] == [
        str(dataset / "cls" / name) for name in ("no_mat.mat", "size.mat", "junk.mat")
    ]
    assert report.malformed[0][1] == "mask file missing" and "14x10" in report.malformed[1][1]
    assert "unreadable" in report.malformed[2][1] and len(record) == 3
    assert [e["id"] for e in examples(ds)] == [b"2008_000003", b"2008_000008"]
    with pytest.raises(FileNotFoundError, match=r"train\.txt: no such list file"):
        V.sbd(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="benchmark_RELEASE"):
        V.sbd(tmp_path / "dataset" / "img")


def test_seg11valid_is_voc_val_without_sbd_train(tmp_path, voc2012):
    """FCN's test set: VOC val without the images that SBD trains on (`exclude`, `sbd_ids`)."""
    sbd_root = make_sbd(
        tmp_path / "sbd" / "dataset", {"2007_000039": make_mask([20])}, {"train": ["2007_000039"]}
    )
    assert V.sbd_ids(sbd_root, "train") == ["2007_000039"]
    ds, report = V.voc(voc2012, "train", exclude=["2007_000032"])
    assert [e["id"] for e in examples(ds)] == [b"2008_000002", b"2009_000001"]
    assert report.excluded == ["2007_000032"]
    with pytest.raises(V.VOCError, match="no usable example"):
        V.voc(voc2012, "val", exclude=V.sbd_ids(sbd_root, "train"))

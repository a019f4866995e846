"""Tests of keras_has.data.reid on tiny Market-1501 / DukeMTMC-reID folders written here."""

import warnings

import cv2
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from keras_has.data import reid

MARKET, DUKE = "Market-1501-v15.09.15", "DukeMTMC-reID"


def _write(folder, names, colour=(40, 90, 200), shape=(16, 8)):
    """Flat-colour (RGB `colour`) JPEGs `names` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    image = np.zeros((*shape, 3), np.uint8)
    image[:] = colour[::-1]  # cv2 writes BGR
    for name in names:
        assert cv2.imwrite(str(folder / name), image)


def _layout(folder, root, train=(), query=(), gallery=()):
    base = root / folder
    for sub, names in (
        ("bounding_box_train", train),
        ("query", query),
        ("bounding_box_test", gallery),
    ):
        _write(base / sub, names)
    return base


def _market(root, **splits):
    return _layout(MARKET, root, **splits)


def _duke(root, **splits):
    return _layout(DUKE, root, **splits)


def _read_quietly(reader, root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = reader(root)
    return (*result, [str(w.message) for w in caught])


def _names(split):
    return [p.rsplit("/", 1)[-1] for p in split.paths]


# ---- Market-1501 and DukeMTMC-reID readers ----


def test_market_parses_ids_cams_in_sorted_order_and_keeps_junk_in_gallery(tmp_path):
    base = _market(
        tmp_path,
        train=["0007_c6s2_000100_01.jpg", "0002_c1s1_000451_03.jpg", "0002_c2s1_000123_01.jpg"],
        query=["0002_c3s1_000200_00.jpg"],
        gallery=["0002_c4s3_000300_02.jpg", "-1_c1s1_000401_03.jpg", "0000_c5s2_001234_04.jpg"],
    )
    (base / "bounding_box_test" / "Thumbs.db").write_bytes(b"not an image")
    (base / "query" / "notes.txt").write_text("ignored")
    splits, report, messages = _read_quietly(reid.market1501, tmp_path)
    assert set(splits) == {"train", "query", "gallery"}
    train, query, gallery = splits["train"], splits["query"], splits["gallery"]
    assert _names(train) == [
        "0002_c1s1_000451_03.jpg", "0002_c2s1_000123_01.jpg", "0007_c6s2_000100_01.jpg"
    ]  # fmt: skip
    assert train.ids.tolist() == [2, 2, 7] and train.cams.tolist() == [1, 2, 6]
    assert train.ids.dtype == np.int64 and train.cams.dtype == np.int64
    assert list(train.paths) == sorted(train.paths)
    assert all(p.startswith(str(base / "bounding_box_train")) for p in train.paths)
    assert query.ids.tolist() == [2] and query.cams.tolist() == [3]
    assert _names(gallery) == [
        "-1_c1s1_000401_03.jpg", "0000_c5s2_001234_04.jpg", "0002_c4s3_000300_02.jpg"
    ]  # fmt: skip
    assert gallery.ids.tolist() == [-1, 0, 2] and gallery.cams.tolist() == [1, 5, 4]
    assert len(gallery) == 3
    assert report.count == 0 and report.malformed == [] and messages == []


def test_duke_parses_ids_and_cams(tmp_path):
    _duke(
        tmp_path,
        train=["0005_c2_f0046985.jpg", "0001_c8_f0000001.jpg"],
        query=["0005_c1_f0046000.jpg"],
        gallery=["7140_c7_f0100000.jpg", "0005_c3_f0046111.jpg"],
    )
    splits, report, messages = _read_quietly(reid.duke, tmp_path)
    assert splits["train"].ids.tolist() == [1, 5] and splits["train"].cams.tolist() == [8, 2]
    assert splits["query"].ids.tolist() == [5] and splits["query"].cams.tolist() == [1]
    assert splits["gallery"].ids.tolist() == [5, 7140] and splits["gallery"].cams.tolist() == [3, 7]
    assert report.count == 0 and messages == []


@pytest.mark.parametrize("reader, make", [(reid.market1501, _market), (reid.duke, _duke)])
def test_both_root_forms_give_the_same_splits(tmp_path, reader, make):
    name = "0003_c1s1_000001_01.jpg" if make is _market else "0003_c1_f0000001.jpg"
    base = make(tmp_path, train=[name], query=[name], gallery=[name])
    outer, _, _ = _read_quietly(reader, tmp_path)
    inner, _, _ = _read_quietly(reader, str(base))
    for split in ("train", "query", "gallery"):
        assert (
            list(outer[split].paths)
            == list(inner[split].paths)
            == [str(base / reid.SPLITS[split] / name)]
        )


def test_market_malformed_names_are_reported_counted_and_skipped(tmp_path):
    base = _market(
        tmp_path,
        train=["0002_c1s1_000451_03.jpg", "-1_c1s1_000001_01.jpg", "0000_c1s1_000002_01.jpg"],
        query=[
            "0002_c7s1_000451_03.jpg",
            "0002_c0s1_000451_03.jpg",
            "person.jpg",
            "-1_c2s1_000001_01.jpg",  # no junk query: the protocol has none
        ],
        gallery=["0002_c1_000451_03.jpg", "2_c1s1_000451_03.jpg", "0002_c2s1_000451_03.jpg"],
    )
    splits, report, messages = _read_quietly(reid.market1501, tmp_path)
    assert splits["train"].ids.tolist() == [2]
    assert len(splits["query"]) == 0 and splits["query"].ids.dtype == np.int64
    assert splits["gallery"].ids.tolist() == [2]
    bad = dict(report.malformed)
    assert report.count == len(bad) == 8
    assert "junk" in bad[str(base / "bounding_box_train" / "-1_c1s1_000001_01.jpg")]
    assert "distractor" in bad[str(base / "bounding_box_train" / "0000_c1s1_000002_01.jpg")]
    assert "camera 7" in bad[str(base / "query" / "0002_c7s1_000451_03.jpg")]
    assert "camera 0" in bad[str(base / "query" / "0002_c0s1_000451_03.jpg")]
    assert "junk" in bad[str(base / "query" / "-1_c2s1_000001_01.jpg")]
    for name in ("person.jpg",):
        assert "pattern" in bad[str(base / "query" / name)]
    for name in ("0002_c1_000451_03.jpg", "2_c1s1_000451_03.jpg"):
        assert "pattern" in bad[str(base / "bounding_box_test" / name)]
    # one line per file up to 5, then one "and N more"
    assert len(messages) == 6
    assert all("skipping" in m for m in messages[:5])
    assert [p for p, _ in report.malformed[:5]] == [
        m.split("skipping ")[1].split(":")[0] for m in messages[:5]
    ]
    assert "and 3 more" in messages[5]


def test_duke_camera_9_is_malformed(tmp_path):
    base = _duke(
        tmp_path,
        train=["0005_c9_f0046985.jpg", "0005_c2_f0046985.jpg"],
        gallery=["0005_c2_f046985.jpg"],
    )
    splits, report, messages = _read_quietly(reid.duke, tmp_path)
    assert splits["train"].cams.tolist() == [2]
    assert report.count == 2 and len(messages) == 2
    assert (
        "camera 9"
        in dict(report.malformed)[str(base / "bounding_box_train" / "0005_c9_f0046985.jpg")]
    )
    assert "camera 9" in messages[0] and not any("more" in m for m in messages)
    # a Market name is not a Duke name
    _write(base / "query", ["0002_c1s1_000451_03.jpg"])
    _, report, _ = _read_quietly(reid.duke, tmp_path)
    assert report.count == 3


def test_missing_folders_are_named_with_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*bounding_box_train"):
        reid.market1501(tmp_path / "nowhere")
    base = tmp_path / MARKET
    _write(base / "bounding_box_train", ["0002_c1s1_000451_03.jpg"])
    _write(base / "query", ["0002_c1s1_000451_03.jpg"])
    with pytest.raises(FileNotFoundError, match=r"bounding_box_test.*0002_c1s1_000451_03\.jpg"):
        reid.market1501(tmp_path)
    with pytest.raises(FileNotFoundError, match="DukeMTMC-reID.*0005_c2_f0046985"):
        reid.duke(tmp_path)
    with pytest.raises(ValueError, match="`root`"):
        reid.market1501(None)
    with pytest.raises(ValueError, match="`root`"):
        reid.duke("")


# ---- train_labels ----


def test_train_labels_relabel_persons_in_sorted_order():
    split = reid.Split(np.array(list("abcde")), np.array([7, 2, 7, 1501, 2]), np.ones(5, np.int64))
    labels, count = reid.train_labels(split)
    assert labels.tolist() == [1, 0, 1, 2, 0] and labels.dtype == np.int64 and count == 3
    gallery = reid.Split(np.array(["a", "b"]), np.array([-1, 3]), np.ones(2, np.int64))
    with pytest.raises(ValueError, match="`split`"):
        reid.train_labels(gallery)
    with pytest.raises(ValueError, match="`split`"):
        reid.train_labels({"ids": [1]})


# ---- identity_batches ----

_counts = st.lists(st.integers(1, 6), min_size=1, max_size=12)


@st.composite
def _sampling(draw):
    counts = draw(_counts)
    gaps = draw(st.lists(st.integers(1, 3), min_size=len(counts), max_size=len(counts)))
    persons = np.cumsum(gaps) - 1  # any non-negative, not necessarily contiguous labels
    labels = np.repeat(persons, counts)
    labels = labels[draw(st.permutations(range(len(labels))))]
    k = draw(st.integers(1, 4))
    p = draw(st.integers(1, len(counts)))
    return labels, p, k, draw(st.integers(0, 2**32)), draw(st.integers(0, 100))


@given(_sampling())
def test_identity_batches_properties(case):
    labels, p, k, seed, epoch = case
    batches = reid.identity_batches(labels, p * k, k, seed=seed, epoch=epoch)
    persons = np.unique(labels)
    assert len(batches) == len(persons) // p  # the last len % p identities sit this epoch out
    seen = []
    for batch in batches:
        assert batch.shape == (p * k,) and batch.dtype == np.int64
        runs = batch.reshape(p, k)
        for run in runs:
            person = labels[run[0]]
            assert np.all(labels[run] == person)
            own = np.flatnonzero(labels == person)
            # without replacement when possible; else every image once, then repeats
            assert len(np.unique(run)) == min(k, len(own))
            seen.append(person)
    assert len(seen) == len(set(seen)) == (len(persons) // p) * p  # at most once, all but the rest
    again = reid.identity_batches(labels, p * k, k, seed=seed, epoch=epoch)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


def test_identity_batches_change_with_epoch_and_seed_and_cover_all_identities_over_epochs():
    labels = np.repeat(np.arange(7), [1, 2, 3, 5, 8, 4, 4])
    base = reid.identity_batches(labels, 12, 4, seed=3, epoch=0)
    assert len(base) == 2  # 7 identities, 3 per batch: one left out each epoch
    for other in (
        reid.identity_batches(labels, 12, 4, seed=3, epoch=1),
        reid.identity_batches(labels, 12, 4, seed=4, epoch=0),
    ):
        assert not all(np.array_equal(a, b) for a, b in zip(base, other, strict=True))
    covered = set()
    for epoch in range(20):
        for batch in reid.identity_batches(labels, 12, 4, seed=3, epoch=epoch):
            covered.update(labels[batch].tolist())
    assert covered == set(range(7))
    # person 0 (one image) is repeated; person 4 (eight) never is
    batch = np.concatenate(reid.identity_batches(labels, 28, 4, seed=0))
    runs = {labels[r[0]]: r for r in batch.reshape(7, 4)}
    assert runs[0].tolist() == [0, 0, 0, 0] and len(set(runs[4].tolist())) == 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"labels": [[0, 1]]}, "labels"),
        ({"labels": [0.0, 1.0]}, "labels"),
        ({"labels": [-1, 0]}, "labels"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 6}, "batch_size"),  # not a multiple of 4
        ({"batch_size": 16}, "batch_size"),  # 4 identities needed, 3 there
        ({"images_per_identity": 0}, "images_per_identity"),
        ({"images_per_identity": 1.5}, "images_per_identity"),
        ({"seed": -1}, "seed"),
        ({"epoch": "1"}, "epoch"),
    ],
)
def test_identity_batches_arguments(kwargs, name):
    arguments = {"labels": [0, 1, 1, 2], "batch_size": 8, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        reid.identity_batches(**arguments)


# ---- to_dataset ----


def test_to_dataset_spec_order_and_colour(tmp_path):
    base = tmp_path / MARKET
    _write(base / "bounding_box_train", ["0002_c1s1_000451_03.jpg"], colour=(200, 30, 90))
    _write(base / "bounding_box_train", ["0009_c4s1_000001_01.jpg"], colour=(10, 250, 128))
    _write(base / "query", [])
    _write(base / "bounding_box_test", [])
    splits, _, _ = _read_quietly(reid.market1501, tmp_path)
    labels, _ = reid.train_labels(splits["train"])
    ds = reid.to_dataset(splits["train"], image_size=(12, 6), labels=labels)
    spec = ds.element_spec
    assert set(spec) == {"image", "id", "cam", "label"}
    assert spec["image"] == tf.TensorSpec((12, 6, 3), tf.uint8)
    for key in ("id", "cam", "label"):
        assert spec[key] == tf.TensorSpec((), tf.int64)
    elements = list(ds.as_numpy_iterator())
    assert [e["id"] for e in elements] == [2, 9] and [e["cam"] for e in elements] == [1, 4]
    assert [e["label"] for e in elements] == [0, 1]
    # JPEG is lossy (even a flat colour drifts a little): within 3 levels
    for element, colour in zip(elements, [(200, 30, 90), (10, 250, 128)], strict=True):
        assert np.abs(element["image"].astype(int) - colour).max() <= 3
    plain = reid.to_dataset(splits["train"])
    assert set(plain.element_spec) == {"image", "id", "cam"}
    assert plain.element_spec["image"].shape == (256, 128, 3)


def test_to_dataset_resizes_with_antialiasing(tmp_path):
    stripes = np.zeros((8, 12, 3), np.uint8)
    stripes[:, 1::2] = 255  # one-pixel black / white columns
    path = tmp_path / "0001_c1s1_000001_01.jpg"
    assert cv2.imwrite(str(path), stripes, [cv2.IMWRITE_JPEG_QUALITY, 100])
    split = reid.Split(np.array([str(path)]), np.array([1]), np.array([1]))
    image = next(reid.to_dataset(split, image_size=(8, 4)).as_numpy_iterator())["image"]
    # antialiased: the stripes average out to grey (point sampling would give ~0 / ~255)
    assert image.shape == (8, 4, 3) and 60 <= image.min() and image.max() <= 200
    # rounded, not truncated: the same as resizing the decoded JPEG here
    decoded = tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3)
    resized = tf.image.resize(decoded, (8, 4), antialias=True).numpy()
    assert np.array_equal(image, np.round(resized).astype(np.uint8))
    assert not np.array_equal(image, resized.astype(np.uint8))  # truncation would differ


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"split": "folder"}, "split"),
        ({"image_size": 64}, "image_size"),
        ({"image_size": (64, 0)}, "image_size"),
        ({"labels": [0, 1, 2]}, "labels"),
        ({"labels": [0.5, 1.0]}, "labels"),
    ],
)
def test_to_dataset_arguments(kwargs, name):
    split = reid.Split(np.array(["a.jpg", "b.jpg"]), np.array([1, 2]), np.array([1, 1]))
    with pytest.raises(ValueError, match=f"`{name}`"):
        reid.to_dataset(**{"split": split, **kwargs})

"""CK+ reader (keras_has.data.ckplus) on small synthetic trees in the distributed layout.

Frames are flat-colour drawings: a background of 20 + k (k the frame number) with white
margins outside the centred square, and, on frames with a "face", a 192x192 block at
(x, y) = (100, 40) whose top half is 100 + 10 k and bottom half 50. The cascade is replaced by
`fake_detect`, which finds that block; INTER_AREA resizing of flat regions by whole factors
gives exact values, so every crop is known.
"""

import os

import cv2
import numpy as np
import pytest

from keras_has.data import ckplus

FACE = (100, 40, 192, 192)  # x, y, w, h

# (subject, sequence): (frames, label or None (no Emotion folder) or "empty" (empty folder),
# (height, width), colour, frames without a face)
TREE = {
    ("S005", "001"): (5, 3, (490, 640), False, ()),
    ("S005", "002"): (4, None, (490, 640), False, ()),
    ("S010", "001"): (6, 7, (480, 640), True, (1,)),
    ("S010", "002"): (4, "empty", (480, 640), False, ()),
    ("S011", "001"): (4, 1, (490, 640), True, ()),
    ("S014", "001"): (5, 5, (490, 640), False, (2,)),
    ("S014", "002"): (6, 2, (490, 640), False, ()),
    ("S020", "001"): (4, None, (490, 640), False, ()),
}


def frame(k, shape, face):
    """uint8 (H, W) frame number k (module docstring)."""
    h, w = shape
    image = np.full(shape, 255, np.uint8)
    x0 = (w - h) // 2
    image[:, x0 : x0 + h] = 20 + k
    if face:
        x, y, fw, fh = FACE
        image[y : y + fh // 2, x : x + fw] = 100 + 10 * k
        image[y + fh // 2 : y + fh, x : x + fw] = 50
    return image


def write_sequence(root, subject, sequence, n, label, shape=(490, 640), colour=False, no_face=()):
    folder = root / "cohn-kanade-images" / subject / sequence
    folder.mkdir(parents=True)
    for k in range(1, n + 1):
        image = frame(k, shape, k not in no_face)
        if colour:
            image = cv2.merge([image] * 3)
        cv2.imwrite(str(folder / f"{subject}_{sequence}_{k:08d}.png"), image)
    (folder / ".DS_Store").write_bytes(b"\0junk")  # hidden files are ignored
    if label is None:
        return
    emotion = root / "Emotion" / subject / sequence
    emotion.mkdir(parents=True)
    if label != "empty":
        text = label if isinstance(label, str) else f"   {float(label):.7e}\n"
        (emotion / f"{subject}_{sequence}_{n:08d}_emotion.txt").write_text(text)


def write_tree(root, tree=TREE):
    (root / "Emotion").mkdir(parents=True, exist_ok=True)
    (root / "cohn-kanade-images").mkdir(parents=True, exist_ok=True)
    for (subject, sequence), (n, label, shape, colour, no_face) in tree.items():
        write_sequence(root, subject, sequence, n, label, shape, colour, no_face)
    return root


def fake_detect(gray):
    x, y, _, _ = FACE
    return FACE if gray[y, x] >= 100 else None


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("ckplus"))


@pytest.fixture
def detect(monkeypatch):
    calls = []

    def recording(gray):
        calls.append(gray.shape)
        return fake_detect(gray)

    monkeypatch.setattr(ckplus, "_detect", recording)
    return calls


def expected_samples(peak_frames):
    """(subject, label, frame path tail, frame number) of each sample, in order."""
    out = []
    for (subject, sequence), (n, label, *_) in sorted(TREE.items()):
        if label is None or label == "empty":
            continue
        for k in [1, *range(n - peak_frames + 1, n + 1)]:
            name = f"{subject}/{sequence}/{subject}_{sequence}_{k:08d}.png"
            out.append((subject, 0 if k == 1 else label, name, k))
    return out


def expected_crop(subject, sequence, k, size):
    no_face = TREE[(subject, sequence)][-1]
    crop = np.full((size, size), 20 + k, np.uint8)
    if k not in no_face:
        crop[: size // 2] = 100 + 10 * k
        crop[size // 2 :] = 50
    return crop


@pytest.mark.parametrize("peak_frames, size", [(3, 96), (1, 48)])
def test_load_labels_sources_and_exact_crops(root, detect, peak_frames, size):
    faces = ckplus.load(root, image_size=size, peak_frames=peak_frames, num_folds=2)
    want = expected_samples(peak_frames)
    assert len(want) == 5 * (peak_frames + 1)
    assert faces.images.shape == (len(want), size, size, 1) and faces.images.dtype == np.uint8
    assert faces.labels.dtype == np.int64 and faces.folds.dtype == np.int64
    assert faces.labels.tolist() == [label for _, label, _, _ in want]
    assert faces.subjects.tolist() == [s for s, _, _, _ in want]
    tails = [
        os.path.relpath(p, root / "cohn-kanade-images").replace(os.sep, "/") for p in faces.sources
    ]
    assert tails == [name for _, _, name, _ in want]
    for i, (subject, _, name, k) in enumerate(want):
        crop = expected_crop(subject, name.split("/")[1], k, size)
        np.testing.assert_array_equal(faces.images[i, :, :, 0], crop, err_msg=name)
    assert len(detect) == len(want)  # only the needed frames are read
    assert sorted({shape for shape in detect}) == [(480, 640), (490, 640)]


def test_report_lists_unlabelled_and_no_face(root, detect):
    faces = ckplus.load(root, num_folds=2)
    report = faces.report
    assert report.labelled == ["S005/001", "S010/001", "S011/001", "S014/001", "S014/002"]
    assert report.unlabelled == ["S005/002", "S010/002", "S020/001"]
    tails = [os.path.basename(p) for p in report.no_face]
    assert tails == ["S010_001_00000001.png"]  # S014/001's faceless frame 2 is not read
    assert faces.labels[4] == 0 and faces.images[4, 0, 0, 0] == 21  # centred crop, frame 1
    assert ckplus.LABELS[faces.labels[5]] == "surprise"


def test_no_face_among_peak_frames(tmp_path, detect):
    write_tree(tmp_path, {("S001", "001"): (5, 4, (490, 640), False, (4,))})
    with pytest.raises(ValueError, match="num_folds"):  # one subject, two folds
        ckplus.load(tmp_path, peak_frames=2, num_folds=2)
    write_sequence(tmp_path, "S002", "001", 4, 6)
    faces = ckplus.load(tmp_path, peak_frames=2, num_folds=2)
    assert [os.path.basename(p) for p in faces.report.no_face] == ["S001_001_00000004.png"]
    assert faces.labels.tolist() == [0, 4, 4, 0, 6, 6]
    np.testing.assert_array_equal(faces.images[1, :, :, 0], np.full((96, 96), 24, np.uint8))
    np.testing.assert_array_equal(faces.images[2, :48, :, 0], np.full((48, 96), 150, np.uint8))


def test_detect_faces_false_centre_crops_everything(root, detect):
    faces = ckplus.load(root, image_size=49, num_folds=2, detect_faces=False)
    assert detect == [] and faces.report.no_face == []
    for i, (_, _, name, k) in enumerate(expected_samples(3)):
        # The face block lies inside the centre square, so the crop is not flat: check the
        # white margins are out (centred) and the top-left corner is background.
        assert faces.images[i, 0, 0, 0] == 20 + k, name
        assert faces.images[i].max() < 255, name


def test_clipped_box(tmp_path, monkeypatch):
    write_tree(tmp_path, {("S001", "001"): (4, 1, (490, 640), False, ()), **_one("S002")})
    monkeypatch.setattr(ckplus, "_detect", lambda gray: (600, -20, 100, 60))  # clipped: 40x40
    faces = ckplus.load(tmp_path, image_size=8, num_folds=2)
    np.testing.assert_array_equal(faces.images[..., 0], np.full((8, 8, 8), 255, np.uint8))
    monkeypatch.setattr(ckplus, "_detect", lambda gray: (700, 0, 10, 10))  # outside: no face
    faces = ckplus.load(tmp_path, image_size=8, num_folds=2)
    assert len(faces.report.no_face) == 8


def _one(subject, label=1):
    return {(subject, "001"): (4, label, (490, 640), False, ())}


def test_folds_round_robin_and_fold_split(root, detect):
    faces = ckplus.load(root, num_folds=3)
    assert faces.num_folds == 3
    fold_of = {"S005": 0, "S010": 1, "S011": 2, "S014": 0}  # sorted subjects, round-robin
    assert faces.folds.tolist() == [fold_of[s] for s in faces.subjects]
    for subject in set(faces.subjects.tolist()):
        assert len(set(faces.folds[faces.subjects == subject].tolist())) == 1
    assert np.bincount(faces.folds).tolist() == [12, 4, 4]
    for fold in range(3):
        train, test = ckplus.fold_split(faces, fold)
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert np.all(faces.folds[test] == fold) and np.all(faces.folds[train] != fold)
        assert sorted([*train, *test]) == list(range(len(faces.labels)))
        assert not set(faces.subjects[train]) & set(faces.subjects[test])
    assert ckplus.fold_split(faces, 1)[1].tolist() == [4, 5, 6, 7]
    for bad in (3, -1, 1.0, None):
        with pytest.raises(ValueError, match="fold"):
            ckplus.fold_split(faces, bad)
    with pytest.raises(ValueError, match="faces"):
        ckplus.fold_split({"folds": faces.folds}, 0)


@pytest.mark.parametrize(
    "text", ["9.0", "abc", "1.0 2.0", "", "  2.5000000e+00\n", "-1", "nan", "\xe9"]
)
def test_malformed_emotion_file_names_it(tmp_path, text):
    write_tree(tmp_path, {**_one("S001"), **_one("S002", label=text)})
    with pytest.raises(ckplus.CKPlusError, match="S002_001_00000004_emotion.txt"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)


def test_label_written_as_integer_and_zero_accepted(tmp_path):
    write_tree(tmp_path, {**_one("S001", label="6\n"), **_one("S002", label="0.0")})
    faces = ckplus.load(tmp_path, num_folds=2, detect_faces=False, peak_frames=1)
    assert faces.labels.tolist() == [0, 6, 0, 0]


def test_corrupt_files_are_errors(tmp_path):
    write_tree(tmp_path, {**_one("S001"), **_one("S002")})
    bad = tmp_path / "cohn-kanade-images" / "S002" / "001" / "S002_001_00000004.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ckplus.CKPlusError, match="S002_001_00000004.png"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)
    bad.write_bytes(b"")
    with pytest.raises(ckplus.CKPlusError, match="S002_001_00000004.png"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)
    bad.unlink()  # 3 frames left: too few for peak_frames=3
    with pytest.raises(ckplus.CKPlusError, match="3 frames"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)
    assert len(ckplus.load(tmp_path, num_folds=2, peak_frames=2, detect_faces=False).labels) == 6


def test_two_emotion_files_or_no_frames_folder(tmp_path):
    write_tree(tmp_path, {**_one("S001"), **_one("S002")})
    extra = tmp_path / "Emotion" / "S002" / "001" / "S002_001_00000003_emotion.txt"
    extra.write_text("1.0")
    with pytest.raises(ckplus.CKPlusError, match="2 emotion files"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)
    extra.unlink()
    orphan = tmp_path / "Emotion" / "S003" / "001"
    orphan.mkdir(parents=True)
    (orphan / "S003_001_00000009_emotion.txt").write_text("2.0")
    with pytest.raises(ckplus.CKPlusError, match="S003.001.: 0 frames"):
        ckplus.load(tmp_path, num_folds=2, detect_faces=False)


def test_missing_root_or_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*cohn-kanade-images"):
        ckplus.load(tmp_path / "nowhere")
    (tmp_path / "cohn-kanade-images").mkdir()
    with pytest.raises(FileNotFoundError, match="Emotion"):
        ckplus.load(tmp_path)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"image_size": 0}, "image_size"),
        ({"image_size": 96.0}, "image_size"),
        ({"image_size": True}, "image_size"),
        ({"peak_frames": 0}, "peak_frames"),
        ({"num_folds": 1}, "num_folds"),
        ({"num_folds": "10"}, "num_folds"),
        ({"num_folds": 5}, "num_folds"),  # more folds than the 4 labelled subjects
        ({"detect_faces": 1}, "detect_faces"),
        ({"root": None}, "root"),
    ],
)
def test_argument_errors(root, kwargs, name):
    kwargs = {"root": root, **kwargs}
    with pytest.raises(ValueError, match=name) as info:
        ckplus.load(**kwargs)
    assert not isinstance(info.value, ckplus.CKPlusError)


def test_argument_errors_come_before_the_file_system(tmp_path):
    with pytest.raises(ValueError, match="peak_frames"):
        ckplus.load(tmp_path / "nowhere", peak_frames=-1)


def test_real_cascade_loads_and_finds_no_face_on_a_blank_image(tmp_path):
    xml = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    if hasattr(cv2, "CascadeClassifier") and os.path.isfile(xml):
        assert not ckplus._cascade().empty()
        assert ckplus._detect(np.full((490, 640), 128, np.uint8)) is None
        assert ckplus._detect(np.zeros((120, 160), np.uint8)) is None
    else:  # OpenCV 5 without the cascade: a clear error, never a silent fallback
        write_tree(tmp_path, {**_one("S001"), **_one("S002")})
        with pytest.raises(RuntimeError, match="detect_faces=False"):
            ckplus.load(tmp_path, num_folds=2)

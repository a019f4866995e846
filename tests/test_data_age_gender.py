"""UTKFace and APPA-REAL readers (keras_has.data.age_gender) on small folders in the official
layouts, written here: flat-colour JPEGs (cv2.imwrite) and csv files. Expected labels are
written by hand from the file names and csv rows, not computed with the library's code."""

import warnings

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_has.data import age_gender as A

GT_HEADER = "file_name,num_ratings,apparent_age_avg,apparent_age_std,real_age\n"
CATEGORIES_HEADER = "file,gender,race,makeup,time,happiness\n"


def write_jpeg(path, rgb=(200, 30, 90), height=16, width=24):
    """A flat-colour JPEG (quality 100) of colour `rgb`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = rgb[::-1]  # OpenCV writes BGR
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 100])


def read_all(function, *args, **kwargs):
    """(function's result, the warning messages it gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [str(w.message) for w in caught]


# UTKFace ------------------------------------------------------------------------------------

GOOD_UTK = {  # name -> (age, gender)
    "26_0_2_20170104023102422.jpg.chip.jpg": (26, 0),
    "1_1_4_20161221193016140.jpg.chip.jpg": (1, 1),
    "0_1_0_20170110213316880.jpg.chip.jpg": (0, 1),
    "116_1_0_20170120134921760.jpg.chip.jpg": (116, 1),
    "105_0_0_20170112213001988.jpg.chip.jpg": (105, 0),
    "45_0_3_20170119171417728.jpg": (45, 0),  # in-the-wild naming, no .chip.jpg
}

MALFORMED_UTK = {  # name -> words the reason must hold
    "39_1_20170116174525125.jpg.chip.jpg": "3 fields",  # the release's missing race
    "61_1_20170109142408075.jpg.chip.jpg": "3 fields",
    "61_3_20170109150557335.jpg.chip.jpg": "3 fields",
    "26_0_2_1_20170104023102422.jpg.chip.jpg": "5 fields",
    "abc_0_2_20170104023102422.jpg.chip.jpg": "age 'abc'",
    "26_m_2_20170104023102422.jpg.chip.jpg": "gender 'm'",
    "26_2_2_20170104023102422.jpg.chip.jpg": "gender '2'",
    "26_0_5_20170104023102422.jpg.chip.jpg": "race '5'",
    "-3_0_2_20170104023102422.jpg.chip.jpg": "age '-3'",
    "117_0_2_20170104023102422.jpg.chip.jpg": "age '117'",
    "999_1_2_20170104023102422.jpg.chip.jpg": "age '999'",
    "26_0_2_2017x.jpg.chip.jpg": "date&time '2017x'",
}


def utk_folder(tmp_path, names):
    folder = tmp_path / "UTKFace"
    for name in names:
        write_jpeg(folder / name)
    return folder


def test_utkface_parses_ages_and_genders_sorted_by_path(tmp_path):
    folder = utk_folder(tmp_path, GOOD_UTK)
    (folder / "README.txt").write_text("not an image")
    write_jpeg(folder / "sub" / "30_0_0_20170104023102422.jpg.chip.jpg")  # subfolder: not read
    (records, report), messages = read_all(A.utkface, folder)
    names = sorted(GOOD_UTK)
    assert list(records.paths) == [str(folder / n) for n in names]
    assert records.paths.dtype.kind == "U"
    assert records.ages.dtype == np.float32 and records.genders.dtype == np.int64
    np.testing.assert_array_equal(records.ages, [GOOD_UTK[n][0] for n in names])
    np.testing.assert_array_equal(records.genders, [GOOD_UTK[n][1] for n in names])
    assert records.ages.max() == 116  # true ages kept: the caller clips to 0..100
    assert records.real_ages is None and len(records) == 6
    assert report.count == 0 and report.malformed == [] and messages == []


def test_utkface_malformed_names_reported_counted_never_labelled(tmp_path):
    folder = utk_folder(tmp_path, list(GOOD_UTK) + list(MALFORMED_UTK))
    (records, report), messages = read_all(A.utkface, str(folder))
    assert len(records) == len(GOOD_UTK)
    assert not set(MALFORMED_UTK) & {p.rsplit("/", 1)[-1] for p in records.paths}
    assert report.count == len(MALFORMED_UTK) == 12
    reasons = dict(report.malformed)
    assert set(reasons) == {str(folder / n) for n in MALFORMED_UTK}
    for name, words in MALFORMED_UTK.items():
        assert words in reasons[str(folder / name)], name
    # one line per file up to 5, then "and N more"
    assert len(messages) == 6
    for (path, reason), message in zip(report.malformed[:5], messages):
        assert path in message and reason in message
    assert "and 7 more" in messages[-1]


def test_utkface_few_malformed_warns_each_and_no_more_line(tmp_path):
    bad = list(MALFORMED_UTK)[:3]
    folder = utk_folder(tmp_path, list(GOOD_UTK)[:1] + bad)
    (_, report), messages = read_all(A.utkface, folder)
    assert report.count == 3 and len(messages) == 3
    assert not any("more" in m for m in messages)


def test_utkface_errors(tmp_path):
    with pytest.raises(ValueError, match="`folder`"):
        A.utkface(3)
    with pytest.raises(FileNotFoundError, match=r"nowhere.*\[age\]_\[gender\]"):
        A.utkface(tmp_path / "nowhere")
    folder = utk_folder(tmp_path, list(MALFORMED_UTK)[:2])
    with pytest.raises(A.AgeGenderError, match="no usable image"), pytest.warns(UserWarning):
        A.utkface(folder)


# APPA-REAL ----------------------------------------------------------------------------------

FACE_RGB, ORIGINAL_RGB = (40, 180, 90), (230, 60, 20)


def appa_root(tmp_path, rows, split="valid", images=None, categories=None):
    """<root>/<split>/ with an original and a face crop of each `images` name (default: the
    rows' file names), <root>/gt_avg_<split>.csv of `rows`, optional allcategories."""
    root = tmp_path / "appa-real-release"
    names = [r.split(",")[0] for r in rows] if images is None else images
    for name in names:
        write_jpeg(root / split / name, ORIGINAL_RGB, 32, 24)
        write_jpeg(root / split / f"{name}_face.jpg", FACE_RGB, 16, 16)
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / f"gt_avg_{split}.csv").write_text(GT_HEADER + "".join(r + "\n" for r in rows))
    if categories is not None:
        text = CATEGORIES_HEADER + "".join(c + "\n" for c in categories)
        (root / f"allcategories_{split}.csv").write_text(text)
    return root


GOOD_ROWS = [  # csv order, not sorted
    "000002.jpg,38,25.5,3.2,23",
    "000000.jpg,36,5.0,1.146,4",
    "000001.jpg,63,20.33,3.1,18",
]


def test_appa_real_faces_csv_order_apparent_and_real_ages(tmp_path):
    root = appa_root(tmp_path, GOOD_ROWS)
    (records, report), messages = read_all(A.appa_real, root, "valid")
    order = ["000002.jpg", "000000.jpg", "000001.jpg"]
    assert list(records.paths) == [str(root / "valid" / f"{n}_face.jpg") for n in order]
    np.testing.assert_allclose(records.ages, [25.5, 5.0, 20.33], rtol=1e-6)
    np.testing.assert_array_equal(records.real_ages, [23, 4, 18])
    assert records.ages.dtype == records.real_ages.dtype == np.float32
    assert records.genders is None
    assert report.count == 0 and messages == []
    originals, _ = A.appa_real(root, "valid", faces=False)
    assert list(originals.paths) == [str(root / "valid" / n) for n in order]
    np.testing.assert_array_equal(originals.ages, records.ages)


@pytest.mark.parametrize("split", A.APPA_SPLITS)
def test_appa_real_each_split_reads_its_own_folder_and_csv(tmp_path, split):
    root = appa_root(tmp_path, [f"00{i}.jpg,1,{i}.5,0,{i}" for i in range(2)], split=split)
    records, _ = A.appa_real(root, split)
    assert all(p.startswith(str(root / split) + "/") for p in records.paths)
    np.testing.assert_array_equal(records.ages, [0.5, 1.5])
    other = next(s for s in A.APPA_SPLITS if s != split)
    with pytest.raises(FileNotFoundError, match=other):
        A.appa_real(root, other)


def test_appa_real_bad_rows_reported_and_skipped(tmp_path):
    bad = [
        "000003.jpg,10,abc,1.0,30",  # non-numeric
        "000004.jpg,10,,1.0,30",  # missing value
        "000005.jpg,10,31.0,1.0",  # missing last value
        "000006.jpg,10,31.0,1.0,nan",  # not finite
        "000007.jpg,10,-2.0,1.0,30",  # negative age
        "000000.jpg,36,5.0,1.146,4",  # repeated
        "000009.jpg,10,31.0,1.0,30",  # image missing
        ",10,31.0,1.0,30",  # empty file name
    ]
    images = [f"00000{i}.jpg" for i in range(8)]  # 000009 has none
    root = appa_root(tmp_path, GOOD_ROWS + bad, images=images)
    (records, report), messages = read_all(A.appa_real, root, "valid")
    assert len(records) == 3 and report.count == len(bad) == 8
    kept = [p.rsplit("/", 1)[-1] for p in records.paths]
    assert kept == ["000002.jpg_face.jpg", "000000.jpg_face.jpg", "000001.jpg_face.jpg"]
    csv_path = str(root / "gt_avg_valid.csv")
    paths, reasons = zip(*report.malformed)
    assert paths[:6] == tuple(f"{csv_path}:{line}" for line in range(5, 11))
    assert paths[6] == str(root / "valid" / "000009.jpg_face.jpg")
    assert "apparent_age_avg 'abc'" in reasons[0] and "apparent_age_avg ''" in reasons[1]
    assert "real_age ''" in reasons[2] and "real_age 'nan'" in reasons[3]
    assert "apparent_age_avg '-2.0'" in reasons[4] and "repeated" in reasons[5]
    assert reasons[6] == "image missing" and "empty file_name" in reasons[7]
    assert len(messages) == 6 and "and 3 more" in messages[-1]


def test_appa_real_face_crop_missing_is_reported_even_with_the_original(tmp_path):
    root = appa_root(tmp_path, GOOD_ROWS)
    (root / "valid" / "000000.jpg_face.jpg").unlink()
    (records, report), messages = read_all(A.appa_real, root, "valid")
    assert report.malformed == [(str(root / "valid" / "000000.jpg_face.jpg"), "image missing")]
    assert len(records) == 2 and len(messages) == 1
    assert len(A.appa_real(root, "valid", faces=False)[0]) == 3


def test_appa_real_optional_gender_from_allcategories(tmp_path):
    categories = [
        "000000.jpg,female,caucasian,makeup,young,happy",
        "000001.jpg,male,asian,no_makeup,young,neutral",
        "000002.jpg,Male,afroamerican,no_makeup,young,neutral",
    ]
    root = appa_root(tmp_path, GOOD_ROWS, categories=categories)
    records, report = A.appa_real(root, "valid")
    np.testing.assert_array_equal(records.genders, [0, 1, 0])  # csv order 000002, 000000, 000001
    assert records.genders.dtype == np.int64 and report.count == 0
    categories[1] = "000001.jpg,unknown,asian,no_makeup,young,neutral"
    root = appa_root(tmp_path, GOOD_ROWS, categories=categories[:2])  # 000002 has no row
    (records, report), _ = read_all(A.appa_real, root, "valid")
    assert list(records.genders) == [1] and report.count == 2
    reasons = [r for _, r in report.malformed]
    assert "no row in allcategories_valid.csv" in reasons[0] and "'unknown'" in reasons[1]


def test_appa_real_errors(tmp_path):
    root = appa_root(tmp_path, GOOD_ROWS)
    with pytest.raises(ValueError, match="`split`"):
        A.appa_real(tmp_path / "nowhere", "validation")  # arguments first
    with pytest.raises(ValueError, match="`faces`"):
        A.appa_real(root, "valid", faces=1)
    with pytest.raises(ValueError, match="`root`"):
        A.appa_real(None, "valid")
    with pytest.raises(FileNotFoundError, match=r"nowhere.*gt_avg_"):
        A.appa_real(tmp_path / "nowhere", "valid")
    (root / "gt_avg_valid.csv").unlink()
    with pytest.raises(FileNotFoundError, match="gt_avg_valid.csv"):
        A.appa_real(root, "valid")
    (root / "gt_avg_valid.csv").write_text("file_name,real_age\n000000.jpg,4\n")
    with pytest.raises(A.AgeGenderError, match="apparent_age_avg"):
        A.appa_real(root, "valid")


# load_images, to_dataset --------------------------------------------------------------------


def test_load_images_shape_dtype_and_colour(tmp_path):
    root = appa_root(tmp_path, GOOD_ROWS)
    faces, _ = A.appa_real(root, "valid")
    originals, _ = A.appa_real(root, "valid", faces=False)
    images = A.load_images(faces)
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8
    # JPEG is lossy: a flat colour comes back within a few levels, here 3; RGB, not BGR.
    assert np.abs(images.astype(int) - FACE_RGB).max() <= 3
    images = A.load_images(originals, image_size=8)
    assert images.shape == (3, 8, 8, 3)
    assert np.abs(images.astype(int) - ORIGINAL_RGB).max() <= 3


def test_load_images_errors(tmp_path):
    root = appa_root(tmp_path, GOOD_ROWS)
    records, _ = A.appa_real(root, "valid")
    with pytest.raises(ValueError, match="`image_size`"):
        A.load_images(records, image_size=0)
    with pytest.raises(ValueError, match="`records`"):
        A.load_images(list(records.paths))
    (root / "valid" / "000000.jpg_face.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(A.AgeGenderError, match="000000.jpg_face.jpg"):
        A.load_images(records)


def test_to_dataset_spec_values_and_order(tmp_path):
    categories = ["000000.jpg,female,x,x,x,x", "000001.jpg,male,x,x,x,x", "000002.jpg,male,x,x,x,x"]
    root = appa_root(tmp_path, GOOD_ROWS, categories=categories)
    records, _ = A.appa_real(root, "valid", faces=False)
    ds = A.to_dataset(records, image_size=20)
    assert ds.element_spec == {
        "image": tf.TensorSpec((20, 20, 3), tf.uint8),
        "age": tf.TensorSpec((), tf.float32),
        "gender": tf.TensorSpec((), tf.int64),
    }
    elements = list(ds.as_numpy_iterator())
    np.testing.assert_allclose([e["age"] for e in elements], [25.5, 5.0, 20.33], rtol=1e-6)
    assert [e["gender"] for e in elements] == [0, 1, 0]
    for element in elements:  # JPEG is lossy: within 3 levels of the flat colour
        assert np.abs(element["image"].astype(int) - ORIGINAL_RGB).max() <= 3


def test_to_dataset_unknown_gender_is_minus_one(tmp_path):
    folder = utk_folder(tmp_path, list(GOOD_UTK)[:2])
    records, _ = A.utkface(folder)
    records.genders = None
    elements = list(A.to_dataset(records, image_size=4).as_numpy_iterator())
    assert [e["gender"] for e in elements] == [-1, -1]
    assert [e["age"] for e in elements] == list(records.ages)
    with pytest.raises(ValueError, match="`image_size`"):
        A.to_dataset(records, image_size=2.0)

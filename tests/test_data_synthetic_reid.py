"""The built-in re-identification data (`synthetic_reid`): splits, ids, cameras, occluders and
Market-1501's file naming."""

import re

import numpy as np
import pytest

from keras_has.data import synthetic_reid as sr


@pytest.fixture(scope="module")
def people():
    return sr.make(8, images_per_camera=2, num_cameras=3, distractors=5, junk=4, seed=2)


def test_deterministic_splits_and_ids(people):
    again = sr.make(8, images_per_camera=2, num_cameras=3, distractors=5, junk=4, seed=2)
    np.testing.assert_array_equal(people.images, again.images)
    assert not np.array_equal(people.images, sr.make(8, 2, 3, distractors=5, junk=4, seed=3).images)
    assert people.images.shape == (8 * 3 * 2 + 5 + 4, 128, 64, 3)
    train, query, gallery = (people.splits == s for s in sr.SPLITS)
    assert set(people.ids[train]) == {1, 2, 3, 4}  # the first half trains
    assert set(people.ids[query]) == {5, 6, 7, 8}  # the second half is tested
    # One query per test person and camera; the rest of the test people's images in the gallery.
    assert sorted(zip(people.ids[query], people.cams[query])) == [
        (p, c) for p in range(5, 9) for c in range(1, 4)
    ]
    assert np.count_nonzero(gallery & (people.ids > 0)) == 4 * 3
    assert np.count_nonzero(people.ids == 0) == 5 and np.count_nonzero(people.ids == -1) == 4
    assert set(people.splits[people.ids <= 0]) == {"gallery"}
    assert set(people.cams) == {1, 2, 3}
    assert not people.occluded[~query].any()


def test_occluders_are_in_query_images_only():
    people = sr.make(40, num_cameras=4, occluded_fraction=0.5, seed=0)
    query = people.splits == "query"
    assert 0.25 < people.occluded[query].mean() < 0.75  # 80 queries, p 0.5 (seeded)


def test_written_in_market_naming(tmp_path, people):
    root = sr.write_market(tmp_path / "market", people)
    names = {
        split: sorted(p.name for p in (root / folder).iterdir())
        for split, folder in (
            ("train", "bounding_box_train"),
            ("query", "query"),
            ("gallery", "bounding_box_test"),
        )
    }
    pattern = re.compile(r"^(-1|\d{4})_c(\d)s1_\d{6}_01\.jpg$")
    for split, files in names.items():
        assert len(files) == np.count_nonzero(people.splits == split)
        parsed = [pattern.match(f).groups() for f in files]
        ids = sorted(int(pid) for pid, _ in parsed)
        assert ids == sorted(people.ids[people.splits == split].tolist())


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_identities": 5}, "num_identities"),
        ({"num_cameras": 9}, "num_cameras"),
        ({"image_size": (32, 64)}, "image_size"),
        ({"occluded_fraction": 2}, "occluded_fraction"),
    ],
)
def test_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        sr.make(**kwargs)

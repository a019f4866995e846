"""Video features: the built-in generator, the THUMOS14-style reader, the tf.data pipelines."""

import numpy as np
import pytest
from helpers import write_thumos
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_has.data import synthetic_videos, thumos, videos

# ------------------------------------------------------------------ sampling


def test_counts_are_positive_ints():
    np.testing.assert_array_equal(videos.uniform_indices(np.int64(4), 2), [0, 2])
    for bad in ((0, 2), (4, 0), (4.0, 2), (True, 2)):
        with pytest.raises(ValueError, match="`num_(features|steps)` must be an int >= 1"):
            videos.uniform_indices(*bad)
    with pytest.raises(ValueError, match="`num_steps` must be an int >= 1"):
        synthetic_videos.make(2, num_classes=4, num_steps=0)
    with pytest.raises(ValueError, match="`features_per_second` must be a finite number > 0"):
        thumos.thumos("unused", "unused", features_per_second=0)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 3000))
def test_uniform_indices_cover_the_video_in_order(num_features, num_steps):
    index = videos.uniform_indices(num_features, num_steps)
    assert index.shape == (num_steps,) and index[0] == 0
    assert (np.diff(index) >= 0).all() and index[-1] < num_features
    # Step i starts at time i * N / T (in features): the index is that time, floored.
    np.testing.assert_array_equal(index, np.floor(np.arange(num_steps) * num_features / num_steps))
    if num_features >= num_steps:
        assert len(np.unique(index)) == num_steps  # no feature twice


# ------------------------------------------------------------- built-in data


@pytest.fixture(scope="module")
def made():
    return synthetic_videos.make(40, num_classes=4, feature_dim=16, num_steps=500, seed=3)


def test_generated_videos_are_deterministic_from_the_seed(made):
    again = synthetic_videos.make(40, num_classes=4, feature_dim=16, num_steps=500, seed=3)
    np.testing.assert_array_equal(made.features, again.features)
    other = synthetic_videos.make(40, num_classes=4, feature_dim=16, num_steps=500, seed=4)
    assert not np.array_equal(made.features, other.features)
    assert made.features.shape == (40, 500, 16) and made.features.dtype == np.float32


def test_ground_truth_segments_are_exactly_the_action_steps(made):
    for phases, segments, step in zip(made.phases, made.segments, made.step_seconds):
        assert 1 <= len(segments) <= 3
        # A step belongs to an action if its time (i * step) lies in a segment.
        times = np.arange(len(phases)) * step
        inside = np.zeros(len(phases), bool)
        for start, end in segments:
            assert 20 - 1e-9 <= end - start <= 45 + 1e-9
            inside |= (times >= start - 1e-9) & (times < end - 1e-9)
        np.testing.assert_array_equal(phases >= 0, inside)
        assert 150 <= step * len(phases) <= 300


def test_each_action_has_a_short_key_moment_between_its_other_phases(made):
    for phases in made.phases:
        for a, b in (r for r in _runs(phases >= 0)):
            action = phases[a:b]
            assert list(dict.fromkeys(action)) == [0, 1, 2]  # build-up, key, follow-through
            assert 0.08 < np.mean(action == synthetic_videos.KEY_PHASE) < 0.25


def test_the_key_moment_carries_the_stronger_class_signal(made):
    signals = synthetic_videos.class_signals(4, 16)
    strength = np.linalg.norm(signals, axis=-1)  # (classes, phases)
    assert (strength[:, 1] > 1.5 * strength[:, 0]).all()
    # Motion through the whole action: the same float64 host values in both phases.
    np.testing.assert_allclose(signals[:, 0], signals[:, 2], rtol=0, atol=1e-12)
    # The features are noise (variance 1 per dimension) plus the signal of each step's phase.
    for video in range(5):
        label, phases = made.labels[video], made.phases[video]
        residual = made.features[video] - np.where(
            phases[:, None] >= 0, signals[label][phases.clip(0)], 0.0
        )
        assert abs(residual.std() - 1.0) < 0.15


def test_video_set_lists_every_segment_with_its_class(made):
    video_set = made.video_set(4)
    assert video_set.num_videos == 40 and video_set.classes[0] == "action_0"
    assert len(video_set.ground_truth) == sum(len(s) for s in made.segments)
    first = next(iter(video_set.examples()))
    assert first["features"].shape == (500, 16)
    np.testing.assert_array_equal(first["label"], np.eye(4)[made.labels[0]])
    assert first["video"].numpy().decode() == made.names[0]


def _runs(mask):
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))


# ---------------------------------------------------------------- pipelines


def test_train_dataset_hides_whole_segments_with_the_mean_feature(made):
    video_set = made.video_set(4)
    mean = videos.fill_mean(video_set)
    np.testing.assert_allclose(mean, made.features.reshape(-1, 16).mean(0), atol=1e-5)
    batches = list(videos.train_dataset(video_set, 8, 50, 0.5, mean, seed=1))
    assert len(batches) == 5  # 40 videos, batches of 8
    hidden_fraction = []
    for features, targets in batches:
        features = features.numpy()
        # float32 label distributions summed in float32: a few ulps off 1.
        np.testing.assert_allclose(targets.numpy().sum(-1), 1.0, rtol=0, atol=1e-6)
        is_fill = np.all(np.isclose(features, mean.astype(np.float32), atol=1e-6), axis=-1)
        cells = is_fill.reshape(len(features), 10, 50)
        assert (cells.all(-1) | ~cells.any(-1)).all()  # whole 50-step segments or nothing
        hidden_fraction.append(cells.all(-1).mean())
    assert abs(np.mean(hidden_fraction) - 0.5) < 0.1
    # Seeded: the same epoch again is the same; unhidden steps are the video's own features.
    again = list(videos.train_dataset(video_set, 8, 50, 0.5, mean, seed=1))
    np.testing.assert_array_equal(batches[0][0].numpy(), again[0][0].numpy())


def test_train_dataset_without_hiding_keeps_every_feature(made):
    video_set = made.video_set(4)
    features, _ = next(iter(videos.train_dataset(video_set, 40, None, seed=0)))
    assert sorted(map(bytes, features.numpy().reshape(40, -1))) == sorted(
        map(bytes, made.features.reshape(40, -1))
    )


def test_hiding_needs_the_mean(made):
    with pytest.raises(ValueError, match="`mean`"):
        videos.train_dataset(made.video_set(4), 8, 100)


# ------------------------------------------------------------------- THUMOS


def test_reader_samples_each_video_and_keeps_its_segments(tmp_path):
    features, annotations = write_thumos(tmp_path)
    video_set = thumos.thumos(features, annotations, features_per_second=10, num_steps=64)
    assert video_set.classes == ["Diving", "HighJump"]  # "Ambiguous" is not a class
    assert video_set.num_videos == 6 and video_set.skipped == ()
    assert len(video_set.ground_truth) == 12
    assert ("video_validation_0000001", 1, 2.5, 5.0) in video_set.ground_truth
    for i, example in enumerate(video_set.examples()):
        raw = np.load(features / f"video_validation_{i:07d}.npy")
        np.testing.assert_array_equal(
            example["features"].numpy(), raw[videos.uniform_indices(len(raw), 64)]
        )
        # A float32 tensor against the float64 value: one float32 rounding.
        assert example["step_seconds"].numpy() == pytest.approx(len(raw) / 10 / 64, rel=1e-6)
        np.testing.assert_array_equal(example["label"], np.eye(2)[i % 2])


def test_a_corrupt_or_missing_file_is_reported_counted_and_skipped(tmp_path):
    features, annotations = write_thumos(tmp_path, corrupt=["video_validation_0000002"])
    (features / "video_validation_0000003.npy").unlink()
    np.save(features / "video_validation_0000004.npy", np.zeros((10, 3), np.float32))  # other D
    with pytest.warns(UserWarning, match="skipping") as caught:
        video_set = thumos.thumos(features, annotations, num_steps=16)
    assert len(caught) == 3
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in video_set.skipped}
    assert "unreadable" in reasons["video_validation_0000002.npy"]
    assert reasons["video_validation_0000003.npy"] == "no feature file"
    assert "feature size 3, expected 8" in reasons["video_validation_0000004.npy"]
    assert video_set.num_videos == 3 == len(list(video_set.examples()))
    assert {v for v, *_ in video_set.ground_truth} == {
        "video_validation_0000000",
        "video_validation_0000001",
        "video_validation_0000005",
    }


def test_labels_file_adds_videos_without_temporal_annotations(tmp_path):
    features, annotations = write_thumos(tmp_path)
    np.save(features / "extra.npy", np.ones((30, 8), np.float32))
    labels = tmp_path / "labels.txt"
    labels.write_text("extra CricketShot\n")
    video_set = thumos.thumos(features, annotations, num_steps=16, labels_file=labels)
    assert video_set.classes == ["CricketShot", "Diving", "HighJump"]
    assert video_set.num_videos == 7
    # The evaluation set shares the training set's class indices.
    same = thumos.thumos(features, annotations, num_steps=16, classes=video_set.classes)
    assert same.classes == video_set.classes and len(same.ground_truth) == 12


def test_a_malformed_annotation_line_names_the_file_and_line(tmp_path):
    features, annotations = write_thumos(tmp_path)
    (annotations / "Diving_val.txt").write_text("video_validation_0000000 1.0 4.0\nbroken 5\n")
    with pytest.raises(thumos.ThumosFilesError, match=r"Diving_val.txt:2: expected '<video>") as e:
        thumos.thumos(features, annotations)
    assert e.value.argument == "annotations_dir" and isinstance(e.value, ValueError)
    (annotations / "Diving_val.txt").write_text("video_validation_0000000 4.0 1.0\n")
    with pytest.raises(ValueError, match="0 <= start < end"):
        thumos.thumos(features, annotations)


def test_missing_folders_and_files_are_named(tmp_path):
    with pytest.raises(thumos.ThumosFilesError, match="`features_dir`") as e:
        thumos.thumos(tmp_path / "nowhere", tmp_path)
    assert e.value.argument == "features_dir"
    (tmp_path / "f").mkdir()
    with pytest.raises(ValueError, match="`annotations_dir`: no '<Class>_val.txt' files") as e:
        thumos.thumos(tmp_path / "f", tmp_path)
    assert e.value.argument == "annotations_dir"
    assert e.value.problem == f"no '<Class>_val.txt' files in {str(tmp_path)!r}."
    (tmp_path / "t").mkdir()
    features, annotations = write_thumos(tmp_path / "t")
    (tmp_path / "labels.txt").write_text("video_validation_0000000\n")
    with pytest.raises(thumos.ThumosFilesError, match="labels.txt:1: expected") as e:
        thumos.thumos(features, annotations, labels_file=tmp_path / "labels.txt")
    assert e.value.argument == "labels_file"


def test_training_shuffles_file_names_and_reads_the_files_after(tmp_path):
    features, annotations = write_thumos(tmp_path, count=6)
    video_set = thumos.thumos(features, annotations, num_steps=20)
    assert "features" not in video_set.source.element_spec  # a shuffle buffer holds names only
    expected = {
        bytes(np.load(p)[videos.uniform_indices(len(np.load(p)), 20)].astype(np.float32))
        for p in sorted(features.glob("*.npy"))
    }
    for seed in (0, 1):
        batches = list(videos.train_dataset(video_set, 3, None, seed=seed))
        got = [bytes(f) for batch, _ in batches for f in batch.numpy()]
        assert set(got) == expected and len(got) == 6
    orders = [
        [bytes(f) for b, _ in videos.train_dataset(video_set, 6, None, seed=s) for f in b.numpy()]
        for s in range(4)
    ]
    assert len({tuple(o) for o in orders}) > 1  # the order depends on the seed

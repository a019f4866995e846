"""Re-identification CMC and mAP (Market-1501 protocol), against cases computed by hand and a
plain per-query reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_has.metrics import retrieval_scores

# Tolerance: rank-k is a count over num_valid_queries and mAP a float64 sum of a few precisions
# (fractions j / rank) over num_valid_queries; the vectorized sums add the same terms in another
# order, so they agree to a few ulps: 1e-12 relative. A changed ranking changes them by 1 / (rank
# x matches x queries), far more.
HOST = {"rel": 1e-12, "abs": 1e-15}


def unit(degrees):
    """Unit 2-D features at angles in degrees: nearer in angle, nearer in Euclidean distance."""
    radians = np.deg2rad(np.asarray(degrees, np.float64))
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


# Gallery: angle, identity, camera.
GALLERY = [
    (10, 1, 1),  # g0: identity 1, camera 1
    (20, -1, 2),  # g1: junk detection, excluded for every query
    (30, 0, 2),  # g2: distractor, a negative for every query
    (40, 1, 2),  # g3
    (50, 2, 1),  # g4
    (60, 1, 3),  # g5
]
QUERIES = [
    # q0 (identity 1, camera 1): g0 (same id and camera: junk), g1 (junk), g2 (negative, rank 1),
    # g3 (match, rank 2), g4 (negative, rank 3), g5 (match, rank 4): first match at 2,
    # AP = (1/2 + 2/4) / 2 = 1/2.
    (0, 1, 1),
    # q1 (identity 2, camera 2): g4 at 2 degrees is a match at rank 1: AP 1.
    (52, 2, 2),
    # q2 (identity 1, camera 2): g2 (3 deg, negative, rank 1), g3 (7, same camera: junk), g1 (13,
    # junk), g4 (17, negative, rank 2), g0 (23, match, rank 3), g5 (27, match, rank 4): first
    # match at 3, AP = (1/3 + 2/4) / 2 = 5/12.
    (33, 1, 2),
    (180, 3, 1),  # q3: no gallery image of identity 3: skipped
    (90, 2, 1),  # q4: identity 2's only gallery image is from its camera (junk): skipped
]


def by_hand_inputs():
    g_angle, g_id, g_cam = zip(*GALLERY)
    q_angle, q_id, q_cam = zip(*QUERIES)
    return unit(q_angle), unit(g_angle), q_id, g_id, q_cam, g_cam


def test_by_hand():
    result = retrieval_scores(*by_hand_inputs(), ranks=(1, 2, 3, 5))
    assert result["num_valid_queries"] == 3
    assert result["rank1"] == pytest.approx(1 / 3, **HOST)  # q1 only
    assert result["rank2"] == pytest.approx(2 / 3, **HOST)  # q0, q1
    assert result["rank3"] == pytest.approx(1.0, **HOST)
    assert result["rank5"] == pytest.approx(1.0, **HOST)
    assert result["map"] == pytest.approx((1 / 2 + 1 + 5 / 12) / 3, **HOST)  # 23/36
    assert set(result) == {"rank1", "rank2", "rank3", "rank5", "map", "num_valid_queries"}
    assert all(type(result[k]) is float for k in ("rank1", "map"))
    assert type(result["num_valid_queries"]) is int


def test_default_ranks_and_single_query():
    q, g, q_id, g_id, q_cam, g_cam = by_hand_inputs()
    result = retrieval_scores(q[:1], g, q_id[:1], g_id, q_cam[:1], g_cam)
    assert result == pytest.approx(
        {"rank1": 0.0, "rank5": 1.0, "rank10": 1.0, "map": 0.5, "num_valid_queries": 1}, **HOST
    )


def test_each_exclusion_matters():
    q, g, q_id, g_id, q_cam, g_cam = by_hand_inputs()
    q, q_id, q_cam = q[:1], q_id[:1], q_cam[:1]
    # The distractor g2 relabelled junk: q0's matches move to ranks 1 and 3.
    relabelled = np.array(g_id)
    relabelled[2] = -1
    result = retrieval_scores(q, g, q_id, relabelled, q_cam, g_cam)
    assert result["rank1"] == 1.0
    assert result["map"] == pytest.approx((1 + 2 / 3) / 2, **HOST)
    # The junk g1 relabelled as a distractor: the matches move to ranks 3 and 5.
    relabelled = np.array(g_id)
    relabelled[1] = 0
    result = retrieval_scores(q, g, q_id, relabelled, q_cam, g_cam)
    assert result["map"] == pytest.approx((1 / 3 + 2 / 5) / 2, **HOST)
    # g0 moved to camera 2: no longer junk for q0 but its first match.
    cams = np.array(g_cam)
    cams[0] = 2
    result = retrieval_scores(q, g, q_id, g_id, q_cam, cams)
    assert result["map"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3, **HOST)


def test_ties_keep_the_gallery_order():
    # One-hot features: every distance is exactly 0 or 2, so all three gallery images tie.
    g = np.tile([[1.0, 0.0]], (3, 1))
    q = np.array([[1.0, 0.0]])
    # negative, match, match: AP (1/2 + 2/3) / 2; reversed: match, match, negative: AP 1.
    result = retrieval_scores(q, g, [1], [0, 1, 1], [1], [2, 2, 2])
    assert result["map"] == pytest.approx(7 / 12, **HOST) and result["rank1"] == 0.0
    result = retrieval_scores(q, g, [1], [1, 1, 0], [1], [2, 2, 2])
    assert result["map"] == 1.0 and result["rank1"] == 1.0


def reference(q, g, q_ids, g_ids, q_cams, g_cams, ranks):
    """One query at a time in plain Python: ranked list, exclusions, first match, AP."""
    hits, aps = [0] * len(ranks), []
    for feature, qid, qcam in zip(q, q_ids, q_cams):
        distance = np.sqrt(((g - feature) ** 2).sum(axis=1))
        order = sorted(range(len(g)), key=lambda i: distance[i])  # stable
        kept = [
            g_ids[i] == qid
            for i in order
            if g_ids[i] != -1 and not (g_ids[i] == qid and g_cams[i] == qcam)
        ]
        if not any(kept):
            continue
        match_ranks = [r for r, is_match in enumerate(kept, start=1) if is_match]
        for j, k in enumerate(ranks):
            hits[j] += match_ranks[0] <= k
        aps.append(sum(j / r for j, r in enumerate(match_ranks, start=1)) / len(match_ranks))
    if not aps:
        return None
    result = {f"rank{k}": h / len(aps) for k, h in zip(ranks, hits)}
    result.update(map=sum(aps) / len(aps), num_valid_queries=len(aps))
    return result


@st.composite
def problems(draw, ties=False):
    """Random small galleries, ids drawn from {-1, 0, 1, ..., people} and cameras from
    {1, ..., cameras}. Features: unit Gaussian in 2 to 5 dimensions (no distance ties, almost
    surely; in 1-D they would be +-1, all tied), or with `ties`, integers in [-1, 1] in 1 to 3
    dimensions: many exact ties, and distances exact (integers) in both implementations."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, size = draw(st.integers(1, 8)), draw(st.integers(1, 40))
    dim = draw(st.integers(1, 3) if ties else st.integers(2, 5))
    people, cameras = draw(st.integers(1, 5)), draw(st.integers(1, 3))

    def features(count):
        if ties:
            return rng.integers(-1, 2, (count, dim)).astype(np.float64)
        x = rng.normal(size=(count, dim))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return (
        features(n),
        features(size),
        rng.integers(-1, people + 1, n),
        rng.integers(-1, people + 1, size),
        rng.integers(1, cameras + 1, n),
        rng.integers(1, cameras + 1, size),
    )


RANKS = (1, 2, 5, 10)


@given(st.one_of(problems(), problems(ties=True)), st.integers(1, 9))
def test_matches_the_per_query_reference(problem, chunk):
    expected = reference(*problem, RANKS)
    if expected is None:
        with pytest.raises(ValueError, match="No query has a true match"):
            retrieval_scores(*problem, ranks=RANKS, chunk=chunk)
        return
    result = retrieval_scores(*problem, ranks=RANKS, chunk=chunk)
    assert result["num_valid_queries"] == expected["num_valid_queries"]
    assert result == pytest.approx(expected, **HOST)


@given(problems(), st.integers(0, 2**32 - 1))
def test_gallery_order_and_chunking_do_not_matter(problem, seed):
    q, g, q_ids, g_ids, q_cams, g_cams = problem
    if reference(*problem, RANKS) is None:
        return
    result = retrieval_scores(*problem, ranks=RANKS)
    perm = np.random.default_rng(seed).permutation(len(g))
    permuted = retrieval_scores(q, g[perm], q_ids, g_ids[perm], q_cams, g_cams[perm], RANKS)
    assert permuted == pytest.approx(result, **HOST)
    for chunk in (1, 3, len(q) + 1):
        assert retrieval_scores(*problem, ranks=RANKS, chunk=chunk) == pytest.approx(result, **HOST)


def test_float32_and_integer_inputs():
    q, g, q_id, g_id, q_cam, g_cam = by_hand_inputs()
    expected = retrieval_scores(q, g, q_id, g_id, q_cam, g_cam)
    result = retrieval_scores(
        q.astype(np.float32), g.astype(np.float32), np.int32(q_id), g_id, q_cam, g_cam
    )
    assert result == pytest.approx(expected, **HOST)
    # Integer features: distances from (0, 0) are 1, 2, 3.
    result = retrieval_scores([[0, 0]], [[1, 0], [2, 0], [3, 0]], [1], [0, 1, 1], [1], [2, 2, 2])
    assert result["map"] == pytest.approx(7 / 12, **HOST)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"query_features": np.ones(2)}, "`query_features` must be an \\(N, D\\)"),
        ({"gallery_features": np.ones((6, 3))}, "same D"),
        ({"gallery_features": np.zeros((6, 0))}, "D >= 1"),
        ({"gallery_features": [["a", "b"]] * 6}, "`gallery_features` must be an \\(N, D\\)"),
        ({"query_features": np.full((5, 2), np.nan)}, "`query_features` must hold finite"),
        ({"gallery_features": np.full((6, 2), np.inf)}, "`gallery_features` must hold finite"),
        ({"query_ids": [1, 2, 3]}, "`query_ids` must hold one entry per row"),
        ({"gallery_cams": [1] * 7}, "`gallery_cams` must hold one entry per row"),
        ({"gallery_ids": np.zeros(6)}, "`gallery_ids` must be a 1-D array of integers"),
        ({"query_cams": np.ones((5, 1), int)}, "`query_cams` must be a 1-D array of integers"),
        ({"ranks": ()}, "`ranks` must be"),
        ({"ranks": (1, 0)}, "`ranks` must be"),
        ({"ranks": (1.0,)}, "`ranks` must be"),
        ({"ranks": 5}, "`ranks` must be"),
        ({"ranks": (True,)}, "`ranks` must be"),
        ({"chunk": 0}, "`chunk` must be an int >= 1"),
        ({"query_features": np.zeros((0, 2)), "query_ids": [], "query_cams": []}, "is empty"),
        ({"gallery_features": np.zeros((0, 2)), "gallery_ids": [], "gallery_cams": []}, "empty"),
        ({"query_ids": [3, 3, 3, 3, 3]}, "No query has a true match"),
    ],
)
def test_errors(change, match):
    names = ("query_features", "gallery_features", "query_ids", "gallery_ids")
    names += ("query_cams", "gallery_cams")
    arguments = dict(zip(names, by_hand_inputs()))
    arguments.update(change)
    with pytest.raises(ValueError, match=match):
        retrieval_scores(**arguments)

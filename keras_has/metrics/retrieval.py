"""Person re-identification: CMC rank-k accuracy and mAP, Market-1501 protocol.

For each query the gallery is ranked by Euclidean distance (nearest first).
Excluded from the ranking ("junk" for that query): gallery images of the
query's identity taken by the query's camera, and gallery images of identity
-1 (junk detections). Distractors (identity 0) stay, as negatives. A true
match is a remaining gallery image of the query's identity. A query without a
true match is skipped (`num_valid_queries` counts the others).

- CMC rank-k: the fraction of valid queries whose first true match is among
  the first k remaining images.
- AP: the mean, over the query's true matches, of the precision at each
  match's rank, sum_j (j / rank_j) / M for the j-th of M matches at rank_j.
  Market-1501's MATLAB evaluation instead sums trapezoids,
  (p(rank_j - 1) + p(rank_j)) / 2 per recall step 1/M, with p(r) the
  precision at rank r and p(0) = 1: lower than this AP whenever a negative
  precedes a match (one match at rank 3: 1/6 against 1/3). This AP is
  open-reid's (scikit-learn's `average_precision_score`, for distinct
  distances).
  mAP is the mean of AP over the valid queries.

Identities are compared as given: a query of identity 0 would match gallery
distractors of other cameras (as in open-reid); Market-1501's queries hold
none. Ties in distance keep the gallery order (a stable sort), when the
distances are equal in float64.
"""

import numpy as np

from keras_has._arguments import as_int, is_int

CHUNK = 256  # queries per distance matrix: 256 x 15,913 float64 is 33 MB


def _array(values, name):
    try:
        return np.asarray(values)
    except Exception as error:  # any failure is a bad argument
        raise ValueError(f"`{name}` must be an array. Received: {values!r}") from error


def _features(values, name):
    array = _array(values, name)
    if array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(
            f"`{name}` must be an (N, D) array of real numbers with D >= 1. "
            f"Received: shape={array.shape}, dtype={array.dtype}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite values (found NaN or inf).")
    return array


def _labels(values, name, count, of):
    array = _array(values, name)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(
            f"`{name}` must be a 1-D array of integers. "
            f"Received: shape={array.shape}, dtype={array.dtype}"
        )
    if len(array) != count:
        raise ValueError(
            f"`{name}` must hold one entry per row of `{of}`: {count}. Received: {len(array)}"
        )
    return array.astype(np.int64)


def _ranks(values):
    try:
        ranks = tuple(values)
    except TypeError:
        ranks = ()
    if not (ranks and all(is_int(k) and k >= 1 for k in ranks)):
        raise ValueError(
            f"`ranks` must be a non-empty sequence of ints >= 1. Received: ranks={values!r}"
        )
    return tuple(int(k) for k in ranks)


def _sort(distances):
    """Gallery indices by distance, (q, G); ties in gallery order (as a stable sort)."""
    order = np.argsort(distances, axis=1)  # SIMD quicksort: ~4x faster than the stable sort
    ranked = np.take_along_axis(distances, order, axis=1)
    step = ranked[:, 1:] != ranked[:, :-1]
    tied = ~step.all(axis=1)
    if tied.any():  # sort each run of equal distances by index: (run, index) as one integer
        size = distances.shape[1]
        run = np.zeros((int(tied.sum()), size), np.int64)
        np.cumsum(step[tied], axis=1, out=run[:, 1:])
        order[tied] = np.sort(run * size + order[tied], axis=1) % size
    return order


def _chunk_scores(distances, query_ids, query_cams, gallery_ids, gallery_cams, ranks):
    """(valid queries, hits (len(ranks),), sum of AP) of one chunk of queries."""
    order = _sort(distances)
    ids, cams = gallery_ids[order], gallery_cams[order]
    same = ids == query_ids[:, None]
    keep = ~((ids == -1) | (same & (cams == query_cams[:, None])))
    match = same & keep
    rank = np.cumsum(keep, axis=1, dtype=np.int32)  # 1-based rank among the kept, where kept
    rows, cols = np.nonzero(match)  # row-major: each query's matches in rank order
    match_rank = rank[rows, cols]
    count = np.bincount(rows, minlength=len(match))
    starts = np.cumsum(count) - count  # each query's first match in rows / cols
    found = np.arange(1, len(rows) + 1) - starts[rows]  # matches up to and including this one
    ap = np.bincount(rows, weights=found / match_rank, minlength=len(match)) / np.maximum(count, 1)
    first = match_rank[starts[count > 0]]
    hits = (first[:, None] <= np.asarray(ranks)[None, :]).sum(axis=0)
    return len(first), hits, float(ap.sum())


def retrieval_scores(
    query_features,
    gallery_features,
    query_ids,
    gallery_ids,
    query_cams,
    gallery_cams,
    ranks=(1, 5, 10),
    chunk=CHUNK,
):
    """CMC rank-k accuracies and mAP of re-identification, Market-1501 protocol.

    Distances are Euclidean, squared as |q|^2 + |g|^2 - 2 q.g (2 - 2 cos for
    unit vectors) with one matrix product per chunk of queries, in float64:
    float64 copies of the gallery (260 MB for Market-1501's at D = 2048) and of
    a chunk are made, and rounding errors (below 1e-12 for unit vectors at
    D = 2048) only reorder images whose distances differ by less (float32
    products err by ~1e-6: they would reorder near-duplicates). AP is the mean
    precision at each true match's rank (not the trapezoids of Market-1501's
    MATLAB code; see the module docstring for this and for the exclusions).

    Args:
        query_features: (N, D) descriptors, L2-normalized (any finite features
            work: distances are Euclidean on the values as given).
        gallery_features: (G, D) descriptors.
        query_ids, gallery_ids: (N,), (G,) integer identities; -1 marks junk
            gallery images, 0 distractors.
        query_cams, gallery_cams: (N,), (G,) integer camera ids.
        ranks: the k of the CMC accuracies returned, ints >= 1.
        chunk: queries per distance matrix (memory: ~70 bytes x chunk x G).

    Returns:
        {"rank{k}": fraction for each k in `ranks`, "map": fraction,
        "num_valid_queries": int}; rank and mAP are over the valid queries.

    Raises:
        ValueError: for a bad argument, no query, or no query with a true match.
    """
    query = _features(query_features, "query_features")
    gallery = _features(gallery_features, "gallery_features")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            "`query_features` and `gallery_features` must have the same D. "
            f"Received: shapes {query.shape} and {gallery.shape}"
        )
    query_ids = _labels(query_ids, "query_ids", len(query), "query_features")
    query_cams = _labels(query_cams, "query_cams", len(query), "query_features")
    gallery_ids = _labels(gallery_ids, "gallery_ids", len(gallery), "gallery_features")
    gallery_cams = _labels(gallery_cams, "gallery_cams", len(gallery), "gallery_features")
    ranks = _ranks(ranks)
    chunk = as_int(chunk, "chunk", minimum=1)
    if len(query) == 0 or len(gallery) == 0:
        empty = "query_features" if len(query) == 0 else "gallery_features"
        raise ValueError(f"`{empty}` is empty: rank-k and mAP are undefined.")

    gallery = gallery.astype(np.float64)
    gallery_sq = np.einsum("ij,ij->i", gallery, gallery)
    hits = np.zeros(len(ranks), np.int64)
    ap_sum, num_valid = 0.0, 0
    for start in range(0, len(query), chunk):
        block = query[start : start + chunk].astype(np.float64)
        distances = block @ gallery.T
        distances *= -2.0
        distances += gallery_sq[None, :]
        distances += np.einsum("ij,ij->i", block, block)[:, None]
        chunk_valid, chunk_hits, chunk_ap = _chunk_scores(
            distances,
            query_ids[start : start + chunk],
            query_cams[start : start + chunk],
            gallery_ids,
            gallery_cams,
            ranks,
        )
        hits += chunk_hits
        ap_sum += chunk_ap
        num_valid += chunk_valid
    if num_valid == 0:
        raise ValueError(
            "No query has a true match in the gallery (an image of its identity from another "
            "camera, not junk): rank-k and mAP are undefined."
        )
    scores = {f"rank{k}": float(h) / num_valid for k, h in zip(ranks, hits)}
    scores["map"] = ap_sum / num_valid
    scores["num_valid_queries"] = num_valid
    return scores

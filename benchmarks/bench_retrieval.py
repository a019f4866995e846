"""Re-identification evaluation (CMC + mAP, Market-1501 protocol) against a per-query loop.

    python -m benchmarks.bench_retrieval [--queries 3368] [--gallery 15913] [--dim 2048]
        [--rounds 3] [--json PATH]

Inputs are Market-1501's sizes by default: 3,368 queries, 15,913 gallery
images, 2048-D random unit features (float32, as a network's), identities
shared by queries and gallery as Market's (751 test people, ~5% junk -1,
~17% distractors 0 in the gallery) and 6 cameras. The baseline is the plain
loop over queries (NumPy per query: distances, argsort, masks, first match
and AP), timed in the same rounds; `retrieval_scores` (chunks of 256 queries)
is given as its time and the ratio of the baseline's time to its (median of
per-round ratios). A check that both give the same figures runs before the
timing (within one query's rank-k: images whose float64 distances differ by
rounding alone, as in the worst input, can rank differently after a
matrix-vector and a matrix product).

Worst input: all features nearly identical (a shared vector plus 1e-4 noise):
squared distances all in [1.7e-8, 2.3e-8], so many near-ties, and a few exact
ties at float64 resolution in every query's row, which `retrieval_scores`
then orders by gallery index (its slow path).
"""

import argparse
import json

import numpy as np

from benchmarks.timing import measure
from keras_has.metrics import retrieval_scores

RANKS = (1, 5, 10)


def make_inputs(queries, gallery, dim, people=751, cameras=6, spread=None, seed=0):
    """(query features, gallery features, ids, ids, cams, cams): Market-like labels."""
    rng = np.random.default_rng(seed)

    def features(count):
        if spread is None:
            x = rng.standard_normal((count, dim), dtype=np.float32)
        else:  # nearly identical: one shared direction plus small noise
            x = 1.0 + spread * rng.standard_normal((count, dim), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    q_ids = rng.integers(1, people + 1, queries)
    g_ids = rng.integers(1, people + 1, gallery)
    kind = rng.random(gallery)
    g_ids[kind < 0.05] = -1
    g_ids[(kind >= 0.05) & (kind < 0.22)] = 0
    q_cams = rng.integers(1, cameras + 1, queries)
    g_cams = rng.integers(1, cameras + 1, gallery)
    return features(queries), features(gallery), q_ids, g_ids, q_cams, g_cams


def per_query_loop(q, g, q_ids, g_ids, q_cams, g_cams, ranks=RANKS):
    """The baseline: one query at a time, float64 distances, a stable argsort, masks."""
    g = g.astype(np.float64)
    g_sq = np.einsum("ij,ij->i", g, g)
    hits, aps = np.zeros(len(ranks)), []
    for feature, qid, qcam in zip(q.astype(np.float64), q_ids, q_cams):
        order = np.argsort(g_sq - 2.0 * (g @ feature) + feature @ feature, kind="stable")
        ids, cams = g_ids[order], g_cams[order]
        keep = (ids != -1) & ~((ids == qid) & (cams == qcam))
        match = (ids == qid)[keep]
        if not match.any():
            continue
        match_ranks = np.flatnonzero(match) + 1
        hits += match_ranks[0] <= np.asarray(ranks)
        aps.append(np.mean(np.arange(1, len(match_ranks) + 1) / match_ranks))
    out = {f"rank{k}": h / len(aps) for k, h in zip(ranks, hits)}
    out.update(map=float(np.mean(aps)), num_valid_queries=len(aps))
    return out


def run(queries, gallery, dim, rounds, results, worst=False):
    inputs = make_inputs(queries, gallery, dim, spread=1e-4 if worst else None)
    expected, got = per_query_loop(*inputs), retrieval_scores(*inputs, ranks=RANKS)
    assert got["num_valid_queries"] == expected["num_valid_queries"], (got, expected)
    for key in expected:  # see the module docstring
        assert abs(got[key] - expected[key]) <= 1.01 / got["num_valid_queries"], (got, expected)
    methods = {
        "per-query loop (baseline)": lambda: per_query_loop(*inputs),
        "retrieval_scores (chunks of 256)": lambda: retrieval_scores(*inputs, ranks=RANKS),
    }
    figures = measure(methods, rounds, reps=1)
    case = "nearly identical features (worst input)" if worst else "random unit features"
    print(f"\n### {case}: {queries} queries x {gallery} gallery x {dim}-D, CPU\n")
    print(f"rank-1 {got['rank1']:.4f}, mAP {got['map']:.4f}, {got['num_valid_queries']} valid\n")
    print("| method | s / evaluation | queries / s | x baseline |")
    print("|---|---:|---:|---:|")
    for name, (seconds, ratio) in figures.items():
        print(f"| {name} | {seconds:.3f} | {queries / seconds:,.0f} | {ratio:.2f} |")
        results.append(
            {
                "workload": "worst" if worst else "random",
                "method": name,
                "seconds": seconds,
                "queries_per_s": queries / seconds,
                "x_baseline": ratio,
            }
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=3368, help="query images")
    parser.add_argument("--gallery", type=int, default=15913, help="gallery images")
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = []
    for worst in (False, True):
        run(args.queries, args.gallery, args.dim, args.rounds, results, worst)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

"""Timing in alternating rounds, with ratios to a baseline timed alongside."""

import statistics
import time


def measure(methods, rounds, reps, best=False):
    """{name: (median seconds per call, median ratio to the first method)}.

    best=True: (fastest round's seconds per call, the first method's fastest over this one's), for
    work whose rounds are sometimes slowed as a whole by the machine (a training step on 2 cores
    shared with tf.data's threads).
    """
    times = {name: [] for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            times[name].append((time.perf_counter() - start) / reps)
    first = next(iter(methods))
    if best:
        return {name: (min(ts), min(times[first]) / min(ts)) for name, ts in times.items()}
    return {
        name: (
            statistics.median(ts),
            statistics.median(b / t for b, t in zip(times[first], ts)),
        )
        for name, ts in times.items()
    }


def table(title, batch, figures, results, workload):
    print(f"\n### {title}\n")
    print("| method | ms / batch | images / s | x baseline |")
    print("|---|---:|---:|---:|")
    for name, (seconds, ratio) in figures.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {batch / seconds:,.0f} | {ratio:.2f} |")
        results.append(
            {
                "workload": workload,
                "method": name,
                "ms": seconds * 1e3,
                "images_per_s": batch / seconds,
                "x_baseline": ratio,
            }
        )

"""Weakly-supervised temporal action localization with Video-HaS (Sec. 3.2, 4.5, Table VII).

    python -m recipes.temporal              # Video-full and Video-HaS on the built-in videos
    python -m recipes.temporal --dataset thumos --features-dir /data/thumos14/c3d_val \\
        --annotations-dir /data/thumos14/annotation_val

Trains `zoo.temporal_cam_net` on video labels with Hide-and-Seek on F_segment-step segments of
the uniformly sampled feature sequence (and, with --compare, the same network on full videos:
Video-full), takes the 1-D CAM of each of a video's ground-truth classes (the class is known, as
in Sec. 4.1.3), thresholds it at --cam-threshold of its max (every contiguous run is a detection
scored by its mean CAM / max), and reports mAP at tIoU 0.1-0.5. Writes, in --out: one folder per
model (harness files: checkpoints, backup, logs, log.csv, results.json), feature_mean.json (the
fill, computed once per dataset), results.json (all models) and fig8.png (ground truth and each
model's CAM and segments over time). Started again with the same command, a killed run
continues where it was.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import zoo
from keras_has import CAMModel, viz
from keras_has.data import synthetic_videos, thumos, videos
from keras_has.metrics.temporal import TIOU_THRESHOLDS, detection_map
from keras_has.segments import above_threshold, cam_to_segments
from recipes import _harness as harness

DATASET_DEFAULTS = {
    "builtin": {
        "filters": 128,
        "train": {
            "epochs": 30,
            "batch_size": 32,
            "optimizer": "adam",
            "lr": 2e-3,
            "lr_schedule": "constant",
            "weight_decay": 0.0,
            "out": "runs/temporal",
        },
    },
    # The paper gives no schedule for THUMOS14; these are the image recipe's.
    "thumos": {
        "filters": 500,
        "train": {"epochs": 50, "batch_size": 32, "lr": 0.01, "lr_end": 1e-4},
    },
}
METRICS = [
    ("top1_cls", "Top-1 classification (a label of the video)"),
    *[(f"map@{t:g}", f"mAP @ tIoU {t:g}") for t in TIOU_THRESHOLDS],
    ("map_mean", "mAP, mean over tIoU 0.1-0.5"),
    *[
        (f"cam_on_{name}", f"{name} steps in the CAM (>= threshold)")
        for name in ("background", *synthetic_videos.PHASE_NAMES)
    ],
]


def parse_args(argv=None):
    """Two stages: --dataset chooses the other flags' defaults."""
    known, parser = harness.recipe_parser(
        __doc__,
        DATASET_DEFAULTS,
        "builtin (generated videos of features, no download) or thumos (local feature files "
        "and THUMOS14 annotation files).",
        argv,
    )
    data = DATASET_DEFAULTS[known.dataset]
    add = parser.add_argument
    add("--features-dir", help="thumos: folder of <video>.npy feature arrays (N, D).")
    add("--annotations-dir", help="thumos: folder of <Class>_<split>.txt annotations.")
    add("--split", default="val", help="thumos: the annotation files' split suffix. (val)")
    add("--labels-file", help="thumos: optional '<video> <Class>' video-level labels.")
    add(
        "--eval-features-dir",
        help="thumos: features of the evaluation videos (default: --features-dir; the paper "
        "trains on all THUMOS14 validation videos and localizes on the same videos).",
    )
    add("--eval-annotations-dir", help="thumos: their annotations (default: --annotations-dir).")
    add("--eval-split", help="thumos: their split suffix (default: --split).")
    add(
        "--features-per-second",
        type=float,
        default=10.0,
        help="thumos: feature rate of the files (paper: C3D, 10/s). (%(default)s)",
    )
    add(
        "--num-steps",
        type=int,
        default=2000,
        help="F_total: features uniformly sampled per video. (%(default)s)",
    )
    add(
        "--segment",
        default="100",
        help="F_segment: steps per hidden segment (comma-separated to draw one per video), or "
        "'off' for Video-full only. (%(default)s)",
    )
    add("--hide-prob", type=float, default=0.5, help="Probability of hiding a segment. (0.5)")
    add(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=known.dataset == "builtin",
        help="Also train Video-full (no hiding) and print both side by side. (%(default)s)",
    )
    add("--pooling", default="max", choices=["max", "avg"], help="Global max (paper) or average.")
    add(
        "--filters",
        type=int,
        default=data["filters"],
        help="Kernels of each 1x1 conv (paper: 500). (%(default)s)",
    )
    add(
        "--cam-threshold",
        type=float,
        default=0.5,
        help="Fraction of the CAM max that makes a step part of a detection. (%(default)s)",
    )
    add("--train-videos", type=int, default=300, help="builtin: training videos. (%(default)s)")
    add("--test-videos", type=int, default=200, help="builtin: test videos. (%(default)s)")
    add("--classes", type=int, default=5, help="builtin: action classes. (%(default)s)")
    add("--feature-dim", type=int, default=64, help="builtin: feature size D. (%(default)s)")
    add("--eval-batch-size", type=int, default=50, help="Videos per evaluation batch.")
    add("--figure-videos", type=int, default=4, help="Videos in fig8.png. (%(default)s)")
    harness.add_training_flags(parser, data["train"])
    args = parser.parse_args(argv)
    if args.dataset == "thumos" and not (args.features_dir and args.annotations_dir):
        parser.error("--dataset thumos needs --features-dir and --annotations-dir")
    if not 0 <= args.cam_threshold <= 1:
        parser.error("--cam-threshold must be in [0, 1]")
    if args.num_steps < 1:
        parser.error("--num-steps must be >= 1")
    args.segments = None if args.segment == "off" else _segments(parser, args.segment)
    return args


def _segments(parser, text):
    try:
        values = [int(item) for item in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        parser.error(f"--segment: expected steps such as 100 (or 0,50,100), or off; got {text!r}")
    return values[0] if len(values) == 1 else values


def sources(args):
    """(train, test, phases): `VideoSet`s, and the built-in test videos' phases (else None)."""
    if args.dataset == "builtin":
        made = [
            synthetic_videos.make(count, args.classes, args.feature_dim, args.num_steps, seed=seed)
            for count, seed in ((args.train_videos, 1), (args.test_videos, 2))
        ]
        return made[0].video_set(args.classes), made[1].video_set(args.classes), made[1].phases
    common = {"features_per_second": args.features_per_second, "num_steps": args.num_steps}
    train = thumos.thumos(
        args.features_dir,
        args.annotations_dir,
        split=args.split,
        labels_file=args.labels_file,
        **common,
    )
    evaluation = (
        args.eval_features_dir or args.features_dir,
        args.eval_annotations_dir or args.annotations_dir,
        args.eval_split or args.split,
    )
    test = train  # the paper's default: localize on the training videos, read once
    if evaluation != (args.features_dir, args.annotations_dir, args.split):
        test = thumos.thumos(
            *evaluation[:2],
            split=evaluation[2],
            labels_file=args.labels_file,
            classes=train.classes,
            **common,
        )
    sets = {"training": train} if test is train else {"training": train, "evaluation": test}
    for name, video_set in sets.items():
        if video_set.skipped:
            print(f"{name} set: skipped {len(video_set.skipped)} files (see the warnings)")
    return train, test, None


def feature_mean(args, train):
    """The dataset's mean feature, computed once and kept in --out."""
    key = {k: getattr(args, k) for k in ("dataset", "num_steps", "features_dir", "split")}
    if args.dataset == "builtin":
        key.update({k: getattr(args, k) for k in ("train_videos", "classes", "feature_dim")})
    path = os.path.join(args.out, "feature_mean.json")
    return harness.stored_mean(path, key, lambda: videos.fill_mean(train))


def train_model(args, name, segments, train, mean):
    run = argparse.Namespace(**vars(args))
    run.out = os.path.join(args.out, name)
    run.segment = "off" if segments is None else args.segment
    dim = train.examples().element_spec["features"].shape[-1]

    def epoch_data(epoch):
        return videos.train_dataset(
            train,
            args.batch_size,
            segments,
            args.hide_prob,
            mean,
            seed=args.seed * 1000 + epoch,
        )

    def build():
        return zoo.temporal_cam_net(
            dim, len(train.classes), pooling=args.pooling, filters=args.filters
        )

    steps = train.num_videos // args.batch_size
    if steps < 1:
        raise ValueError(
            f"--batch-size {args.batch_size} is larger than the {train.num_videos} training videos"
        )
    config = harness.run_config(run, ignore=("compare", "figure_videos", "eval_batch_size"))
    model, _ = harness.train(
        build,
        epoch_data,
        run,
        steps_per_epoch=steps,
        loss="categorical_crossentropy",
        metrics=("categorical_accuracy",),
        config=config,
        verbose=0,
    )
    return model, run.out


def localize(args, model, test):
    """Per video: its name, label vector, step length, and for each class the 1-D CAM (T, C)."""
    cams = CAMModel(model, classes="all")
    run = tf.function(lambda x: cams(x))
    for batch in videos.eval_dataset(test, args.eval_batch_size):
        out = run(batch["features"])
        yield (
            [v.decode() for v in batch["video"].numpy()],
            batch["label"].numpy(),
            batch["step_seconds"].numpy(),
            out["probabilities"].numpy(),
            out["cams"].numpy(),
        )


def evaluate(args, model, test, phases=None):
    """mAP at each tIoU of the ground-truth classes' detections, Top-1 classification, and
    with the built-in test `phases` (N, T), the fraction of each phase's steps in the CAM."""
    found, right, count, start = [], 0, 0, 0
    on, steps = np.zeros(4), np.zeros(4)
    for names, labels, step_seconds, probabilities, cams in localize(args, model, test):
        right += int(np.sum(labels[np.arange(len(labels)), probabilities.argmax(-1)] > 0))
        count += len(labels)
        for video, label, step, maps in zip(names, labels, step_seconds, cams):
            for class_id in np.flatnonzero(label):
                for begin, end, score in cam_to_segments(
                    maps[:, class_id], args.cam_threshold, step
                ):
                    found.append((video, int(class_id), begin, end, score))
        if phases is not None:
            known = cams[np.arange(len(labels)), :, labels.argmax(-1)]  # (B, T)
            kept = above_threshold(known, args.cam_threshold)
            part = phases[start : start + len(labels)]
            start += len(labels)
            for value in range(-1, 3):
                on[value + 1] += np.count_nonzero(kept & (part == value))
                steps[value + 1] += np.count_nonzero(part == value)
    result = detection_map(found, test.ground_truth)
    result["top1_cls"] = right / count
    result["detections_per_video"] = len(found) / count
    if phases is not None:
        names = ("background", *synthetic_videos.PHASE_NAMES)
        result.update({f"cam_on_{n}": o / max(s, 1) for n, o, s in zip(names, on, steps)})
    return result


def figure(args, models, test):
    """Fig. 8: for a few test videos, the ground truth and each model's CAM and segments."""
    truth = {}
    for video, class_id, begin, end in test.ground_truth:
        truth.setdefault(video, []).append((begin, end))
    keep, methods = slice(0, args.figure_videos), {}
    for name, model in models.items():
        names, labels, step_seconds, _, cams = next(localize(args, model, test))
        known = cams[np.arange(len(labels)), :, labels.argmax(-1)][keep]
        methods[name] = (known, cam_to_segments(known, args.cam_threshold, step_seconds[keep]))
    rows = [
        (video, step * known.shape[1], truth.get(video, []))
        for video, step in zip(names[keep], step_seconds[keep])
    ]
    picture = viz.timelines(rows, methods)
    return viz.write_png(os.path.join(args.out, "fig8.png"), picture)


def main(argv=None):
    args = parse_args(argv)
    harness.setup(args)
    train, test, phases = sources(args)
    mean = feature_mean(args, train)
    print(
        f"fill: mean feature of {train.num_videos} training videos (|mean| "
        f"{np.linalg.norm(mean):.3f}, D = {len(mean)})",
        flush=True,
    )
    runs = (
        {"Video-full": None, "Video-HaS": args.segments}
        if args.compare
        else {"Video-full" if args.segments is None else "Video-HaS": args.segments}
    )
    models, results = {}, {}
    for name, segments in runs.items():
        model, out = train_model(args, name.lower(), segments, train, mean)
        results[name] = evaluate(args, model, test, phases)
        harness.write_results(out, results[name])
        models[name] = model
    print(harness.metric_table(results, METRICS), flush=True)
    if harness.is_chief():
        harness.write_results(args.out, {"models": list(results), **results})
        print(f"wrote {figure(args, models, test)} and {os.path.join(args.out, 'results.json')}")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

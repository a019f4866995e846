"""Weakly-supervised temporal action localization with Video-HaS (Sec. 3.2, 4.5, Table VII).

    python -m keras_has.recipes.temporal              # Video-full and Video-HaS on the built-in videos
    python -m keras_has.recipes.temporal --dataset thumos --features-dir /data/thumos14/c3d_val \\
        --annotations-dir /data/thumos14/annotation_val

Trains `zoo.temporal_cam_net` on video labels with Hide-and-Seek on F_segment-step segments of
the uniformly sampled feature sequence and the same network on full videos (Video-full;
--variants chooses), takes the 1-D CAM of each of a video's ground-truth classes (the class is known, as
in Sec. 4.1.3), thresholds it at --cam-threshold of its max (every contiguous run is a detection
scored by its mean CAM / max), and reports mAP at tIoU 0.1-0.5. Writes, in --out: one folder per
model (run files: checkpoints, backup, logs, log.csv, results.json), fill_mean.json (the
fill, computed once per dataset), results.json (all models) and fig8.png (ground truth and each
model's CAM and segments over time). Started again with the same command, a killed run
continues where it was.
"""

import functools
import os
import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Variant

# What a THUMOS14-style set is read from: flags for the training videos, --eval-* for the test.
THUMOS_FILES = ("features_dir", "annotations_dir", "split")
DATASET_DEFAULTS = {
    "builtin": {
        "filters": 128,
        "variants": ("Video-full", "Video-HaS"),
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
        "variants": ("Video-HaS",),
        "train": {"epochs": 50, "batch_size": 32, "lr": 0.01, "lr_end": 1e-4},
    },
}


class Data(NamedTuple):
    """The training and test `VideoSet`s, and the built-in test videos' phases (N, T) or None."""

    train: Any
    test: Any
    num_train: int
    phases: Any


class Temporal(Recipe):
    prog = "python -m keras_has.recipes.temporal"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = (
        "builtin (generated videos of features, no download) or thumos (local feature files "
        "and THUMOS14 annotation files)."
    )
    has_mode = "temporal"
    has_default = "100"
    variants = (Variant("Video-full"), Variant("Video-HaS", hides=True))
    evaluation_flags = (
        "cam_threshold",
        "eval_batch_size",
        "figure_videos",
        "eval_features_dir",
        "eval_annotations_dir",
        "eval_split",
        "test_videos",
    )
    examples = "training videos"
    loss = "categorical_crossentropy"
    train_metrics = ("categorical_accuracy",)

    @property
    def metrics(self):
        """The table's rows: (results key, label)."""
        from keras_has.data import synthetic_videos
        from keras_has.metrics.temporal import TIOU_THRESHOLDS

        return [
            ("top1_cls", "Top-1 classification (a label of the video)"),
            *[(f"map@{t:g}", f"mAP @ tIoU {t:g}") for t in TIOU_THRESHOLDS],
            ("map_mean", "mAP, mean over tIoU 0.1-0.5"),
            *[
                (f"cam_on_{name}", f"{name} steps in the CAM (>= threshold)")
                for name in ("background", *synthetic_videos.PHASE_NAMES)
            ],
        ]

    def add_flags(self, parser, defaults, known):
        add = parser.add_argument
        for_thumos = functools.partial(flags.add_dataset_flag, parser, ("thumos",))
        for_builtin = functools.partial(flags.add_dataset_flag, parser, ("builtin",))
        for_thumos("--features-dir", help="folder of <video>.npy feature arrays (N, D); needed.")
        for_thumos("--annotations-dir", help="folder of <Class>_<split>.txt annotations; needed.")
        for_thumos("--split", default="val", help="the annotation files' split suffix.")
        for_thumos("--labels-file", help="optional '<video> <Class>' video-level labels.")
        for_thumos(
            "--eval-features-dir",
            help="features of the evaluation videos (default: --features-dir; the paper trains on "
            "all THUMOS14 validation videos and localizes on the same videos).",
        )
        for_thumos("--eval-annotations-dir", help="their annotations (default: --annotations-dir).")
        for_thumos("--eval-split", help="their split suffix (default: --split).")
        for_thumos(
            "--features-per-second",
            type=flags.positive(float),
            default=10.0,
            help="feature rate of the files (paper: C3D, 10/s).",
        )
        add(
            "--num-steps",
            type=flags.positive(int),
            default=2000,
            help="F_total: features uniformly sampled per video.",
        )
        add(
            "--pooling",
            default="max",
            choices=["max", "avg"],
            help="Global max (paper) or average.",
        )
        add(
            "--filters",
            type=flags.positive(int),
            default=defaults["filters"],
            help="Kernels of each 1x1 conv (paper: 500).",
        )
        add(
            "--cam-threshold",
            type=flags.fraction,
            default=0.5,
            help="Fraction of the CAM max that makes a step part of a detection.",
        )
        for_builtin(
            "--train-videos", type=flags.positive(int), default=300, help="training videos."
        )
        for_builtin("--test-videos", type=flags.positive(int), default=200, help="test videos.")
        for_builtin("--classes", type=flags.positive(int), default=5, help="action classes.")
        for_builtin("--feature-dim", type=flags.positive(int), default=64, help="feature size D.")
        add(
            "--eval-batch-size",
            type=flags.positive(int),
            default=50,
            help="Videos per evaluation batch.",
        )
        add("--figure-videos", type=flags.positive(int), default=4, help="Videos in fig8.png.")

    def check(self, args):
        if args.dataset == "builtin":
            flags.check_batch_size(args, args.train_videos, "training videos (--train-videos)")
            return
        for flag, what in (("--features-dir", "features"), ("--annotations-dir", "annotations")):
            if getattr(args, flag[2:].replace("-", "_")) is None:
                raise flags.FlagError(flag, f"--dataset thumos needs the folder of the {what}")
        for name in (
            "features_dir",
            "annotations_dir",
            "eval_features_dir",
            "eval_annotations_dir",
        ):
            if getattr(args, name) is not None:
                flags.check_path("--" + name.replace("_", "-"), getattr(args, name))
        if args.labels_file is not None:
            flags.check_path("--labels-file", args.labels_file, folder=False)

    def validate(self, args):
        from keras_has.data import synthetic_videos

        if args.dataset == "builtin":
            what = "the built-in videos have at least {} classes"
            flags.check_at_least("--classes", args.classes, synthetic_videos.MIN_CLASSES, what)

    def load(self, args):
        """`Data`: the training and test `VideoSet`s, and the built-in test videos' phases."""
        from keras_has.data import synthetic_videos

        if args.dataset == "builtin":
            made = [
                synthetic_videos.make(
                    count, args.classes, args.feature_dim, args.num_steps, seed=seed
                )
                for count, seed in ((args.train_videos, 1), (args.test_videos, 2))
            ]
            train, test = (m.video_set(args.classes) for m in made)
            return Data(train, test, train.num_videos, made[1].phases)
        train = read_thumos(args)
        evaluation = [
            getattr(args, f"eval_{k}") for k in ("features_dir", "annotations_dir", "split")
        ]
        test = train  # the paper's default: localize on the training videos, read once
        if any(v not in (None, getattr(args, k)) for v, k in zip(evaluation, THUMOS_FILES)):
            test = read_thumos(args, evaluation=True, classes=train.classes)
        sets = {"training": train} if test is train else {"training": train, "evaluation": test}
        for name, video_set in sets.items():
            if video_set.skipped:
                print(f"{name} set: skipped {len(video_set.skipped)} files (see the warnings)")
        return Data(train, test, train.num_videos, None)

    def mean_key(self, args):
        key = {k: getattr(args, k) for k in ("dataset", "num_steps", "features_dir", "split")}
        if args.dataset == "builtin":
            key.update({k: getattr(args, k) for k in ("train_videos", "classes", "feature_dim")})
        return key

    def compute_mean(self, args, data):
        from keras_has.data import videos

        return videos.fill_mean(data.train)

    def describe_mean(self, mean, data):
        import numpy as np

        return (
            f"fill: mean feature of {data.num_train} training videos (|mean| "
            f"{np.linalg.norm(mean):.3f}, D = {len(mean)})"
        )

    def build(self, args, data):
        from keras_has import zoo

        dim = data.train.examples().element_spec["features"].shape[-1]
        return zoo.temporal_cam_net(
            len(data.train.classes),
            input_shape=(None, dim),
            pooling=args.pooling,
            filters=args.filters,
        )

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import videos

        # One size goes to the layer as a number, as the layer's own argument would be written.
        sizes = run.patch_sizes
        segments = sizes[0] if sizes is not None and len(sizes) == 1 else sizes
        return videos.train_dataset(
            data.train, args.batch_size, segments, args.hide_prob, mean, seed=seed
        )

    def evaluate(self, args, model, data, mean):
        """mAP at each tIoU of the ground-truth classes' detections, Top-1 classification, and
        with the built-in test `phases` (N, T), the fraction of each phase's steps in the CAM."""
        import numpy as np

        from keras_has.data import synthetic_videos
        from keras_has.metrics.temporal import detection_map
        from keras_has.segments import above_threshold, cam_to_segments

        found, right, count, start = [], 0, 0, 0
        on, steps = np.zeros(4), np.zeros(4)
        test, phases = data.test, data.phases
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

    def figure(self, args, models, data):
        """Fig. 8: for a few test videos, the ground truth and each model's CAM and segments."""
        import numpy as np

        from keras_has import viz
        from keras_has.segments import cam_to_segments

        test, truth = data.test, {}
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

    def cam_batch(self, args, data):
        from keras_has.data import videos

        batch = next(iter(videos.eval_dataset(data.test, args.figure_videos)))
        return batch["features"], batch["label"].numpy().argmax(-1), None


def read_thumos(args, evaluation=False, classes=None):
    """The THUMOS14-style `VideoSet` of the training (or evaluation) flags; a problem with its
    files is a FlagError naming the flag that gave them."""
    from keras_has.data import thumos

    given = {k: (getattr(args, k), "--" + k.replace("_", "-")) for k in THUMOS_FILES}
    if evaluation:  # the --eval-* flags given, else the training ones
        for k in THUMOS_FILES:
            if getattr(args, f"eval_{k}") is not None:
                given[k] = getattr(args, f"eval_{k}"), "--eval-" + k.replace("_", "-")
    given["labels_file"] = args.labels_file, "--labels-file"
    try:
        return thumos.thumos(
            given["features_dir"][0],
            given["annotations_dir"][0],
            features_per_second=args.features_per_second,
            num_steps=args.num_steps,
            split=given["split"][0],
            labels_file=args.labels_file,
            classes=classes,
        )
    except thumos.ThumosFilesError as error:
        raise flags.FlagError(given[error.argument][1], error.problem) from error


def localize(args, model, test):
    """Per video: its name, label vector, step length, and for each class the 1-D CAM (T, C)."""
    import tensorflow as tf

    from keras_has import CAMModel
    from keras_has.data import videos

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


RECIPE = Temporal()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-temporal command

if __name__ == "__main__":
    sys.exit(console())

"""Weakly-supervised object localization with Hide-and-Seek (Sec. 4.1.1, Tables II-V).

    python -m recipes.wsol                  # the main job: GAP and HaS on the built-in data
    python -m recipes.wsol --dataset cub --data-dir /data/tfds --model googlenet_gap --no-compare
    python -m recipes.wsol --dataset imagenet --data-dir /data/tfds \\
        --val-boxes-dir /data/ilsvrc_boxes/val --model alexnet_gap --has 0,16,32,44,56

Trains a zoo CAM classifier with Hide-and-Seek (and, with --compare, the same
network without it: the GAP baseline), evaluates Top-1 Loc, GT-known Loc,
MaxBoxAcc, MaxBoxAccV2 and PxAP with 10-crop averaging, and writes, in --out:
one folder per model (harness files: checkpoints, backup, logs, log.csv,
results.json), dataset_mean.json (the fill, computed once per dataset),
results.json (all models) and fig5.png (CAMs and boxes side by side).
Started again with the same command, a killed run continues where it was.
"""

import argparse
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

# TensorFlow, Keras, keras_has and the zoo are imported after the flags are parsed.
from recipes import _flags as flags

if TYPE_CHECKING:
    import tensorflow as tf

    from keras_has.data import synthetic

PROG = "python -m recipes.wsol"
# Paper settings per network (Sec. 4.1.1): epochs, CAM threshold, crop. The keys are
# zoo.BUILDERS's (a test checks it).
PAPER = {
    "alexnet_gap": {"epochs": 55, "cam_threshold": 0.2, "crop": 227},
    "googlenet_gap": {"epochs": 40, "cam_threshold": 0.3, "crop": 224},
    "vgg16_gap": {"epochs": 40, "cam_threshold": 0.2, "crop": 224},
    "resnet50_gap": {"epochs": 40, "cam_threshold": 0.2, "crop": 224},
}
# Defaults per dataset; ILSVRC/CUB: the paper's (batch 128, lr 0.01 decayed to 1e-4).
DATASET_DEFAULTS = {
    "builtin": {
        "model": "googlenet_gap",
        "width": 0.25,
        "resize": 136,
        "crop": 128,
        "has": "32",
        "train": {
            "epochs": 20,
            "batch_size": 64,
            "lr": 0.05,
            "lr_end": 5e-4,
            "lr_schedule": "cosine",
            "out": "runs/wsol",
        },
    },
    "cub": {
        "model": "googlenet_gap",
        "width": 1.0,
        "resize": 256,
        "crop": None,
        "has": "0,16,32,44,56",
        "train": {"batch_size": 128, "lr": 0.01, "lr_end": 1e-4},
    },
    "imagenet": {
        "model": "alexnet_gap",
        "width": 1.0,
        "resize": 256,
        "crop": None,
        "has": "0,16,32,44,56",
        "train": {"batch_size": 128, "lr": 0.01, "lr_end": 1e-4},
    },
}
TITLES = {"cub": "CUB-200-2011", "imagenet": "ILSVRC2012"}
METRICS = [
    ("top1_cls", "Top-1 classification"),
    ("top1_loc", "Top-1 Loc (IoU >= 0.5)"),
    ("gt_known_loc", "GT-known Loc (IoU >= 0.5)"),
    ("maxboxacc", "MaxBoxAcc (IoU 0.5)"),
    ("maxboxacc_v2", "MaxBoxAccV2 (IoU 0.3/0.5/0.7)"),
    ("pxap", "PxAP"),
    ("cam_on_head", "head pixels in the CAM (>= threshold)"),
    ("cam_on_body", "body pixels in the CAM"),
    ("cam_on_legs", "leg pixels in the CAM"),
    ("cam_on_background", "background pixels in the CAM"),
    ("top1_cls_head_hidden", "Top-1 classification, head hidden"),
]


def make_parser(argv=None):
    """The recipe's parser: --dataset and --model in `argv` choose the other flags' defaults."""
    known, parser = flags.recipe_parser(
        __doc__,
        PROG,
        DATASET_DEFAULTS,
        "builtin (generated, no download), cub (TFDS caltech_birds2011) or imagenet "
        "(TFDS imagenet2012 with the ILSVRC validation box XMLs).",
        argv,
        also=("--model",),
    )
    data = DATASET_DEFAULTS[known.dataset]
    model = known.model or data["model"]
    paper = PAPER.get(model, PAPER["alexnet_gap"])
    train_defaults = {"epochs": paper["epochs"], **data["train"]}
    add = parser.add_argument
    flags.add_dataset_flag(
        parser,
        ("cub", "imagenet"),
        "--data-dir",
        help="TFDS data folder (default: TFDS's, $TFDS_DATA_DIR or ~/tensorflow_datasets).",
    )
    flags.add_dataset_flag(
        parser,
        ("imagenet",),
        "--val-boxes-dir",
        help="folder of the ILSVRC2012 validation box XMLs (val/ of "
        "ILSVRC2012_bbox_val_v3.tgz): the evaluation's boxes.",
    )
    add("--model", default=model, choices=sorted(PAPER), help="Zoo network.")
    add(
        "--width",
        type=flags.positive(float),
        default=data["width"],
        help="Filter multiplier of alexnet_gap/googlenet_gap.",
    )
    add("--pooling", default="avg", choices=["avg", "max"], help="GAP or GMP (Table IV).")
    flags.add_has_flags(parser, "image", data["has"])
    add(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=known.dataset == "builtin",
        help="Also train the baseline (no hiding) and print both side by side.",
    )
    add(
        "--resize",
        type=flags.positive(int),
        default=data["resize"],
        help="Images are resized to this square side.",
    )
    add(
        "--crop",
        type=flags.positive(int),
        default=data["crop"] or paper["crop"],
        help="Training crop and test 10-crop side.",
    )
    add(
        "--ten-crop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Average probabilities and CAMs of 10 crops at test time.",
    )
    add(
        "--cam-threshold",
        type=flags.fraction,
        default=paper["cam_threshold"],
        help="Fraction of the CAM max for Top-1/GT-known Loc (paper: 0.2 AlexNet, 0.3 GoogLeNet).",
    )
    flags.add_dataset_flag(
        parser,
        ("builtin",),
        "--train-images",
        type=flags.positive(int),
        default=2400,
        help="training images.",
    )
    flags.add_dataset_flag(
        parser,
        ("builtin",),
        "--test-images",
        type=flags.positive(int),
        default=1000,
        help="test images.",
    )
    add(
        "--eval-batch-size",
        type=flags.positive(int),
        default=50,
        help="Images per evaluation batch.",
    )
    add("--figure-images", type=flags.positive(int), default=6, help="Images in fig5.png.")
    flags.add_training_flags(parser, train_defaults)
    return parser


def parse_args(argv=None):
    """The flags; checks what needs no data and no TensorFlow (FlagError), and `check_flags`
    the rest."""
    args = flags.parse(make_parser(argv), argv)
    if args.crop > args.resize:
        raise flags.FlagError("--crop", f"{args.crop} is larger than --resize {args.resize}")
    if args.dataset == "builtin":
        flags.check_batch_size(args, args.train_images, "training images (--train-images)")
        return args
    if args.data_dir is not None:
        flags.check_path("--data-dir", args.data_dir)
    if args.dataset == "imagenet":
        if args.val_boxes_dir is None:
            raise flags.FlagError(
                "--val-boxes-dir",
                "--dataset imagenet is evaluated on the validation split: give the folder of "
                "its box XMLs (val/ of ILSVRC2012_bbox_val_v3.tgz)",
            )
        flags.check_path("--val-boxes-dir", args.val_boxes_dir)
    return args


def check_flags(args):
    """The flags by the library's rules; sets `args.patch_sizes` (None: no hiding).

    After `harness.setup` (the HaS check makes a layer), before any data.
    """
    from keras_has.data import synthetic

    if args.dataset == "builtin" and args.resize < synthetic.MIN_IMAGE_SIZE:
        raise flags.FlagError(
            "--resize",
            f"the built-in images are at least {synthetic.MIN_IMAGE_SIZE} pixels; got "
            f"{args.resize}",
        )
    args.patch_sizes = flags.check_has_flags(args, "image", args.crop)


class Data(NamedTuple):
    """The recipe's data: sources in the package's format, and what the recipe needs to know."""

    train: "tf.data.Dataset"
    test: "tf.data.Dataset"
    num_classes: int
    num_train: int  # training examples: an epoch is num_train // batch_size steps
    animals: "synthetic.Animals | None"  # the built-in test set (for the part analysis)


def sources(args):
    """The `Data` of --dataset; a data set missing where the flags say is a FlagError."""
    from keras_has import data
    from keras_has.data import ilsvrc, pipeline, synthetic
    from keras_has.data.tfds_access import DataNotPreparedError

    if args.dataset == "builtin":
        train, test = (
            synthetic.make(count, args.resize, 8, seed=seed)
            for count, seed in ((args.train_images, 1), (args.test_images, 2))
        )
        train_source, test_source = (
            pipeline.from_arrays(a.images, a.labels, a.boxes, a.masks) for a in (train, test)
        )
        return Data(train_source, test_source, 8, args.train_images, test)
    try:
        if args.dataset == "cub":
            train, info = data.cub("train", args.data_dir, masks=False)
            test, _ = data.cub("test", args.data_dir)
        else:
            train, info = data.imagenet("train", args.data_dir)
            test, _ = data.imagenet("validation", args.data_dir, args.val_boxes_dir)
    except DataNotPreparedError as error:
        raise flags.FlagError(
            "--data-dir",
            f"no {TITLES[args.dataset]} ({error.name}) in {error.data_dir}. {error.how} Or give "
            "the folder that holds it.",
        ) from error
    except (ilsvrc.BoxesNotFoundError, ilsvrc.BoxXMLError) as error:
        raise flags.FlagError("--val-boxes-dir", str(error)) from error
    # TFDS records the split's size; only when it does not, count it (one pass).
    num_train = info.num_examples or int(train.reduce(0, lambda count, _: count + 1))
    return Data(train, test, info.num_classes, num_train, None)


def dataset_mean(args, train):
    """The training-set mean at --resize, computed once and kept in --out."""
    from keras_has.data import pipeline
    from recipes import _harness as harness

    key = {"dataset": args.dataset, "resize": args.resize}
    if args.dataset == "builtin":
        key["train_images"] = args.train_images
    path = os.path.join(args.out, "dataset_mean.json")
    return harness.stored_mean(path, key, lambda: pipeline.fill_mean(train, args.resize))


def train_model(args, name, patch_sizes, data, mean):
    import zoo
    from keras_has.data import pipeline
    from recipes import _harness as harness

    run = argparse.Namespace(**vars(args))
    run.out = os.path.join(args.out, name)
    run.has = "off" if patch_sizes is None else args.has

    def epoch_data(epoch):
        return pipeline.train_dataset(
            data.train,
            args.batch_size,
            args.resize,
            args.crop,
            patch_sizes,
            args.hide_prob,
            mean,
            seed=args.seed * 1000 + epoch,
        )

    def build():
        kwargs = {"width": args.width} if args.model in ("alexnet_gap", "googlenet_gap") else {}
        return zoo.BUILDERS[args.model](
            data.num_classes, input_shape=(None, None, 3), pooling=args.pooling, **kwargs
        )

    config = {
        **harness.run_config(run, ignore=("compare", "figure_images", "eval_batch_size")),
        "patch_sizes": patch_sizes,
    }
    model, _ = harness.train(
        build,
        epoch_data,
        run,
        steps_per_epoch=data.num_train // args.batch_size,
        config=config,
        verbose=0,
    )
    return model, run.out


def evaluate(args, model, test, animals=None, mean=None):
    """All metrics of `LocalizationMetrics` on the test source.

    With the built-in test `animals` (in the source's order) and the fill `mean`, also where the
    CAM is: the fraction of each part's pixels at or above --cam-threshold, and the accuracy
    on the test images with the head hidden (filled with the mean), i.e. from the body alone.
    """
    import numpy as np
    import tensorflow as tf

    from keras_has import CAMModel
    from keras_has.data import pipeline
    from keras_has.metrics import LocalizationMetrics

    crop = args.crop if args.ten_crop else None
    cams = CAMModel(model, classes="given", crop_size=crop)
    run = tf.function(lambda x, y: cams(x, class_ids=y))
    metrics = LocalizationMetrics(cam_threshold=args.cam_threshold)
    parts = _PartCoverage(args.cam_threshold, np.rint(mean)) if animals is not None else None
    start = 0
    for batch in pipeline.eval_dataset(test, args.eval_batch_size, args.resize):
        out = run(batch["image"], batch["label"])
        maps = out["cams"].numpy()[..., 0]
        masks = batch["mask"].numpy() if "mask" in batch else None
        labels = batch["label"].numpy()
        metrics.update(maps, batch["boxes"].numpy(), labels, out["probabilities"].numpy(), masks)
        if parts is not None:
            stop = start + len(labels)
            parts.update(
                model, maps, animals.images[start:stop], animals.part_masks[start:stop], labels
            )
            start = stop
    result = metrics.result()
    if parts is not None:
        result.update(parts.result())
    return result


class _PartCoverage:
    """Built-in data: where a model's CAMs lie, and what it sees without the head."""

    NAMES = ("background", "head", "body", "legs")  # the values of `Animals.part_masks`

    def __init__(self, threshold, fill):
        import numpy as np

        self.threshold, self.fill = threshold, fill
        self.on, self.pixels = np.zeros(4), np.zeros(4)
        self.right_without_head = self.images = 0

    def update(self, model, maps, images, part_masks, labels):
        import numpy as np

        from keras_has.boxes import foreground, normalize_cams
        from keras_has.data import pipeline

        kept = foreground(normalize_cams(maps), self.threshold)
        for value in range(4):
            where = part_masks == value
            self.on[value] += np.count_nonzero(kept & where)
            self.pixels[value] += np.count_nonzero(where)
        hidden = np.where(part_masks[..., None] == 1, self.fill, images).astype(np.uint8)
        predicted = np.argmax(model.predict_on_batch(pipeline.normalize(hidden)), axis=-1)
        self.right_without_head += np.count_nonzero(predicted == labels)
        self.images += len(labels)

    def result(self):
        out = {
            f"cam_on_{n}": on / max(px, 1) for n, on, px in zip(self.NAMES, self.on, self.pixels)
        }
        out["top1_cls_head_hidden"] = self.right_without_head / max(self.images, 1)
        return out


def figure(args, models, test):
    """Fig. 5: for a few test images, each model's box (green; red: truth) and CAM."""
    from keras_has import CAMModel, viz
    from keras_has.boxes import cam_to_boxes
    from keras_has.data import pipeline

    batch = next(iter(pipeline.eval_dataset(test, args.figure_images, args.resize)))
    crop = args.crop if args.ten_crop else None
    methods = {}
    for name, model in models.items():
        out = CAMModel(model, classes=1, crop_size=crop)(batch["image"])
        maps = out["cams"].numpy()[..., 0]
        methods[name] = (maps, cam_to_boxes(maps, args.cam_threshold))
    boxes = [b[(b[:, 2] > b[:, 0])] for b in batch["boxes"].numpy()]
    picture = viz.comparison(batch["pixels"].numpy(), boxes, methods)
    return viz.write_png(os.path.join(args.out, "fig5.png"), picture)


@flags.cli(PROG)
def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from recipes import _harness as harness

    harness.setup(args)
    check_flags(args)
    data = sources(args)
    flags.check_batch_size(args, data.num_train, "training images")
    mean = dataset_mean(args, data.train)
    print(f"fill: training-set mean RGB {np.round(mean, 1).tolist()}", flush=True)
    runs = (
        {"GAP": None, "HaS": args.patch_sizes}
        if args.compare
        else {"GAP" if args.patch_sizes is None else "HaS": args.patch_sizes}
    )
    models, results = {}, {}
    for name, patch_sizes in runs.items():
        model, out = train_model(args, name.lower(), patch_sizes, data, mean)
        results[name] = evaluate(args, model, data.test, data.animals, mean)
        harness.write_results(out, results[name])
        models[name] = model
    print(harness.metric_table(results, METRICS), flush=True)
    if harness.is_chief():
        harness.write_results(
            args.out, {"dataset_mean": mean.tolist(), "models": list(results), **results}
        )
        print(
            f"wrote {figure(args, models, data.test)} and {os.path.join(args.out, 'results.json')}"
        )
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

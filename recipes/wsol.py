"""Weakly-supervised object localization with Hide-and-Seek (Sec. 4.1.1, Tables II-V).

    python -m keras_has.recipes.wsol                  # the main job: GAP and HaS on the built-in data
    python -m keras_has.recipes.wsol --dataset cub --data-dir /data/tfds --model googlenet_gap --variants HaS
    python -m keras_has.recipes.wsol --dataset imagenet --data-dir /data/tfds \\
        --val-boxes-dir /data/ilsvrc_boxes/val --model alexnet_gap --has 0,16,32,44,56

Trains a zoo CAM classifier with Hide-and-Seek and the same network without it
(the GAP baseline; --variants chooses), evaluates Top-1 Loc, GT-known Loc,
MaxBoxAcc, MaxBoxAccV2 and PxAP with 10-crop averaging, and writes, in --out:
one folder per model (run files: checkpoints, backup, logs, log.csv,
results.json), fill_mean.json (the fill, computed once per dataset),
results.json (all models) and fig5.png (CAMs and boxes side by side).
Started again with the same command, a killed run continues where it was;
evaluation flags (--cam-threshold, --ten-crop, ...) re-evaluate a finished run.
"""

import argparse
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Variant

if TYPE_CHECKING:
    import tensorflow as tf

    from keras_has.data import synthetic

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
        "variants": ("GAP", "HaS"),
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
        "variants": ("HaS",),
        "train": {"batch_size": 128, "lr": 0.01, "lr_end": 1e-4},
    },
    "imagenet": {
        "model": "alexnet_gap",
        "width": 1.0,
        "resize": 256,
        "crop": None,
        "has": "0,16,32,44,56",
        "variants": ("HaS",),
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


class Data(NamedTuple):
    """The recipe's data: sources in the package's format, and what the recipe needs to know."""

    train: "tf.data.Dataset"
    test: "tf.data.Dataset"
    num_classes: int
    num_train: int  # training examples: an epoch is num_train // batch_size steps
    animals: "synthetic.Animals | None"  # the built-in test set (for the part analysis)


class WSOL(Recipe):
    prog = "python -m keras_has.recipes.wsol"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = (
        "builtin (generated, no download), cub (TFDS caltech_birds2011) or imagenet "
        "(TFDS imagenet2012 with the ILSVRC validation box XMLs)."
    )
    also = ("--model",)
    variants = (Variant("GAP"), Variant("HaS", hides=True))
    evaluation_flags = (
        "cam_threshold",
        "ten_crop",
        "eval_batch_size",
        "figure_images",
        "val_boxes_dir",
        "test_images",
    )
    metrics = METRICS
    examples = "training images"

    def training_defaults(self, known):
        paper = PAPER.get(
            known.model or self.datasets[known.dataset]["model"], PAPER["alexnet_gap"]
        )
        return {"epochs": paper["epochs"], **self.datasets[known.dataset]["train"]}

    def add_flags(self, parser, defaults, known):
        model = known.model or defaults["model"]
        paper = PAPER.get(model, PAPER["alexnet_gap"])
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
            default=defaults["width"],
            help="Filter multiplier of alexnet_gap/googlenet_gap.",
        )
        add("--pooling", default="avg", choices=["avg", "max"], help="GAP or GMP (Table IV).")
        add(
            "--resize",
            type=flags.positive(int),
            default=defaults["resize"],
            help="Images are resized to this square side.",
        )
        add(
            "--crop",
            type=flags.positive(int),
            default=defaults["crop"] or paper["crop"],
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
        for name, what, default in (("train", "training", 2400), ("test", "test", 1000)):
            flags.add_dataset_flag(
                parser,
                ("builtin",),
                f"--{name}-images",
                type=flags.positive(int),
                default=default,
                help=f"{what} images.",
            )
        add(
            "--eval-batch-size",
            type=flags.positive(int),
            default=50,
            help="Images per evaluation batch.",
        )
        add("--figure-images", type=flags.positive(int), default=6, help="Images in fig5.png.")

    def check(self, args):
        if args.crop > args.resize:
            raise flags.FlagError("--crop", f"{args.crop} is larger than --resize {args.resize}")
        if args.dataset == "builtin":
            flags.check_batch_size(args, args.train_images, "training images (--train-images)")
            return
        if args.data_dir is not None:
            flags.check_path("--data-dir", args.data_dir)
        if args.dataset == "imagenet":
            if args.val_boxes_dir is None:
                raise flags.FlagError(
                    "--val-boxes-dir",
                    "--dataset imagenet is evaluated on the validation split: give the folder "
                    "of its box XMLs (val/ of ILSVRC2012_bbox_val_v3.tgz)",
                )
            flags.check_path("--val-boxes-dir", args.val_boxes_dir)

    def validate(self, args):
        from keras_has.data import synthetic

        if args.dataset == "builtin":
            what = "the built-in images are at least {} pixels"
            flags.check_at_least("--resize", args.resize, synthetic.MIN_IMAGE_SIZE, what)

    def load(self, args):
        """The `Data` of --dataset; a data set missing where the flags say is a FlagError."""
        from keras_has import data
        from keras_has.data import ilsvrc, pipeline, synthetic, tfds_access

        if args.dataset == "builtin":
            train, test = (
                synthetic.make(count, args.resize, 8, seed=seed)
                for count, seed in ((args.train_images, 1), (args.test_images, 2))
            )
            train_source, test_source = (
                pipeline.from_arrays(a.images, a.labels, a.boxes, a.masks) for a in (train, test)
            )
            return Data(train_source, test_source, 8, args.train_images, test)
        boxes = flags.flag_errors("--val-boxes-dir", ilsvrc.BoxesNotFoundError, ilsvrc.BoxXMLError)
        with tfds_access.data_dir_errors(TITLES[args.dataset]), boxes:
            if args.dataset == "cub":
                train, info = data.cub("train", args.data_dir, masks=False)
                test, _ = data.cub("test", args.data_dir)
            else:
                train, info = data.imagenet("train", args.data_dir)
                test, _ = data.imagenet("validation", args.data_dir, args.val_boxes_dir)
        # TFDS records the split's size; only when it does not, count it (one pass).
        num_train = info.num_examples or int(train.reduce(0, lambda count, _: count + 1))
        return Data(train, test, info.num_classes, num_train, None)

    def mean_key(self, args):
        key = {"dataset": args.dataset, "resize": args.resize}
        if args.dataset == "builtin":
            key["train_images"] = args.train_images
        return key

    def compute_mean(self, args, data):
        from keras_has.data import pipeline

        return pipeline.fill_mean(data.train, args.resize)

    def describe_mean(self, mean, data):
        import numpy as np

        return f"fill: training-set mean RGB {np.round(mean, 1).tolist()}"

    def build(self, args, data):
        from keras_has import zoo

        kwargs = {"width": args.width} if args.model in ("alexnet_gap", "googlenet_gap") else {}
        return zoo.build(
            args.model,
            data.num_classes,
            input_shape=(None, None, 3),
            pooling=args.pooling,
            **kwargs,
        )

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import pipeline

        return pipeline.train_dataset(
            data.train,
            args.batch_size,
            args.resize,
            args.crop,
            run.patch_sizes,
            args.hide_prob,
            mean,
            seed=seed,
        )

    def evaluate(self, args, model, data, mean):
        """All metrics of `LocalizationMetrics` on the test source.

        On the built-in data, also where the CAM is: the fraction of each part's pixels at or
        above --cam-threshold, and the accuracy on the test images with the head hidden
        (filled with the mean), i.e. from the body alone.
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
        animals = data.animals
        parts = _PartCoverage(args.cam_threshold, np.rint(mean)) if animals is not None else None
        start = 0
        for batch in pipeline.eval_dataset(data.test, args.eval_batch_size, args.resize):
            out = run(batch["image"], batch["label"])
            maps = out["cams"].numpy()[..., 0]
            masks = batch["mask"].numpy() if "mask" in batch else None
            labels = batch["label"].numpy()
            probabilities = out["probabilities"].numpy()
            metrics.update(maps, batch["boxes"].numpy(), labels, probabilities, masks)
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

    def _figure_batch(self, args, data):
        from keras_has.data import pipeline

        return next(iter(pipeline.eval_dataset(data.test, args.figure_images, args.resize)))

    def figure(self, args, models, data):
        """Fig. 5: for a few test images, each model's box (green; red: truth) and CAM."""
        from keras_has import CAMModel, viz
        from keras_has.boxes import cam_to_boxes

        batch = self._figure_batch(args, data)
        crop = args.crop if args.ten_crop else None
        methods = {}
        for name, model in models.items():
            out = CAMModel(model, classes=1, crop_size=crop)(batch["image"])
            maps = out["cams"].numpy()[..., 0]
            methods[name] = (maps, cam_to_boxes(maps, args.cam_threshold))
        boxes = [b[(b[:, 2] > b[:, 0])] for b in batch["boxes"].numpy()]
        picture = viz.comparison(batch["pixels"].numpy(), boxes, methods)
        return viz.write_png(os.path.join(args.out, "fig5.png"), picture)

    def cam_batch(self, args, data):
        batch = self._figure_batch(args, data)
        return batch["image"], batch["label"].numpy(), batch["pixels"].numpy()


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


RECIPE = WSOL()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-wsol command

if __name__ == "__main__":
    sys.exit(console())

"""Image classification with Hide-and-Seek (Sec. 4.6, Table VIII, Fig. 7).

    python -m keras_has.recipes.classification                           # built-in animals: all three
    python -m keras_has.recipes.classification --dataset fashion_mnist   # real data (IDX files)
    python -m keras_has.recipes.classification --dataset cifar10 --data-dir /data/tfds \\
        --model cifar_resnet110_gap --variants Full,HaS
    python -m keras_has.recipes.classification --dataset imagenet --data-dir /data/tfds

Trains a ResNet from scratch with the standard augmentation (Full: random crop and flip),
the same with Hide-and-Seek on top (HaS: half of the images hidden, cells of --has pixels,
the training-set mean as fill) and, if asked, with Random Erasing (Zhong et al.) instead;
same network and seeds. Reports top-1 error (and top-5), and occlusion robustness: accuracy
when 10-50% of every test image is hidden in random grid cells, and when the top of the
model's own CAM (its most discriminative part) is hidden. Writes, in --out: one run folder
per model, results.json and occlusion.png (accuracy against the hidden fraction).
"""

import os
import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Variant
from keras_has.training.tables import Metric

STEP = {"lr": 0.1, "lr_end": 1e-3, "lr_schedule": "step", "weight_decay": 1e-3}
CIFAR = {
    "model": "cifar_resnet56_gap",
    "has": "8",
    "transform": "cifar",
    "variants": ("HaS",),
    "train": {**STEP, "epochs": 300, "batch_size": 128},  # the paper: 300 epochs, /10 at 50%, 75%
}
DATASET_DEFAULTS = {
    "builtin": {
        "model": "cifar_resnet20_gap",
        "has": "8",
        "transform": "cifar",
        "train_images": 2400,
        "train": {**STEP, "epochs": 15, "batch_size": 64, "out": "runs/classification"},
    },
    "fashion_mnist": {
        "model": "cifar_resnet20_gap",
        "has": "8",
        "transform": "cifar",
        "variants": ("Full", "HaS"),
        "train_images": 20_000,  # CPU-sized: about 12 minutes per model on 2 cores
        "train": {**STEP, "epochs": 4, "batch_size": 128, "out": "runs/classification-fashion"},
    },
    "cifar10": CIFAR,
    "cifar100": CIFAR,
    "imagenet": {
        "model": "resnet50_gap",
        "has": "16,32,44,56",
        "transform": "imagenet",
        "variants": ("HaS",),
        "milestones": [0.25, 0.5, 0.75],  # the paper: 160 epochs, /10 every 40
        "train": {**STEP, "lr_end": 1e-4, "epochs": 160, "batch_size": 256},
    },
}
MODELS = [f"cifar_resnet{d}_gap" for d in (20, 32, 44, 56, 110, 164)] + ["resnet50_gap"]
TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ILSVRC2012"}
CURVES = {"occluded_accuracy": "random cells", "cam_occluded_accuracy": "top of its CAM"}


class Data(NamedTuple):
    """Sources, sizes and the training set's pixel statistics (mean, std), (C,) each."""

    train: Any
    test: Any
    num_classes: int
    num_train: int
    stats: tuple
    image_size: int  # the model's input side
    channels: int


class Classification(Recipe):
    prog = "python -m keras_has.recipes.classification"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = (
        "builtin (generated animals at 32x32, no download), fashion_mnist (IDX files in "
        "--data-dir), cifar10, cifar100, imagenet (TFDS, prepared in --data-dir)."
    )
    also = ("--model",)
    variants = (
        Variant("Full"),
        Variant("HaS", hides=True, flags=("image_prob",)),
        Variant("RandomErasing", flags=("erasing_prob",)),
    )
    evaluation_flags = (
        "occlusion_images",
        "occlusion_fractions",
        "eval_batch_size",
        "ten_crop",
        "test_images",
    )
    examples = "training images"

    def add_flags(self, parser, defaults, known):
        add = parser.add_argument
        flags.add_dataset_flag(
            parser,
            ("fashion_mnist", "cifar10", "cifar100", "imagenet"),
            "--data-dir",
            help="fashion_mnist: the folder of its IDX files (default: the Debian package's "
            "/usr/share/datasets/fashion-mnist); the others: the TFDS data folder (default: "
            "TFDS's).",
        )
        add(
            "--model", default=known.model or defaults["model"], choices=MODELS, help="Zoo network."
        )
        add(
            "--image-prob",
            type=flags.fraction,
            default=0.5,
            help="HaS: probability that an image is hidden at all (the paper: 0.5, 'we show the "
            "full image half of the time').",
        )
        add(
            "--erasing-prob",
            type=flags.fraction,
            default=0.5,
            help="RandomErasing: erasing probability (Zhong et al.: 0.5; area 0.02-0.4, aspect "
            "0.3-3.3, mean fill).",
        )
        flags.add_milestones_flag(parser, defaults.get("milestones", [0.5, 0.75]))
        flags.add_dataset_flag(
            parser,
            ("builtin", "fashion_mnist"),
            "--train-images",
            type=flags.positive(int),
            default=defaults.get("train_images"),
            help="training images (fashion_mnist: the first N of the 60,000).",
        )
        flags.add_dataset_flag(
            parser,
            ("builtin",),
            "--test-images",
            type=flags.positive(int),
            default=800,
            help="test images.",
        )
        flags.add_dataset_flag(
            parser,
            ("imagenet",),
            "--ten-crop",
            action="store_true",
            help="average the probabilities of 10 crops (default: the centre crop).",
        )
        add(
            "--occlusion-images",
            type=flags.positive(int),
            default=2000,
            help="Test images (the first N) of the occlusion curves.",
        )
        add(
            "--occlusion-fractions",
            type=flags.fractions,
            default=[0.1, 0.2, 0.3, 0.4, 0.5],
            help="Hidden fractions of each test image for the occlusion curves, increasing, "
            "comma-separated.",
        )
        add("--eval-batch-size", type=flags.positive(int), default=200, help="Test batch size.")

    def check(self, args):
        if args.data_dir is not None:
            flags.check_path("--data-dir", args.data_dir)
        if args.dataset == "builtin":
            flags.check_batch_size(args, args.train_images, "training images (--train-images)")
        if args.model == "resnet50_gap" and args.dataset != "imagenet":
            raise flags.FlagError(
                "--model",
                "resnet50_gap is the ImageNet model; the others "
                "are 32x32 images: use a cifar_resnet*_gap",
            )
        if args.dataset == "imagenet" and args.model != "resnet50_gap":
            raise flags.FlagError("--model", "--dataset imagenet trains resnet50_gap")

    def validate(self, args):
        side = 224 if args.dataset == "imagenet" else 32
        for size in args.has.split(","):
            if size.strip().isdigit() and int(size) > side:
                raise flags.FlagError(
                    "--has", f"{int(size)} pixels is larger than the {side}-pixel images"
                )

    def load(self, args):
        """The `Data` of --dataset; missing data where the flags say is a FlagError."""
        import numpy as np

        from keras_has.data import classification as cls
        from keras_has.data import idx

        if args.dataset in ("builtin", "fashion_mnist"):
            if args.dataset == "builtin":
                (train_x, train_y), (test_x, test_y) = _animals(args)
            else:
                folder = args.data_dir or idx.DEBIAN_FOLDER
                with flags.flag_errors("--data-dir", idx.IDXError):
                    train_x, train_y = idx.fashion_mnist("train", folder)
                    test_x, test_y = idx.fashion_mnist("test", folder)
                train_x, train_y = train_x[: args.train_images], train_y[: args.train_images]
                # 28x28 padded with zeros (the background) to the CIFAR ResNets' 32x32.
                train_x, test_x = (
                    np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)]) for x in (train_x, test_x)
                )
            return Data(
                cls.from_arrays(train_x, train_y),
                cls.from_arrays(test_x, test_y),
                int(max(train_y.max(), test_y.max())) + 1,
                len(train_x),
                cls.channel_stats(train_x),
                32,
                train_x.shape[-1],
            )
        from keras_has.data import tfds_access

        with tfds_access.data_dir_errors(TITLES[args.dataset]):
            train, info = cls.tfds_source(args.dataset, "train", args.data_dir)
            test_split = "validation" if args.dataset == "imagenet" else "test"
            test, _ = cls.tfds_source(args.dataset, test_split, args.data_dir)
        num_train = info.num_examples or int(train.reduce(0, lambda count, _: count + 1))
        if args.dataset == "imagenet":
            return Data(train, test, info.num_classes, num_train, cls.IMAGENET_STATS, 224, 3)
        return Data(train, test, info.num_classes, num_train, cls.channel_stats(train), 32, 3)

    def mean_key(self, args):
        return {"dataset": args.dataset, "train_images": args.train_images}

    def compute_mean(self, args, data):
        return data.stats[0]

    def describe_mean(self, mean, data):
        import numpy as np

        std = np.round(data.stats[1], 1).tolist()
        return f"fill: training-set mean {np.round(mean, 1).tolist()} (std {std}: normalization)"

    def build(self, args, data):
        from keras_has import zoo

        shape = (data.image_size, data.image_size, data.channels)
        return zoo.build(args.model, data.num_classes, input_shape=shape)

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import classification as cls

        name = run.variant.name
        has = None
        if run.patch_sizes is not None:
            has = {
                "patch_size": run.patch_sizes,
                "hide_prob": args.hide_prob,
                "image_prob": args.image_prob,
            }
        erasing = {"probability": args.erasing_prob} if name == "RandomErasing" else None
        return cls.train_dataset(
            data.train,
            args.batch_size,
            (mean, data.stats[1]),
            DATASET_DEFAULTS[args.dataset]["transform"],
            data.image_size,
            has=has,
            erasing=erasing,
            seed=seed,
        )

    def table_metrics(self, args):
        rows = [Metric("top1_error", "Top-1 error"), Metric("top5_error", "Top-5 error")]
        for key, what in CURVES.items():
            rows += [
                Metric(f"{key}/{f:g}", f"accuracy, {100 * f:g}% hidden ({what})")
                for f in args.occlusion_fractions
            ]
        return rows

    def evaluate(self, args, model, data, mean):
        """Top-1 (top-5) error on the test set; accuracy on its first --occlusion-images with
        each fraction hidden in random grid cells and at the top of the model's CAM."""
        import numpy as np

        from keras_has import CAMModel
        from keras_has.data import classification as cls
        from keras_has.metrics import occlusion

        stats = (mean, data.stats[1])
        transform = DATASET_DEFAULTS[args.dataset]["transform"]
        crop = data.image_size if transform == "imagenet" else None
        # 10 crops average their probabilities (CAMModel); one image needs no CAM, only the model.
        if args.ten_crop:
            ten_crops = CAMModel(model, classes=1, crop_size=crop)
            classify = lambda x: ten_crops(x)["probabilities"].numpy()
        else:
            classify = model.predict_on_batch
        right1 = right5 = total = 0
        kept_pixels, kept_labels = [], []
        for batch in cls.eval_dataset(
            data.test, args.eval_batch_size, stats, transform, data.image_size
        ):
            images = batch["image"] if args.ten_crop else _centre(batch["image"], crop)
            probabilities = np.asarray(classify(images))
            labels = batch["label"].numpy()
            top5 = np.argsort(-probabilities, axis=1)[:, :5]
            right1 += np.count_nonzero(top5[:, 0] == labels)
            right5 += np.count_nonzero((top5 == labels[:, None]).any(axis=1))
            total += len(labels)
            if sum(map(len, kept_labels)) < args.occlusion_images:
                kept_pixels.append(_centre(batch["pixels"], crop).numpy())
                kept_labels.append(labels)
        results = {"top1_error": 1 - right1 / total}
        if data.num_classes > 5:
            results["top5_error"] = 1 - right5 / total
        pixels = np.concatenate(kept_pixels)[: args.occlusion_images]
        labels = np.concatenate(kept_labels)[: args.occlusion_images]
        curves = occlusion.curves(
            model,
            pixels,
            labels,
            args.occlusion_fractions,
            mean,
            lambda images: cls.normalize(images, stats),
            args.eval_batch_size,
            args.seed,
        )
        return {**results, **curves}

    def figure(self, args, models, data):
        """occlusion.png: accuracy against the hidden fraction, per model, both occlusions."""
        from keras_has import viz
        from keras_has.training import run_files

        curves = {}
        for name in models:
            results = run_files.read_json(os.path.join(args.out, name.lower(), "results.json"))
            curves[name] = {key: results[key] for key in CURVES}
        path = os.path.join(args.out, "occlusion.png")
        panels = {
            f"hidden: {what}": {n: c[key] for n, c in curves.items()}
            for key, what in CURVES.items()
        }
        return viz.curves(path, panels, "hidden fraction of each test image", "top-1 accuracy")


def _animals(args):
    """The built-in animals (8 classes) at 32x32: ((train images, labels), (test ...))."""
    import cv2
    import numpy as np

    from keras_has.data import synthetic

    sets = []
    for count, seed in ((args.train_images, 1), (args.test_images, 2)):
        animals = synthetic.make(count, synthetic.MIN_IMAGE_SIZE, 8, seed=seed)
        small = np.stack(
            [cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in animals.images]
        )
        sets.append((small, animals.labels.astype(np.int64)))
    return sets


def _centre(images, crop):
    """The centre crop x crop of (B, S, S, C) images (crop None: the images)."""
    if crop is None:
        return images
    import tensorflow as tf

    return tf.image.resize_with_crop_or_pad(images, crop, crop)


RECIPE = Classification()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-classification command

if __name__ == "__main__":
    sys.exit(console())

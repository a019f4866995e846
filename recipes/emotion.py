"""Facial emotion recognition with Hide-and-Seek (Sec. 4.8, Table X of the extended paper: the
zero-bias CNN on CK+, 93.65 -> 94.88 with standard augmentation).

    python -m keras_has.recipes.emotion                               # built-in faces
    python -m keras_has.recipes.emotion --dataset ckplus --data-dir /data/CK+ --fold 3

Trains Khorrami et al.'s zero-bias CNN four ways, as Table X: CNN (no augmentation), CNN+A
(standard augmentation: random crops and flips), HaS (hiding alone: it keeps the faces'
alignment, which crops and flips break) and A+HaS; same network and seeds. Reports accuracy
(and, on the built-in faces, on the faces whose mouth, the strongest cue, is covered) and
draws what each model attends to: its occlusion sensitivity (the zero-bias CNN has no CAM).
CK+: subject-independent folds (--fold of --num-folds); run each fold and summarize them with
`python -m keras_has.recipes.summarize` (mean and spread over folds). Writes, in --out: a run
folder per variant, results.json and attention.png.
"""

import os
import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Variant
from keras_has.training.tables import Metric

TRAIN = {"batch_size": 64, "lr": 0.01, "lr_end": 1e-4, "lr_schedule": "cosine"}
DATASET_DEFAULTS = {
    "builtin": {
        "image_size": 48,
        "width": 0.5,
        "has": "0,6,8,16,24",  # the paper's 0/12/16/32/48 of 96 pixels, at 48
        "train_images": 2400,
        "train": {**TRAIN, "epochs": 20, "weight_decay": 5e-4, "out": "runs/emotion"},
    },
    "ckplus": {
        "image_size": 96,
        "width": 1.0,
        "has": "0,12,16,32,48",  # the paper's
        "train": {**TRAIN, "epochs": 60, "weight_decay": 5e-4, "out": "runs/emotion-ckplus"},
    },
}
# Tables X and XI: plain, standard augmentation (A: random crops and flips), HaS, both.
VARIANTS = (
    Variant("CNN"),
    Variant("CNN+A"),
    Variant("HaS", hides=True),
    Variant("A+HaS", hides=True),
)
AUGMENTED = ("CNN+A", "A+HaS")


class Data(NamedTuple):
    """The training source and test arrays: pixels (N, S, S, 1), labels, covered (or None)."""

    train: Any
    test_pixels: Any
    test_labels: Any
    test_covered: Any
    num_train: int
    stats: tuple  # (mean, std) of the training pixels


class Emotion(Recipe):
    prog = "python -m keras_has.recipes.emotion"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = "builtin (generated faces, no download) or ckplus (CK+ in --data-dir)."
    variants = VARIANTS
    evaluation_flags = ("eval_batch_size", "test_images")
    metrics = (
        Metric("accuracy", "accuracy"),
        Metric("accuracy_covered", "accuracy, mouth covered"),
        Metric("accuracy_uncovered", "accuracy, mouth in view"),
    )
    examples = "training faces"

    def add_flags(self, parser, defaults, known):
        add = parser.add_argument
        add(
            "--image-size",
            type=flags.positive(int),
            default=defaults["image_size"],
            help="Face side.",
        )
        add(
            "--width",
            type=flags.positive(float),
            default=defaults["width"],
            help="Filter multiplier.",
        )
        add("--eval-batch-size", type=flags.positive(int), default=200, help="Test batch size.")
        flags.add_dataset_flag(parser, ("ckplus",), "--data-dir", help="the CK+ folder.")
        flags.add_dataset_flag(
            parser, ("ckplus",), "--fold", type=flags.non_negative(int), default=0,
            help="the test fold (subject-independent).",
        )  # fmt: skip
        flags.add_dataset_flag(
            parser, ("ckplus",), "--num-folds", type=flags.positive(int), default=10,
            help="folds of the subjects.",
        )  # fmt: skip
        for name, default in (
            ("--train-images", defaults.get("train_images")),
            ("--test-images", 800),
        ):
            flags.add_dataset_flag(
                parser, ("builtin",), name, type=flags.positive(int), default=default, help="faces."
            )

    def check(self, args):
        if args.image_size % 4:
            raise flags.FlagError("--image-size", f"{args.image_size} is not a multiple of 4")
        if args.dataset == "ckplus":
            if args.data_dir is None:
                raise flags.FlagError("--data-dir", "--dataset ckplus needs the CK+ folder")
            flags.check_path("--data-dir", args.data_dir)
            if args.fold >= args.num_folds:
                raise flags.FlagError("--fold", f"{args.fold} is not below --num-folds")
        else:
            flags.check_batch_size(args, args.train_images, "training faces (--train-images)")

    def has_limit(self, args):
        return args.image_size

    def load(self, args):
        from keras_has.data import classification as cls

        if args.dataset == "ckplus":
            from keras_has.data import ckplus

            with flags.flag_errors("--data-dir", FileNotFoundError, ckplus.CKPlusError):
                faces = ckplus.load(args.data_dir, args.image_size, num_folds=args.num_folds)
            train, test = ckplus.fold_split(faces, args.fold)
            pixels, labels, covered = faces.images, faces.labels, None
        else:
            from keras_has.data import synthetic_faces

            sets = synthetic_faces.train_test(
                synthetic_faces.make_emotions, args.train_images, args.test_images, args.image_size
            )
            pixels = [s.images for s in sets]
            train, test = slice(None), slice(None)
            labels, covered = [s.labels for s in sets], sets[1].covered
            return Data(
                cls.from_arrays(pixels[0], labels[0]),
                pixels[1],
                labels[1],
                covered,
                len(labels[0]),
                cls.channel_stats(pixels[0]),
            )
        return Data(
            cls.from_arrays(pixels[train], labels[train]),
            pixels[test],
            labels[test],
            covered,
            len(train),
            cls.channel_stats(pixels[train]),
        )

    def mean_key(self, args):
        keys = ("image_size", "train_images", "fold", "num_folds")
        return {"dataset": args.dataset, **{k: getattr(args, k) for k in keys}}

    def compute_mean(self, args, data):
        return data.stats[0]

    def build(self, args, data):
        from keras_has import zoo

        shape = (args.image_size, args.image_size, 1)
        return zoo.build("zero_bias_cnn", 8, input_shape=shape, width=args.width)

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import classification as cls

        has = None
        if run.patch_sizes is not None:
            has = {"patch_size": run.patch_sizes, "hide_prob": args.hide_prob}
        transform = "cifar" if run.variant.name in AUGMENTED else "none"
        stats = (mean, data.stats[1])
        return cls.train_dataset(
            data.train, args.batch_size, stats, transform, args.image_size, has=has, seed=seed
        )

    def evaluate(self, args, model, data, mean):
        import numpy as np

        from keras_has.data import classification as cls

        inputs, size = cls.normalize(data.test_pixels, data.stats), args.eval_batch_size
        batches = (model(inputs[i : i + size], training=False) for i in range(0, len(inputs), size))
        predicted = np.concatenate([np.asarray(b) for b in batches]).argmax(1)
        right = predicted == data.test_labels
        results = {"accuracy": float(right.mean())}
        if data.test_covered is not None:
            results["accuracy_covered"] = float(right[data.test_covered].mean())
            results["accuracy_uncovered"] = float(right[~data.test_covered].mean())
        return results

    def figure(self, args, models, data):
        """attention.png: the first test faces and each model's occlusion sensitivity."""
        import numpy as np

        from keras_has import viz
        from keras_has.data import classification as cls
        from keras_has.metrics import occlusion

        pixels, labels = data.test_pixels[:6], data.test_labels[:6]
        maps = {
            name: occlusion.sensitivity(
                model,
                pixels,
                labels,
                args.image_size // 6,
                data.stats[0],
                lambda x: cls.normalize(x, data.stats),
            )
            for name, model in models.items()
        }
        rgb = np.repeat(pixels, 3, axis=-1)
        return viz.write_png(os.path.join(args.out, "attention.png"), viz.heat_rows(rgb, maps))


RECIPE = Emotion()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-emotion command

if __name__ == "__main__":
    sys.exit(console())

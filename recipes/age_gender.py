"""Age and gender estimation with Hide-and-Seek (Sec. 4.8, Table XI of the extended paper: a
Wide Residual Network on 64x64 faces, lower age MAE on APPA-REAL, higher gender accuracy on
UTKFace, with patch sizes 0/8/16/32).

    python -m keras_has.recipes.age_gender                                # built-in faces
    python -m keras_has.recipes.age_gender --dataset utkface --data-dir /data/UTKFace
    python -m keras_has.recipes.age_gender --dataset appa_real --data-dir /data/appa-real-release

Trains one WRN with two outputs (gender: 2-way softmax; age: 101-way softmax over 0..100, whose
expected value is the predicted age) four ways, as Table XI: CNN, CNN+A (random crops and
flips), HaS and A+HaS; same network and seeds. Reports the age MAE in years (APPA-REAL: against
the apparent and the real age), the gender accuracy, and on the built-in faces both again on
the faces whose hair (the strongest cue of both) is covered. UTKFace has no official split: a
fixed 20% of its files (by name) is the test set. Writes, in --out: a run folder per variant,
results.json and attention.png (occlusion sensitivity of the gender output).
"""

import os
import sys
import zlib
from typing import Any, ClassVar, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.recipes.emotion import VARIANTS, Emotion
from keras_has.training import flags
from keras_has.training.runner import Recipe
from keras_has.training.tables import Metric

TRAIN = {
    "batch_size": 64,
    "lr": 0.05,
    "lr_end": 5e-4,
    "lr_schedule": "cosine",
    "weight_decay": 5e-4,
}
DATASET_DEFAULTS = {
    "builtin": {
        "image_size": 48,
        "depth": 10,
        "width": 2,
        "has": "0,6,12,24",  # the paper's 0/8/16/32 of 64 pixels, at 48
        "train_images": 2400,
        "train": {**TRAIN, "epochs": 15, "out": "runs/age-gender"},
    },
    "utkface": {
        "image_size": 64,
        "depth": 16,
        "width": 8,
        "has": "0,8,16,32",
        "train": {**TRAIN, "epochs": 30, "out": "runs/age-gender-utkface"},
    },
    "appa_real": {
        "image_size": 64,
        "depth": 16,
        "width": 8,
        "has": "0,8,16,32",
        "train": {**TRAIN, "epochs": 30, "out": "runs/age-gender-appa"},
    },
}
AGES = 101


class Data(NamedTuple):
    """The training source; test pixels (N, S, S, 3), ages, real ages, genders, covered."""

    train: Any
    test_pixels: Any
    test_ages: Any
    test_real_ages: Any
    test_genders: Any
    test_covered: Any
    num_train: int
    stats: tuple


class AgeGender(Recipe):
    prog = "python -m keras_has.recipes.age_gender"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = "builtin (generated faces), utkface or appa_real (in --data-dir)."
    variants = VARIANTS
    evaluation_flags = ("eval_batch_size", "test_images")
    metrics = (
        Metric("age_mae", "age MAE", "years"),
        Metric("real_age_mae", "real age MAE", "years"),
        Metric("gender_accuracy", "gender accuracy"),
        Metric("age_mae_covered", "age MAE, hair covered", "years"),
        Metric("gender_accuracy_covered", "gender accuracy, hair covered"),
    )
    examples = "training faces"
    train_metrics: ClassVar[dict] = {"gender": ["accuracy"]}

    def add_flags(self, parser, defaults, known):
        add = parser.add_argument
        add("--image-size", type=flags.positive(int), default=defaults["image_size"], help="Side.")
        add("--depth", type=flags.positive(int), default=defaults["depth"], help="WRN depth.")
        add("--width", type=flags.positive(int), default=defaults["width"], help="WRN width k.")
        add("--eval-batch-size", type=flags.positive(int), default=200, help="Test batch size.")
        flags.add_dataset_flag(
            parser, ("utkface", "appa_real"), "--data-dir", help="the data set's folder."
        )
        for name, default in (
            ("--train-images", defaults.get("train_images")),
            ("--test-images", 800),
        ):
            flags.add_dataset_flag(
                parser, ("builtin",), name, type=flags.positive(int), default=default, help="faces."
            )

    def check(self, args):
        if (args.depth - 4) % 6 or args.depth < 10:
            raise flags.FlagError("--depth", f"{args.depth} is not 6 n + 4 (10, 16, 22, ...)")
        if args.dataset == "builtin":
            flags.check_batch_size(args, args.train_images, "training faces (--train-images)")
        elif args.data_dir is None:
            raise flags.FlagError("--data-dir", f"--dataset {args.dataset} needs its folder")
        else:
            flags.check_path("--data-dir", args.data_dir)

    def has_limit(self, args):
        return args.image_size

    def compile_args(self, args, run):
        loss = {name: "sparse_categorical_crossentropy" for name in ("gender", "age")}
        return loss, self.train_metrics

    def load(self, args):
        import numpy as np

        from keras_has.data import classification as cls

        if args.dataset == "builtin":
            from keras_has.data import synthetic_faces

            train, test = synthetic_faces.train_test(
                synthetic_faces.make_ages, args.train_images, args.test_images, args.image_size
            )
            train_x, train_ages, train_genders = train.images, train.ages, train.genders
            test_x, test_real, covered = test.images, None, test.covered
            test_ages, test_genders = test.ages, test.genders
        else:
            (train_x, train_ages, train_genders), (test_x, test_ages, test_real, test_genders) = (
                _read(args)
            )
            covered = None
        targets = {"gender": train_genders, "age": np.minimum(np.round(train_ages), AGES - 1)}
        source = cls.from_arrays(train_x, {k: v.astype(np.int64) for k, v in targets.items()})
        stats = cls.channel_stats(train_x)
        return Data(
            source, test_x, test_ages, test_real, test_genders, covered, len(train_x), stats
        )

    def mean_key(self, args):
        return {"dataset": args.dataset, "image_size": args.image_size, "n": args.train_images}

    def compute_mean(self, args, data):
        return data.stats[0]

    def build(self, args, data):
        from keras_has import zoo

        shape = (args.image_size, args.image_size, 3)
        outputs = {"gender": 2, "age": AGES}
        return zoo.wrn_age_gender(outputs, input_shape=shape, depth=args.depth, width=args.width)

    make_epoch = Emotion.make_epoch  # the same four variants' training data

    def evaluate(self, args, model, data, mean):
        import numpy as np

        from keras_has.data import classification as cls

        inputs, size = cls.normalize(data.test_pixels, data.stats), args.eval_batch_size
        outs = [model(inputs[i : i + size], training=False) for i in range(0, len(inputs), size)]
        ages = np.concatenate([np.asarray(o["age"]) for o in outs]) @ np.arange(AGES)
        genders = np.concatenate([np.asarray(o["gender"]) for o in outs]).argmax(1)
        errors = np.abs(ages - data.test_ages)
        results = {"age_mae": float(errors.mean())}
        if data.test_real_ages is not None:
            results["real_age_mae"] = float(np.abs(ages - data.test_real_ages).mean())
        if data.test_genders is not None:
            right = genders == data.test_genders
            results["gender_accuracy"] = float(right.mean())
        if data.test_covered is not None:
            results["age_mae_covered"] = float(errors[data.test_covered].mean())
            results["gender_accuracy_covered"] = float(right[data.test_covered].mean())
        return results

    def figure(self, args, models, data):
        """attention.png: occlusion sensitivity of the gender output, per model."""
        from keras_has import viz
        from keras_has.data import classification as cls
        from keras_has.metrics import occlusion

        if data.test_genders is None:
            return None
        pixels, genders = data.test_pixels[:6], data.test_genders[:6]
        maps = {
            name: occlusion.sensitivity(
                _Output(model, "gender"),
                pixels,
                genders,
                args.image_size // 6,
                data.stats[0],
                lambda x: cls.normalize(x, data.stats),
            )
            for name, model in models.items()
        }
        return viz.write_png(os.path.join(args.out, "attention.png"), viz.heat_rows(pixels, maps))


class _Output:
    """One output of a model with several: callable like a classifier."""

    def __init__(self, model, name):
        self.model, self.name = model, name

    def __call__(self, x, training=False):
        return self.model(x, training=training)[self.name]


def _read(args):
    """((train images, ages, genders), (test images, ages, real ages, genders)) from disk."""
    import numpy as np

    from keras_has.data import age_gender as ag

    errors = (FileNotFoundError, ag.AgeGenderError)
    with flags.flag_errors("--data-dir", *errors):
        if args.dataset == "utkface":
            records, _ = ag.utkface(args.data_dir)
            held = np.array(
                [zlib.crc32(os.path.basename(p).encode()) % 5 == 0 for p in records.paths]
            )
            splits = [_subset(records, ~held), _subset(records, held)]
        else:
            splits = [ag.appa_real(args.data_dir, s)[0] for s in ("train", "test")]
        images = [ag.load_images(r, args.image_size) for r in splits]
    train, test = splits
    if train.genders is None:
        raise flags.FlagError("--data-dir", "no gender labels (APPA-REAL: allcategories_*.csv)")
    return (images[0], train.ages, train.genders), (
        images[1],
        test.ages,
        test.real_ages,
        test.genders,
    )


def _subset(records, keep):
    """`records` where `keep` (N,) bool."""
    import dataclasses

    return dataclasses.replace(
        records,
        **{
            f.name: None if getattr(records, f.name) is None else getattr(records, f.name)[keep]
            for f in dataclasses.fields(records)
        },
    )


RECIPE = AgeGender()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-age-gender command

if __name__ == "__main__":
    sys.exit(console())

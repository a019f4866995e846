"""Semantic segmentation with FCN on a backbone pre-trained with and without Hide-and-Seek
(Table IX of the extended paper: AlexNet pre-trained on ILSVRC, FCN fine-tuned on PASCAL VOC
2011, mean IU 48.00 -> 49.31).

    python -m keras_has.recipes.segmentation                 # built-in animals and scenes
    python -m keras_has.recipes.segmentation --dataset voc --pretrained runs/wsol-imagenet \\
        --voc-dir /data/VOCdevkit --sbd-dir /data/benchmark_RELEASE

Each variant pre-trains a classifier (Baseline: crops and flips; HaS: and hiding, the
training-set mean as fill), then fine-tunes it as FCN the same way for both (no hiding), and
scores it on the test masks: mean IU, pixel accuracy, mean accuracy, frequency-weighted IU
(FCN's definitions, 255 ignored). Built-in: the classifiers learn the single animals at 64x64
(`synthetic`), FCN the scenes of one or two animals (`synthetic_scenes`). VOC: the classifiers
are the GAP and HaS runs of `keras-has-wsol --dataset imagenet` in --pretrained (AlexNet-GAP
with HaS-Mixed, as Table IX); FCN trains on SBD train (8498 images) and is scored on VOC2011
val without SBD train's images (736, FCN's "seg11valid"). Writes, in --out: a run folder per
variant (pretrain/, finetune/), results.json and segmentation.png.
"""

import os
import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Stage, Variant
from keras_has.training.tables import Metric

DATASET_DEFAULTS = {
    "builtin": {
        "model": "mini_vgg",
        "has": "16",
        "crop": 64,
        "pretrain_images": 2400,
        "train_scenes": 300,
        "test_scenes": 400,
        "seg": {"epochs": 30, "batch_size": 32, "lr": 0.02},
        "train": {
            "epochs": 15,
            "batch_size": 64,
            "lr": 0.05,
            "lr_end": 5e-4,
            "lr_schedule": "cosine",
            "weight_decay": 5e-4,
            "out": "runs/segmentation",
        },
    },
    "voc": {  # fine-tuning only: the classifiers come from --pretrained
        "model": "alexnet",
        "has": "0,16,32,44,56",
        "crop": 320,
        "seg": {"epochs": 50, "batch_size": 20, "lr": 1e-3},
        "train": {"out": "runs/segmentation-voc"},
    },
}
BACKBONES = ("mini_vgg", "alexnet", "vgg16", "resnet50")
METRICS = [
    Metric("mean_iou", "mean IU"),
    Metric("pixel_accuracy", "pixel accuracy"),
    Metric("mean_accuracy", "mean accuracy"),
    Metric("fw_iou", "frequency-weighted IU"),
]
PRETRAINED = {"Baseline": "gap", "HaS": "has"}  # variant -> run folder of keras-has-wsol
EVAL_SIZE = 512  # VOC images are at most 500 pixels a side: padded to this, padding ignored
SEG_FLAGS = ("seg_epochs", "seg_lr", "seg_batch_size", "skips", "train_scenes")
BUILTIN_CLASSES = 9  # the background and 8 animals


class Data(NamedTuple):
    """Pre-training sources (None: --pretrained), segmentation sources and their sizes."""

    pretrain: Any
    pretrain_test: Any
    num_train: int  # the first stage's examples (fine-tuning images: num_scenes)
    train: Any
    test: Any
    num_scenes: int
    num_classes: int  # of the masks, the background included
    stats: tuple  # (mean, std) pixels: the normalization


class Segmentation(Recipe):
    prog = "python -m keras_has.recipes.segmentation"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = "builtin (generated, no download) or voc (local VOC and SBD folders)."
    variants = (Variant("Baseline"), Variant("HaS", hides=True))
    stages = (
        Stage("pretrain"),
        Stage("finetune", hides=False, flags=SEG_FLAGS, batch_flag="--seg-batch-size"),
    )
    evaluation_flags = ("eval_batch_size", "test_scenes")
    metrics = (*METRICS, Metric("pretrain_top1", "pre-trained classifier top-1 (single animals)"))
    examples = "pre-training images"

    def add_flags(self, parser, defaults, known):
        add_segmentation_flags(parser, defaults, "fine-tuning")
        parser.add_argument(
            "--skips",
            choices=("fcn32s", "fcn16s", "fcn8s"),
            default="fcn8s",
            help="FCN variant: scores of 0, 1 or 2 finer layers added (Long et al.).",
        )
        flags.add_dataset_flag(
            parser,
            ("voc",),
            "--pretrained",
            help="the --out folder of `keras-has-wsol --dataset imagenet --variants GAP,HaS`.",
        )
        flags.add_dataset_flag(
            parser,
            ("builtin",),
            "--pretrain-images",
            type=flags.positive(int),
            default=defaults.get("pretrain_images"),
            help="single-animal images of the classifiers' pre-training.",
        )

    def check(self, args):
        check_segmentation_flags(args)
        if args.dataset == "voc":
            flags.check_path("--pretrained", args.pretrained)
            for variant in args.variants.split(","):
                weights = os.path.join(args.pretrained, PRETRAINED[variant], "final.weights.h5")
                flags.check_path("--pretrained", weights, folder=False)
        else:
            flags.check_batch_size(args, args.pretrain_images, "images (--pretrain-images)")

    def training_stages(self, args):
        return self.stages if args.dataset == "builtin" else self.stages[1:]

    def stage_flags(self, args, stage):
        return seg_flags(args) if stage.name == "finetune" else {}

    def train_size(self, args, data, run):
        return data.num_scenes if run.stage.name == "finetune" else data.num_train

    def compile_args(self, args, run):
        if run.stage.name == "finetune":
            return segmentation_loss(), ()
        return None, ("accuracy",)

    def load(self, args):
        from keras_has.data import classification as cls

        if args.dataset == "voc":
            train, test, count = load_voc(args, fcn=True)
            return Data(None, None, count, train, test, count, 21, ((127.5,) * 3, (127.5,) * 3))
        animals = [_animals(n, seed) for n, seed in ((args.pretrain_images, 1), (400, 4))]
        train, test = builtin_scenes(args)
        stats = cls.channel_stats(animals[0][0])
        pretrain, pretrain_test = (cls.from_arrays(*a) for a in animals)
        num_scenes = args.train_scenes
        return Data(pretrain, pretrain_test, len(animals[0][0]), train, test, num_scenes, 9, stats)

    def mean_key(self, args):
        return {"dataset": args.dataset, "pretrain_images": args.pretrain_images}

    def compute_mean(self, args, data):
        return data.stats[0]

    def build_stage(self, args, data, run):
        from keras_has import zoo

        if run.stage.name == "pretrain":
            return zoo.build(f"{args.model}_gap", 8, input_shape=(args.crop, args.crop, 3))
        if "pretrain" in run.previous:
            return fcn(args, data, run.previous["pretrain"], args.crop)
        classifier, width = _pretrained(args, run.variant.name)
        return fcn(args, data, classifier, args.crop, width)

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import classification as cls
        from keras_has.data import segmentation as seg

        if run.stage.name == "finetune":
            return seg.train_dataset(data.train, args.batch_size, data.stats, args.crop, seed=seed)
        has = None
        if run.patch_sizes is not None:
            has = {"patch_size": run.patch_sizes, "hide_prob": args.hide_prob}
        stats = (mean, data.stats[1])
        return cls.train_dataset(data.pretrain, args.batch_size, stats, "cifar", has=has, seed=seed)

    def evaluate(self, args, models, data, mean):
        import numpy as np

        from keras_has.data import classification as cls

        results = score_segmenter(args, data, models["finetune"], self.rebuild(args, data))
        if data.pretrain_test is not None:
            right = total = 0
            for batch in cls.eval_dataset(data.pretrain_test, args.eval_batch_size, data.stats):
                predicted = np.argmax(models["pretrain"].predict_on_batch(batch["image"]), -1)
                right += int(np.sum(predicted == batch["label"].numpy()))
                total += len(predicted)
            results["pretrain_top1"] = right / total
        return results

    def rebuild(self, args, data):
        """A function size -> a new FCN of the flags' at that input size (VOC's evaluation)."""
        return lambda size: fcn(args, data, None, size, width=_pretrained_width(args))

    def figure(self, args, models, data):
        segmenters = {name: m["finetune"] for name, m in models.items()}
        return draw_segmentations(args, data, segmenters, self.rebuild(args, data))


def fcn(args, data, classifier, size, width=1.0):
    """FCN (--skips) on --model at `size` x `size`, its backbone from `classifier` (or None)."""
    from keras_has import zoo

    kwargs = {"width": width} if args.model in ("alexnet", "mini_vgg") else {}
    return zoo.build(
        args.model,
        data.num_classes,
        head="fcn",
        skips=args.skips,
        backbone_weights=classifier,
        input_shape=(size, size, 3),
        **kwargs,
    )


def add_segmentation_flags(parser, defaults, what):
    """The flags of the segmentation recipes' data and segmentation network (`what`: how the
    recipe names its training)."""
    add = parser.add_argument
    seg = defaults["seg"]
    add("--model", default=defaults["model"], choices=BACKBONES, help="Zoo backbone.")
    add("--crop", type=flags.positive(int), default=defaults["crop"], help="Training crop side.")
    add("--seg-epochs", type=flags.positive(int), default=seg["epochs"], help=f"{what} epochs.")
    add("--seg-lr", type=flags.positive(float), default=seg["lr"], help=f"{what} learning rate.")
    add(
        "--seg-batch-size",
        type=flags.positive(int),
        default=seg["batch_size"],
        help=f"{what} batch size.",
    )
    add("--eval-batch-size", type=flags.positive(int), default=50, help="Test batch size.")
    for name, help_ in (
        ("--voc-dir", "the VOCdevkit folder (VOC2011 / VOC2012 in it)."),
        ("--sbd-dir", "the folder holding SBD's benchmark_RELEASE."),
    ):
        flags.add_dataset_flag(parser, ("voc",), name, help=help_)
    for name, help_ in (("--train-scenes", "training scenes."), ("--test-scenes", "test scenes.")):
        flags.add_dataset_flag(
            parser,
            ("builtin",),
            name,
            type=flags.positive(int),
            default=defaults.get(name[2:].replace("-", "_")),
            help=help_,
        )


def check_segmentation_flags(args):
    """FlagErrors of `add_segmentation_flags`'s flags."""
    if args.dataset == "voc":
        for flag in ("--voc-dir", "--sbd-dir"):
            value = getattr(args, flag[2:].replace("-", "_"))
            if value is None:
                raise flags.FlagError(flag, "--dataset voc needs it")
            flags.check_path(flag, value)
    else:
        flags.check_at_least("--crop", args.crop, 64, "must be at least {} (the images' side)")
        if args.seg_batch_size > args.train_scenes:
            raise flags.FlagError(
                "--seg-batch-size",
                f"{args.seg_batch_size} is larger than the {args.train_scenes} training scenes",
            )


def seg_flags(args):
    """The training flags of the segmentation network's training."""
    return {
        "epochs": args.seg_epochs,
        "lr": args.seg_lr,
        "lr_end": min(args.lr_end, args.seg_lr),
        "batch_size": args.seg_batch_size,
    }


def segmentation_loss():
    """Per-pixel cross-entropy on probabilities, void (255) pixels left out."""
    import keras

    return keras.losses.SparseCategoricalCrossentropy(ignore_class=255)


def builtin_scenes(args):
    """(training scenes, test scenes) sources of the built-in data."""
    from keras_has.data import segmentation as seg
    from keras_has.data import synthetic_scenes

    sets = []
    for count, seed in ((args.train_scenes, 2), (args.test_scenes, 3)):
        scenes = synthetic_scenes.make(count, 64, seed=seed)
        sets.append(seg.from_arrays(scenes.images, scenes.masks, scenes.labels))
    return sets


def load_voc(args, fcn):
    """(train, test, training images) of VOC: FCN's (`fcn`: SBD train, VOC2011 val without
    SBD train's images) or the weakly-supervised one (SBD train + val without VOC2012 val's
    images, about VOC2012 "train_aug"; VOC2012 val); malformed files are warned about."""
    from keras_has.data import voc

    with flags.flag_errors("--voc-dir", FileNotFoundError, voc.VOCError):
        if fcn:
            train, _ = voc.sbd(args.sbd_dir, "train")
            test, _ = voc.voc(args.voc_dir, "val", 2011, exclude=voc.sbd_ids(args.sbd_dir, "train"))
        else:
            val = voc.voc_ids(args.voc_dir, "val", 2012)
            parts = [voc.sbd(args.sbd_dir, split, exclude=val)[0] for split in ("train", "val")]
            train = parts[0].concatenate(parts[1])
            test, _ = voc.voc(args.voc_dir, "val", 2012)
    return train, test, int(train.cardinality())  # known: the readers list their files


def score_segmenter(args, data, model, rebuild):
    """Scores of a segmentation `model` on the test masks (`rebuild(size)`: the same network
    at another input size, for test images larger than the training crop)."""
    from keras_has.data import segmentation as seg
    from keras_has.metrics import segmentation

    size = args.crop if args.dataset == "builtin" else EVAL_SIZE
    if size != args.crop:
        resized = rebuild(size)
        resized.set_weights(model.get_weights())
        model = resized
    batches = seg.eval_dataset(data.test, args.eval_batch_size, data.stats, size)
    return segmentation.score(model, batches, data.num_classes)


def draw_segmentations(args, data, segmenters, rebuild, columns=None, rows=6):
    """segmentation.png: the first `rows` test images, their masks, each segmenter's
    predictions (and `columns`: more {title: maps (rows, H, W)}); returns the path."""
    import numpy as np

    from keras_has import viz
    from keras_has.data import segmentation as seg
    from keras_has.metrics.segmentation import predict_masks

    batch = next(iter(seg.eval_dataset(data.test.take(rows), rows, data.stats, args.crop)))
    shown = {"ground truth": np.asarray(batch["mask"])}
    shown.update(columns or {})
    for name, model in segmenters.items():
        shown[name] = predict_masks(model, batch["image"])
    path = os.path.join(args.out, "segmentation.png")
    return viz.write_png(path, viz.segmentation_rows(np.asarray(batch["pixels"]), shown))


def _animals(count, seed):
    """The built-in single animals at 64x64: (images (N, 64, 64, 3), labels (N,))."""
    from keras_has.data import synthetic

    animals = synthetic.make(count, 64, 8, seed=seed)
    return animals.images, animals.labels


def _pretrained_width(args):
    """The width of --pretrained's classifiers (1.0 for the built-in data)."""
    if args.dataset == "builtin":
        return 1.0
    from keras_has.training import run_files

    config = run_files.read_json(os.path.join(args.pretrained, "gap", "config.json"))
    return config.get("width", 1.0)


def _pretrained(args, variant):
    """(classifier, width): the ILSVRC classifier of `variant` in --pretrained (a
    keras-has-wsol run folder) at the training crop."""
    from keras_has import zoo

    run = os.path.join(args.pretrained, PRETRAINED[variant])
    width = _pretrained_width(args)
    classifier = zoo.build(
        f"{args.model}_gap",
        1000,
        weights=os.path.join(run, "final.weights.h5"),
        width=width,
        input_shape=(args.crop, args.crop, 3),
    )
    return classifier, width


RECIPE = Segmentation()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-segmentation command

if __name__ == "__main__":
    sys.exit(console())

"""Weakly-supervised semantic segmentation from CAMs, with and without Hide-and-Seek (Sec. 4.4
of the extended paper: DCSP's classifier trained with HaS, VOC 2012 val mean IU 60.80 ->
61.45).

    python -m keras_has.recipes.wsss                 # built-in scenes of animals
    python -m keras_has.recipes.wsss --dataset voc --voc-dir /data/VOCdevkit \\
        --sbd-dir /data --model vgg16 --backbone-weights imagenet

Each variant trains a multi-label GAP classifier on image-level labels only (GAP: crops and
flips; HaS: and hiding, the training-set mean as fill), turns its CAMs of each training
image's classes into pseudo-labels (`keras_has.pseudo_labels`: max-scaled CAMs against a
background score, the arg-max), trains the same segmentation network (FCN on the same
backbone, from the same initial weights) on them, and scores it on the true test masks. The
pseudo-labels' own quality (their mean IU against the true training masks, at --background and
at the best background score of a sweep) is reported beside the network's. No dense CRF: see
`keras_has.pseudo_labels`. VOC: trained on SBD train + val without VOC2012 val's images
(about "train_aug"), scored on VOC2012 val. Writes, in --out: a run folder per variant
(classifier/, segmenter/), results.json and segmentation.png (test images, their masks, each
variant's pseudo-labels and predictions).
"""

import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.recipes import segmentation as seg_recipe
from keras_has.training import flags
from keras_has.training.runner import Recipe, Stage, Variant
from keras_has.training.tables import Metric

DATASET_DEFAULTS = {
    "builtin": {
        "model": "mini_vgg",
        "has": "16",
        "crop": 64,
        "train_scenes": 2400,
        "test_scenes": 400,
        "seg": {"epochs": 15, "batch_size": 64, "lr": 0.05},
        "train": {
            "epochs": 20,
            "batch_size": 64,
            "lr": 0.05,
            "lr_end": 5e-4,
            "lr_schedule": "cosine",
            "weight_decay": 5e-4,
            "out": "runs/wsss",
        },
    },
    "voc": {
        "model": "vgg16",
        "has": "0,16,32,44,56",
        "crop": 320,
        "seg": {"epochs": 30, "batch_size": 20, "lr": 1e-3},
        "train": {"epochs": 20, "batch_size": 20, "lr": 1e-3, "out": "runs/wsss-voc"},
    },
}
SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # background scores of the pseudo-label sweep
SEG_FLAGS = (*seg_recipe.SEG_FLAGS, "background")


class Data(NamedTuple):
    """Segmentation sources (the training masks are read only to score the pseudo-labels)."""

    train: Any
    test: Any
    num_train: int
    num_classes: int  # of the masks, the background included
    stats: tuple  # (mean, std) pixels of the training images


class WSSS(Recipe):
    prog = "python -m keras_has.recipes.wsss"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = "builtin (generated, no download) or voc (local VOC and SBD folders)."
    variants = (Variant("GAP"), Variant("HaS", hides=True))
    stages = (
        Stage("classifier"),
        Stage("segmenter", hides=False, flags=SEG_FLAGS, batch_flag="--seg-batch-size"),
    )
    evaluation_flags = ("eval_batch_size", "test_scenes")
    metrics = (
        *seg_recipe.METRICS,
        Metric("pseudo_mean_iou", "pseudo-labels: mean IU (training images)"),
        Metric("pseudo_best_mean_iou", "pseudo-labels: mean IU, best background score"),
        Metric("pseudo_best_background", "best background score", "fraction"),
    )
    examples = "training images"

    def add_flags(self, parser, defaults, known):
        seg_recipe.add_segmentation_flags(parser, defaults, "segmentation network")
        parser.add_argument(
            "--skips",
            choices=("fcn32s", "fcn16s", "fcn8s"),
            default="fcn8s",
            help="The segmentation network: FCN with 0, 1 or 2 skips (Long et al.).",
        )
        flags.add_dataset_flag(
            parser,
            ("voc",),
            "--backbone-weights",
            help="the classifier's backbone weights (vgg16, resnet50): 'imagenet' (Keras "
            "downloads them once, to ~/.keras/models), a local .weights.h5 file of "
            "keras.applications' network without its top; not given: random (DCSP starts from "
            "ImageNet's).",
        )
        parser.add_argument(
            "--background",
            type=flags.fraction,
            default=0.3,
            help="Background score of the pseudo-labels: a pixel is background unless a "
            "present class's CAM, scaled by its maximum, reaches it.",
        )

    def check(self, args):
        seg_recipe.check_segmentation_flags(args)
        weights = args.backbone_weights
        if weights is not None and args.model not in ("vgg16", "resnet50"):
            raise flags.FlagError("--backbone-weights", "only --model vgg16 and resnet50 take them")
        if weights not in (None, "imagenet"):
            flags.check_path("--backbone-weights", weights, folder=False)

    def stage_flags(self, args, stage):
        return seg_recipe.seg_flags(args) if stage.name == "segmenter" else {}

    def compile_args(self, args, run):
        if run.stage.name == "segmenter":
            return seg_recipe.segmentation_loss(), ()
        return "binary_crossentropy", ("binary_accuracy",)

    def load(self, args):
        from keras_has.data import classification as cls

        if args.dataset == "voc":
            train, test, count = seg_recipe.load_voc(args, fcn=False)
            return Data(train, test, count, 21, cls.IMAGENET_STATS)
        train, test = seg_recipe.builtin_scenes(args)
        images = train.map(lambda example: example["image"])
        stats = cls.channel_stats(images.map(lambda image: {"image": image}))
        return Data(train, test, args.train_scenes, 9, stats)

    def compute_mean(self, args, data):
        return data.stats[0]

    def build_stage(self, args, data, run):
        from keras_has import zoo

        if run.stage.name == "segmenter":  # the same initial weights for every variant
            return seg_recipe.fcn(args, data, None, args.crop)
        weights = {"weights": args.backbone_weights} if args.backbone_weights else {}
        return zoo.build(
            args.model,
            data.num_classes - 1,
            head="cam",
            activation="sigmoid",
            input_shape=(None, None, 3),  # trained on crops, CAMs of whole images of any size
            **weights,
        )

    def make_epoch(self, args, data, run, mean, seed):
        from keras_has.data import segmentation as seg

        if run.stage.name == "segmenter":
            source = self.pseudo(args, data, run.previous["classifier"])[0]
            return seg.train_dataset(source, args.batch_size, data.stats, args.crop, seed=seed)
        has = None
        if run.patch_sizes is not None:
            has = {"patch_size": run.patch_sizes, "hide_prob": args.hide_prob}
        stats = (mean, data.stats[1])
        return seg.train_dataset(
            data.train, args.batch_size, stats, args.crop, target="labels", has=has, seed=seed
        )

    def pseudo(self, args, data, classifier):
        """(training source with pseudo-label masks, their scores) of a trained classifier,
        computed once (for its segmenter's training and for the evaluation)."""
        from keras_has import CAMModel, pseudo_labels

        cache = self.__dict__.setdefault("_pseudo", {})
        if id(classifier) not in cache:
            cam_model = CAMModel(classifier, classes="all")
            batch = args.eval_batch_size if args.dataset == "builtin" else 1
            made = pseudo_labels.of_source(
                cam_model, data.train, data.stats, args.background, SWEEP, batch
            )
            cache[id(classifier)] = (classifier, made)  # the model kept: its id stays its own
        return cache[id(classifier)][1]

    def evaluate(self, args, models, data, mean):
        _, scores = self.pseudo(args, data, models["classifier"])
        segmenter = models["segmenter"]
        return {
            **seg_recipe.score_segmenter(args, data, segmenter, self.rebuild(args, data)),
            **scores,
        }

    def rebuild(self, args, data):
        return lambda size: seg_recipe.fcn(args, data, None, size)

    def figure(self, args, models, data):
        from keras_has import CAMModel, pseudo_labels
        from keras_has.data import segmentation as seg

        batch = next(iter(seg.eval_dataset(data.test.take(6), 6, data.stats, args.crop)))
        columns = {}
        for name, stage_models in models.items():
            cams = CAMModel(stage_models["classifier"], classes="all")(batch["image"])["cams"]
            labels = batch["labels"].numpy()
            columns[f"{name} pseudo-labels"] = pseudo_labels.from_cams(
                cams, labels, args.background
            )
        segmenters = {f"{name} network": m["segmenter"] for name, m in models.items()}
        return seg_recipe.draw_segmentations(
            args, data, segmenters, self.rebuild(args, data), columns
        )


RECIPE = WSSS()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-wsss command

if __name__ == "__main__":
    sys.exit(console())

"""Person re-identification with Hide-and-Seek against Random Erasing (Sec. 4.9, Table XII of
the extended paper: IDE on Market-1501 and DukeMTMC-reID, HaS with 64-pixel patches on 256x128
images in place of Random Erasing).

    python -m keras_has.recipes.reid                                    # built-in people
    python -m keras_has.recipes.reid --dataset market1501 --data-dir /data/Market-1501-v15.09.15

Trains the IDE model (a backbone, global average pooling, a 1024-unit embedding and an identity
classifier; the L2-normalized pooled features are the retrieval descriptor) as an identity
classifier on batches of identities (P persons x 4 images), with crops and flips (Baseline),
and with Random Erasing (Zhong et al.: p 0.5, area 0.02-0.4, aspect 0.3-3.3, mean fill) or HaS
(--has patches, hidden with --hide-prob; HaS-low: with --low-hide-prob, the paper's 0.33 on
Market) on top; same network and seeds. Scores retrieval under the Market-1501 protocol
(`keras_has.metrics.retrieval_scores`): rank-1/5/10 and mAP; on the built-in people also on the
occluded queries. Writes, in --out: a run folder per variant, results.json and retrieval.png
(queries and their top-10, green right, red wrong; a row per variant). The built-in people are
written once as JPEGs in Market-1501's layout (--out/builtin-data-PxK) and read by the same reader.
"""

import os
import sys
from typing import Any, NamedTuple

# TensorFlow, Keras and the zoo are imported after the flags are parsed.
from keras_has.training import flags
from keras_has.training.runner import Recipe, Variant
from keras_has.training.tables import Metric

TRAIN = {"lr": 0.05, "lr_end": 5e-4, "lr_schedule": "cosine", "weight_decay": 5e-4}
DATASET_DEFAULTS = {
    "builtin": {
        "model": "mini_vgg",
        "image_size": (128, 64),
        "has": "32",  # the paper's 64 of 256x128, at 128x64
        # From scratch: Adam converges where SGD at 0.01-0.05 stays under 60% training accuracy.
        "train": {
            **TRAIN,
            "optimizer": "adam",
            "lr": 1e-3,
            "lr_end": 1e-5,
            "epochs": 60,
            "batch_size": 32,
            "out": "runs/reid",
        },
    },
    "market1501": {
        "model": "resnet50",
        "image_size": (256, 128),
        "has": "64",
        "train": {**TRAIN, "lr": 0.01, "epochs": 60, "batch_size": 32, "out": "runs/reid-market"},
    },
    "duke": {
        "model": "resnet50",
        "image_size": (256, 128),
        "has": "64",
        "train": {**TRAIN, "lr": 0.01, "epochs": 60, "batch_size": 32, "out": "runs/reid-duke"},
    },
}
IMAGES_PER_IDENTITY = 4


class Data(NamedTuple):
    """Training images (N, H, W, 3) and labels; query and gallery images, ids and cameras."""

    train_images: Any
    train_labels: Any
    num_identities: int
    query: tuple  # (images, ids, cams, occluded or None)
    gallery: tuple  # (images, ids, cams)
    num_train: int  # images per epoch of identity batches
    stats: tuple


class ReID(Recipe):
    prog = "python -m keras_has.recipes.reid"
    doc = __doc__
    datasets = DATASET_DEFAULTS
    dataset_help = "builtin (generated people), market1501 or duke (in --data-dir)."
    variants = (
        Variant("Baseline"),
        Variant("RandomErasing", flags=("erasing_prob",)),
        Variant("HaS", hides=True),
        Variant("HaS-low", hides=True, flags=("low_hide_prob",)),
    )
    evaluation_flags = ("eval_batch_size",)
    metrics = (
        Metric("rank1", "rank-1"),
        Metric("rank5", "rank-5"),
        Metric("rank10", "rank-10"),
        Metric("map", "mAP"),
        Metric("occluded_rank1", "rank-1, occluded queries"),
        Metric("occluded_map", "mAP, occluded queries"),
    )
    examples = "training images of whole identity batches"

    def add_flags(self, parser, defaults, known):
        add = parser.add_argument
        add(
            "--model", default=defaults["model"], choices=("mini_vgg", "resnet50"), help="Backbone."
        )
        add("--dim", type=flags.positive(int), default=1024, help="IDE embedding units.")
        add("--erasing-prob", type=flags.fraction, default=0.5, help="Random Erasing's p.")
        add("--low-hide-prob", type=flags.fraction, default=0.33, help="HaS-low's hiding p.")
        add("--eval-batch-size", type=flags.positive(int), default=100, help="Test batch size.")
        flags.add_dataset_flag(
            parser, ("builtin",), "--identities", type=flags.positive(int), default=300,
            help="persons (even): the first half for training, the second half for testing.",
        )  # fmt: skip
        flags.add_dataset_flag(
            parser, ("builtin",), "--images-per-camera", type=flags.positive(int), default=4,
            help="images of each person by each of the 4 cameras (>= 2).",
        )  # fmt: skip
        flags.add_dataset_flag(parser, ("market1501", "duke"), "--data-dir", help="its folder.")
        flags.add_dataset_flag(
            parser, ("market1501", "duke"), "--backbone-weights",
            help="resnet50: 'imagenet' (downloaded once by Keras) or a local weights file.",
        )  # fmt: skip

    def check(self, args):
        if args.batch_size % IMAGES_PER_IDENTITY:
            raise flags.FlagError(
                "--batch-size", f"{args.batch_size} is not a multiple of {IMAGES_PER_IDENTITY}"
            )
        if args.dataset == "builtin":
            if args.identities % 2 or args.identities < 4:
                raise flags.FlagError("--identities", f"{args.identities} is not an even int >= 4")
            if args.images_per_camera < 2:
                raise flags.FlagError("--images-per-camera", f"{args.images_per_camera} is below 2")
        else:
            if args.data_dir is None:
                raise flags.FlagError("--data-dir", f"--dataset {args.dataset} needs its folder")
            flags.check_path("--data-dir", args.data_dir)

    def has_limit(self, args):
        return min(DATASET_DEFAULTS[args.dataset]["image_size"])

    def load(self, args):
        from keras_has.data import classification as cls
        from keras_has.data import reid

        size = DATASET_DEFAULTS[args.dataset]["image_size"]
        occluded = None
        if args.dataset == "builtin":
            from keras_has.data import synthetic_reid

            sizes = (args.identities, args.images_per_camera)
            root = os.path.join(args.out, "builtin-data-{}x{}".format(*sizes))
            people = synthetic_reid.make(*sizes, seed=0)
            if not os.path.isdir(os.path.join(root, "query")):
                synthetic_reid.write_market(root, people)
            reader = reid.market1501
        else:
            root, reader = args.data_dir, getattr(reid, args.dataset)
        with flags.flag_errors("--data-dir", FileNotFoundError):
            splits, _ = reader(root)
        if args.dataset == "builtin":  # the written names keep the generation order
            order = [int(os.path.basename(p).split("_")[2]) for p in splits["query"].paths]
            occluded = people.occluded[order]
        images = {name: _images(split, size) for name, split in splits.items()}
        labels, count = reid.train_labels(splits["train"])
        query, gallery = splits["query"], splits["gallery"]
        return Data(
            images["train"],
            labels,
            count,
            (images["query"], query.ids, query.cams, occluded),
            (images["gallery"], gallery.ids, gallery.cams),
            # An epoch: each identity once, in batches of P identities x 4 images.
            count // (args.batch_size // IMAGES_PER_IDENTITY) * args.batch_size,
            cls.channel_stats(images["train"]),
        )

    def mean_key(self, args):
        if args.dataset == "builtin":
            return {"dataset": "builtin", "people": [args.identities, args.images_per_camera]}
        return {"dataset": args.dataset}

    def compute_mean(self, args, data):
        return data.stats[0]

    def build(self, args, data):
        from keras_has import zoo

        height, width = DATASET_DEFAULTS[args.dataset]["image_size"]
        import keras

        kwargs = {"weights": args.backbone_weights} if args.backbone_weights else {}
        ide = zoo.build(
            args.model,
            data.num_identities,
            head="embedding",
            dim=args.dim,
            input_shape=(height, width, 3),
            **kwargs,
        )
        # Trained as the identity classifier (its one loss); the descriptor is read from "pool".
        return keras.Model(ide.input, ide.output["identity"], name=ide.name)

    def make_epoch(self, args, data, run, mean, seed):
        import numpy as np

        from keras_has.data import classification as cls
        from keras_has.data import reid

        batches = reid.identity_batches(
            data.train_labels, args.batch_size, IMAGES_PER_IDENTITY, seed=seed
        )
        order = np.concatenate(batches)
        source = cls.from_arrays(data.train_images[order], data.train_labels[order])
        has = erasing = None
        if run.patch_sizes is not None:
            prob = args.low_hide_prob if run.variant.name == "HaS-low" else args.hide_prob
            has = {"patch_size": run.patch_sizes, "hide_prob": prob}
        if run.variant.name == "RandomErasing":
            erasing = {"probability": args.erasing_prob}
        height = data.train_images.shape[1]
        return cls.train_dataset(
            source,
            args.batch_size,
            (mean, data.stats[1]),
            "cifar",
            height,
            has=has,
            erasing=erasing,
            seed=seed,
            shuffle_buffer=1,
        )  # fmt: skip  (shuffle_buffer 1: the identity batches' order is kept)

    def evaluate(self, args, model, data, mean):
        from keras_has.metrics import retrieval_scores

        query = self._features(args, model, data.query[0], data.stats)
        gallery = self._features(args, model, data.gallery[0], data.stats)
        (_, query_ids, query_cams, occluded), (_, gallery_ids, gallery_cams) = (
            data.query,
            data.gallery,
        )

        def scores(rows):
            return retrieval_scores(
                query[rows], gallery, query_ids[rows], gallery_ids, query_cams[rows], gallery_cams
            )

        results = scores(slice(None))
        if occluded is not None and occluded.any():
            part = scores(occluded)
            results.update(occluded_rank1=part["rank1"], occluded_map=part["map"])
        return results

    def _features(self, args, model, images, stats):
        """The IDE descriptors (N, K): the pooled features, L2-normalized."""
        import keras
        import numpy as np

        from keras_has.data import classification as cls

        pooled = keras.Model(model.input, model.get_layer("pool").output)
        size = args.eval_batch_size
        parts = [
            np.asarray(pooled(cls.normalize(images[i : i + size], stats), training=False))
            for i in range(0, len(images), size)
        ]
        features = np.concatenate(parts).astype(np.float64)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return features / np.where(norms > 0, norms, 1.0)

    def figure(self, args, models, data):
        """retrieval.png: the first query of the first 4 persons and each model's top 10 (green
        right, red wrong)."""
        import cv2
        import numpy as np

        from keras_has import viz

        queries = np.sort(np.unique(data.query[1], return_index=True)[1])[:4]  # 4 persons
        rows, columns = [], {f"#{k + 1}": [] for k in range(10)}
        for name, model in models.items():
            q = self._features(args, model, data.query[0][queries], data.stats)
            g = self._features(args, model, data.gallery[0], data.stats)
            for i, features in zip(queries, q):
                distance = np.sum((g - features) ** 2, axis=1)
                same = (data.gallery[1] == data.query[1][i]) & (data.gallery[2] == data.query[2][i])
                distance[same | (data.gallery[1] == -1)] = np.inf  # the protocol's exclusions
                top = np.argsort(distance)[:10]
                rows.append(
                    cv2.putText(
                        data.query[0][i].copy(), name[:8], (2, 12), 0, 0.35, (255, 255, 255)
                    )
                )
                for k, j in enumerate(top):
                    right = data.gallery[1][j] == data.query[1][i]
                    framed = cv2.copyMakeBorder(
                        data.gallery[0][j][3:-3, 3:-3], 3, 3, 3, 3, cv2.BORDER_CONSTANT,
                        value=viz.PREDICTED if right else viz.GROUND_TRUTH,
                    )  # fmt: skip
                    columns[f"#{k + 1}"].append(framed)
        picture = viz.panel_rows(rows, columns, panel=(96, 48))
        return viz.write_png(os.path.join(args.out, "retrieval.png"), picture)


def _images(split, size):
    """The split's images (N, H, W, 3) uint8, resized to `size`."""
    import numpy as np

    from keras_has.data import reid

    if not len(split):
        return np.zeros((0, *size, 3), np.uint8)
    batches = reid.to_dataset(split, size).batch(256).as_numpy_iterator()
    return np.concatenate([b["image"] for b in batches])


RECIPE = ReID()
main, console = RECIPE.main, RECIPE.console  # console: the keras-has-reid command

if __name__ == "__main__":
    sys.exit(console())

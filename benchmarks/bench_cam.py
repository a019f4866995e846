"""CAM + box extraction throughput on 224x224 images, against the forward pass.

    python -m benchmarks.bench_cam [--model googlenet_gap] [--batch 32] [--rounds 3]

The baseline is the classifier's forward pass alone (a `tf.function`), timed
in the same rounds; every other figure is a ratio to it (median of per-round
ratios). What is timed, per batch of images:

- `CAMModel` top-1: forward + CAM (1x1 conv) + bilinear upsampling to 224;
- `Localizer`: that + the in-graph largest-component box (what a SavedModel
  serves), as a graph and XLA-compiled;
- evaluation on the host: `CAMModel` (given class), then
  `keras_has.boxes.cam_to_boxes` (OpenCV), or the full
  `LocalizationMetrics.update` with its 100-threshold sweep.

A ratio near 1 means that localization costs little beyond classification:
evaluating 50 000 images is then as slow as classifying them, and no slower.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from benchmarks.timing import measure, table
from keras_has import CAMModel, Localizer, zoo
from keras_has.boxes import cam_to_boxes
from keras_has.metrics import LocalizationMetrics


def run(model_name, batch, rounds, classes=200):
    classifier = zoo.build(model_name, classes)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch, 224, 224, 3), dtype=np.float32))
    labels = rng.integers(0, classes, batch)
    gt_boxes = np.tile([[40.0, 50.0, 180.0, 200.0]], (batch, 1, 1))
    forward = tf.function(lambda x: classifier(x, training=False))
    top1 = tf.function(CAMModel(classifier, classes=1))
    given_model = CAMModel(classifier, classes="given")
    given = tf.function(lambda x: given_model(x, class_ids=labels))
    localizer = Localizer(classifier, threshold=0.2)
    localize = tf.function(localizer)
    localize_xla = tf.function(localizer, jit_compile=True)
    metrics = LocalizationMetrics()

    def evaluate():
        out = given(images)
        metrics.update(out["cams"][..., 0].numpy(), gt_boxes, labels, out["probabilities"].numpy())

    methods = {
        f"{model_name} forward pass (baseline)": lambda: forward(images).numpy(),
        "CAMModel top-1 (forward + CAM + upsampling)": lambda: top1(images)["cams"].numpy(),
        "Localizer, graph (+ in-graph box)": lambda: localize(images)["box"].numpy(),
        "Localizer, XLA": lambda: localize_xla(images)["box"].numpy(),
        "CAMModel + cam_to_boxes (OpenCV)": lambda: cam_to_boxes(
            top1(images)["cams"].numpy()[..., 0], 0.2
        ),
        "CAMModel + LocalizationMetrics.update (100 thresholds)": evaluate,
    }
    for fn in methods.values():  # trace and compile outside the timing
        fn()
    results = []
    figures = measure(methods, rounds, reps=1)
    title = f"{model_name}, {classes} classes, batch {batch} of 224x224x3, CPU"
    table(title, batch, figures, results, "cam")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        default="googlenet_gap",
        choices=sorted(set(zoo.list_models()) - {"temporal_cam_net"}),
    )
    parser.add_argument("--batch", type=int, default=32, help="images per batch")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    run(args.model, args.batch, args.rounds)


if __name__ == "__main__":
    main()

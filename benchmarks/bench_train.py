"""Training throughput of the WSOL recipe with and without Hide-and-Seek.

    python -m benchmarks.bench_train [--model googlenet_gap] [--width 0.25] [--size 128]
    python -m benchmarks.bench_train --model resnet50_gap --size 224 --batch 128 \
        --mixed-precision mixed_float16 --xla            # on a GPU

Same model, same tf.data pipeline (`keras_has.data.pipeline.train_dataset`
on the built-in data), with `patch_size=None` (the baseline) or the main
job's HaS sizes; `fit` for a fixed number of steps in alternating rounds.
"x baseline" is the baseline's time over HaS's, each its fastest round (some
rounds run 1.5x slower as a whole on these 2 cores, whichever method runs):
0.97 means HaS costs 3% of the step time.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

from benchmarks.timing import measure, table
from keras_has import zoo
from keras_has.data import pipeline, synthetic
from keras_has.recipes import wsol


def run(model_name, width, size, batch, steps, rounds, patch_sizes, xla=False):
    animals = synthetic.make(batch * steps, size + 8, 8, seed=0)
    source = pipeline.from_arrays(animals.images, animals.labels, animals.boxes)
    mean = pipeline.fill_mean(source, size + 8)
    kwargs = {"width": width} if model_name in ("alexnet_gap", "googlenet_gap") else {}
    model = zoo.build(model_name, 8, input_shape=(size, size, 3), **kwargs)
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", jit_compile=xla
    )

    def data(sizes):
        return pipeline.train_dataset(source, batch, size + 8, size, sizes, mean=mean, seed=0)

    def fit(sizes):
        dataset = data(sizes)
        return lambda: model.fit(dataset.take(steps), epochs=1, verbose=0)

    def read(sizes):
        dataset = data(sizes)
        return lambda: sum(1 for _ in dataset.take(steps))

    has = f"HaS {patch_sizes}"
    policy = keras.mixed_precision.global_policy().name
    title = f"{model_name} width {width}, {size}x{size}, batch {batch}, {steps} steps, {policy}"
    title += ", XLA" if xla else ""
    figures = {}
    for kind, make in (("train step", fit), ("input pipeline alone", read)):
        methods = {f"{kind}, no hiding (baseline)": make(None), f"{kind}, {has}": make(patch_sizes)}
        for method in methods.values():  # trace outside the timing
            method()
        figures[kind] = {  # per batch
            name: (seconds / steps, ratio)
            for name, (seconds, ratio) in measure(methods, rounds, reps=1, best=True).items()
        }
        table(f"{title}: {kind}", batch, figures[kind], [], "train")
    (step, _), (step_has, _) = figures["train step"].values()
    (read_base, _), (read_has, _) = figures["input pipeline alone"].values()
    cost = step_has / step - 1
    print(
        f"\nHaS costs {100 * cost:+.1f}% of the train step -> {'PASS' if cost < 0.03 else 'FAIL'}"
    )
    print(
        f"(goal < 3%); in the pipeline alone it adds {1e3 * (read_has - read_base):+.2f} ms per "
        f"batch, {100 * (read_has - read_base) / step:+.2f}% of the baseline's train step"
    )
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        default="googlenet_gap",
        choices=sorted(set(zoo.list_models()) - {"temporal_cam_net"}),
    )
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--size", type=int, default=128, help="crop side")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="steps per timed fit")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument(
        "--mixed-precision",
        default="float32",
        choices=["float32", "mixed_float16", "mixed_bfloat16"],
    )
    parser.add_argument("--xla", action="store_true", help="jit_compile the train step")
    parser.add_argument(
        "--has",
        default=wsol.DATASET_DEFAULTS["builtin"]["has"],
        help="patch sizes, comma-separated (default: the main job's)",
    )
    args = parser.parse_args()
    keras.mixed_precision.set_global_policy(args.mixed_precision)
    sizes = [int(v) for v in args.has.split(",")]
    run(args.model, args.width, args.size, args.batch, args.steps, args.rounds, sizes, args.xla)


if __name__ == "__main__":
    main()

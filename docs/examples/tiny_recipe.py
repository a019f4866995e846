"""A recipe in 30 lines: a small CNN on the built-in animals, without and with Hide-and-Seek.

python docs/examples/tiny_recipe.py --epochs 4
"""

import sys
from types import SimpleNamespace

from keras_has.data import pipeline, synthetic
from keras_has.training.runner import Metric, Recipe

DEFAULTS = {"builtin": {"train": {"epochs": 8, "batch_size": 32, "lr": 0.05, "out": "runs/tiny"}}}


class TinyAnimals(Recipe):
    prog, doc, datasets, has_default = (
        "python docs/examples/tiny_recipe.py",
        __doc__,
        DEFAULTS,
        "16",
    )
    metrics = (Metric("accuracy", "Top-1 accuracy"), Metric("loss", "test loss", "loss"))

    def load(self, args):
        sets = [synthetic.make(n, 64, 8, seed=s) for n, s in ((480, 1), (160, 2))]
        train, test = (pipeline.from_arrays(a.images, a.labels, a.boxes) for a in sets)
        return SimpleNamespace(train=train, test=test, num_train=480)

    def compute_mean(self, args, data):
        return pipeline.fill_mean(data.train, 64)

    def build(self, args, data):
        import keras  # after keras_has: Keras imported quietly

        convs = [keras.layers.Conv2D(f, 3, strides=2, activation="relu") for f in (16, 32, 64)]
        head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(8, "softmax")]
        return keras.Sequential([keras.Input((None, None, 3)), *convs, *head])

    def make_epoch(self, args, data, run, mean, seed):
        size = args.batch_size
        return pipeline.train_dataset(
            data.train, size, 64, 56, run.patch_sizes, args.hide_prob, mean, seed
        )

    def evaluate(self, args, model, data, mean):
        test = pipeline.eval_dataset(data.test, 80, 64).map(lambda b: (b["image"], b["label"]))
        return model.evaluate(test, return_dict=True, verbose=0)

    def cam_batch(self, args, data):
        batch = next(iter(pipeline.eval_dataset(data.test, 4, 64)))
        return batch["image"], batch["label"].numpy(), batch["pixels"].numpy()


if __name__ == "__main__":
    sys.exit(TinyAnimals().console())

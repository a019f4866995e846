"""A tiny task on keras_has.training, for tests/test_harness.py.

A small CNN learns which of two stripe orientations a noisy 16x16 image shows (a few hundred
generated images). Data order is a function of the epoch (shuffle seeded by seed and epoch), and
the dataset is sharded by DATA, so every strategy and every resume sees the same global batches.
Writes results.json with the validation metrics and the final weights, flattened.

Extra flags (not part of the run's config): --logical-cpus N splits the CPU into N logical
devices (for --strategy mirrored), --epoch-sleep S sleeps S seconds at the start of each epoch
(to give a test time to kill the process).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from keras_has.training import flags

parser = argparse.ArgumentParser(description=__doc__)
flags.add_training_flags(
    parser, {"epochs": 6, "batch_size": 32, "lr": 0.05, "lr_end": 0.005, "weight_decay": 1e-4}
)
parser.add_argument("--images", type=int, default=256, help="Training images.")
parser.add_argument("--logical-cpus", type=int, default=1, help="Logical CPU devices.")
parser.add_argument("--epoch-sleep", type=float, default=0.0, help="Seconds slept per epoch.")
args = parser.parse_args()

import numpy as np
import tensorflow as tf

from keras_has import training as harness

if args.logical_cpus > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
    )

strategy = harness.setup(args)  # before any other TensorFlow op

import keras


def make_images(count, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    phase = rng.uniform(0, 2 * np.pi, count)[:, None, None]
    grid = np.arange(16)[None, :, None] * np.ones((1, 1, 16))
    along = np.where(labels[:, None, None] == 0, grid, np.swapaxes(grid, 1, 2))
    images = np.sin(along * 1.2 + phase)[..., None] * np.ones(3)
    images = images + rng.normal(0, 0.8, images.shape)
    return images.astype("float32"), labels.astype("int32")


def by_data(dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


x, y = make_images(args.images, seed=1)
vx, vy = make_images(64, seed=2)
base = tf.data.Dataset.from_tensor_slices((x, y))


def train_epoch(epoch):
    shuffled = base.shuffle(len(x), seed=args.seed * 1000 + epoch, reshuffle_each_iteration=False)
    return by_data(shuffled.batch(args.batch_size, drop_remainder=True))


val = by_data(tf.data.Dataset.from_tensor_slices((vx, vy)).batch(args.batch_size))


def build_model():
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="cam_pool")(h)
    h = keras.layers.Dense(2, name="logits")(h)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(h)
    return keras.Model(inputs, outputs)


class Sleep(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        time.sleep(args.epoch_sleep)


model, history = harness.train(
    build_model,
    train_epoch,
    args,
    val_data=val,
    callbacks=[Sleep()] if args.epoch_sleep else [],
    config=harness.run_config(args, ignore=("logical_cpus", "epoch_sleep")),
    verbose=0,
)
evaluation = model.evaluate(val, verbose=0, return_dict=True)
weights = np.concatenate([w.ravel() for w in model.get_weights()])
path = harness.write_results(
    args.out,
    {
        "val": evaluation,
        "weights": weights,
        "epochs_logged": history.get("epoch", []),
        "replicas": strategy.num_replicas_in_sync,
    },
)
print(f"task done (chief: {harness.is_chief()}, results: {path})", flush=True)

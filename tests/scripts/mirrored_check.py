"""Run in its own process: two logical CPUs under MirroredStrategy."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
from helpers import hidden_map

from keras_has import HideAndSeek

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).integers(0, 200, (8, 32, 32, 3)).astype("float32")
for seed in (1, None):
    with strategy.scope():
        layer = HideAndSeek(patch_size=4, fill_value=250.0, seed=seed)
    step = tf.function(
        lambda t, layer=layer: strategy.run(lambda v: layer(v, training=True), args=(t,))
    )
    outs = [strategy.experimental_local_results(step(tf.constant(x))) for _ in range(2)]
    maps = [hidden_map(o.numpy(), x, 250.0) for call in outs for o in call]
    # Same input on both replicas, different patterns; new ones each call.
    assert not np.array_equal(maps[0], maps[1]), "replicas drew the same pattern"
    assert not np.array_equal(maps[0], maps[2]), "a call repeated the last pattern"
    assert all(0.3 < m.mean() < 0.7 for m in maps)

# model.fit under the strategy, with an adapted mean saved in the model.
with strategy.scope():
    layer = HideAndSeek(patch_size=[0, 8, 16])
    layer.adapt(x / 200)
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(4, 3)(layer(inputs))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
history = model.fit(x / 200, np.zeros((8, 2)), batch_size=4, epochs=2, verbose=0)
assert np.isfinite(history.history["loss"]).all()
print("mirrored OK")

"""Run with KERAS_BACKEND=jax or torch: the layer's behaviour on that backend."""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import cv2
import keras
import numpy as np
import tensorflow as tf
from helpers import (
    chosen_option,
    constant_on_cells,
    hidden_map,
)

from keras_has import HideAndSeek
from keras_has.localizer import Localizer

backend = keras.backend.backend()
assert backend == os.environ["KERAS_BACKEND"], backend
numpy = keras.ops.convert_to_numpy
x = np.random.default_rng(0).integers(0, 200, (6, 30, 40, 3)).astype("uint8")

# Exact fill on whole cells, dtype kept, new patterns per call, inference.
layer = HideAndSeek(patch_size=[0, 8, 0.25], fill_value=[250, 251, 252], seed=2)
maps = [hidden_map(numpy(layer(x)), x, [250, 251, 252]) for _ in range(2)]
assert not np.array_equal(*maps) and 0.1 < maps[0].mean() < 0.9
for image in maps[0]:
    assert chosen_option(image, [0, 8, 0.25]) is not None
np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
again = HideAndSeek(patch_size=[0, 8, 0.25], fill_value=[250, 251, 252], seed=2)
np.testing.assert_array_equal(hidden_map(numpy(again(x)), x, [250, 251, 252]), maps[0])

# Temporal mode with an adapted mean feature.
seqs = np.random.default_rng(1).random((4, 200, 16)).astype("float32")
temporal = HideAndSeek(mode="temporal", num_segments=20, seed=0)
temporal.adapt(seqs)
mean = numpy(temporal.mean)
for sequence in hidden_map(numpy(temporal(seqs)), seqs, mean):
    assert constant_on_cells(sequence, (10,))

# In a model: fit hides, predict does not; feature-map running mean.
images = x.astype("float32") / 200
has = HideAndSeek(patch_size=4, fill_value=0.0, seed=0)
inputs = keras.Input((30, 40, 3))
pooled = keras.layers.GlobalAveragePooling2D()(has(inputs))
model = keras.Model(inputs, pooled)
model.compile(optimizer="sgd", loss="mse")
targets = images.mean((1, 2))
assert model.train_on_batch(images, targets) > 1e-4
# Inference sees every pixel: the GAP equals the mean up to float32 rounding (~1e-7 on values
# in [0, 1), so a squared error ~1e-14; 1e-10 leaves four orders of margin).
assert model.evaluate(images, targets, verbose=0) < 1e-10
feature = HideAndSeek(patch_size=2, mode="feature_map", seed=0)
out = numpy(feature(images))
# The running mean starts from the first batch's float32 mean: summation order differs by backend.
np.testing.assert_allclose(numpy(feature.mean), images.mean((0, 1, 2)), rtol=1e-5)
hidden_map(out, images, numpy(feature.mean))

# Gradients reach visible values only (layers below a feature-map HaS train).
constant = HideAndSeek(patch_size=3, fill_value=-1.0, mode="feature_map", seed=0)
weights = np.random.default_rng(3).random(images.shape).astype("float32")
if backend == "jax":
    import jax

    out, grad_fn = jax.vjp(lambda v: constant(v, training=True), images)
    gradient = grad_fn(weights)[0]
else:
    import torch

    source = torch.tensor(images, requires_grad=True)
    out = constant(source, training=True)
    (out * torch.tensor(weights)).sum().backward()
    gradient = source.grad
is_hidden = hidden_map(numpy(out), images, [-1.0] * 3)
assert is_hidden.any() and not is_hidden.all()
# Exact: the gradient of a select is the upstream weights or zero, copied, not computed.
np.testing.assert_array_equal(numpy(gradient), np.where(is_hidden[..., None], 0.0, weights))

# tf.data (TensorFlow ops whatever the backend), batched and unbatched.
for dataset in (
    tf.data.Dataset.from_tensor_slices(x).batch(3).map(layer),
    tf.data.Dataset.from_tensor_slices(x).map(layer).batch(3),
):
    batch = next(iter(dataset)).numpy()
    assert batch.dtype == np.uint8 and hidden_map(batch, x[:3], [250, 251, 252]).any()

# .keras round trip with the adapted mean.
path = os.path.join(tempfile.mkdtemp(), "m.keras")
keras.Model(inputs, keras.layers.Dense(2)(pooled)).save(path)
loaded = keras.models.load_model(path)
assert isinstance(loaded.layers[1], HideAndSeek)

# CAMs and the localizer (10 crops): boxes as OpenCV finds them.
cam_model = keras.Sequential(
    [
        keras.Input((28, 28, 3)),
        keras.layers.Conv2D(6, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ]
)
pictures = np.random.default_rng(2).random((2, 32, 32, 3)).astype("float32")
found = {
    k: numpy(v) for k, v in Localizer(cam_model, threshold=0.3, crop_size=28)(pictures).items()
}
for cam, box in zip(found["cam"], found["box"]):
    normalized = (cam - cam.min()) / (cam.max() - cam.min())
    _, _, stats, _ = cv2.connectedComponentsWithStats((normalized >= 0.3).astype("uint8"))
    x0, y0, w, h, _ = stats[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])]
    # Exact: integer boxes of the same float32 mask ((cam - min) / span >= 0.3, IEEE both sides).
    np.testing.assert_array_equal(box, [x0, y0, x0 + w, y0 + h])
print(f"{backend} OK")

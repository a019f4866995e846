"""The demo's picture and the benchmark's reference implementations."""

import cv2
import numpy as np
import tensorflow as tf
from helpers import chosen_option, constant_on_cells, hidden_map

from benchmarks import baselines
from keras_has.recipes import demo


def test_demo_picture_shows_inputs_and_hidden_grids(tmp_path):
    path = str(demo.main(["--out", str(tmp_path), "--images", "2", "--seed", "3"]))
    picture = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    side, pad, label = demo.SIZE, 4, 120
    assert picture.shape == (len(demo.SETTINGS) * (side + 2 * pad), label + 2 * (side + 2 * pad), 3)
    images = demo.scenes(2, 3)

    def tile(row, column):
        top, left = row * (side + 2 * pad) + pad, label + column * (side + 2 * pad) + pad
        return picture[top : top + side, left : left + side]

    for column, image in enumerate(images):
        np.testing.assert_array_equal(tile(0, column), image)
        fill = np.rint(images.reshape(-1, 3).mean(0)).astype(np.uint8)
        for row, size in enumerate(list(demo.SETTINGS.values())[1:4], start=1):
            hidden = hidden_map(tile(row, column)[None], image[None], fill)[0]
            assert constant_on_cells(hidden, (size, size)) and 0.1 < hidden.mean() < 0.9


def test_baselines_compute_hide_and_seek():
    x = np.random.default_rng(0).integers(0, 200, (6, 40, 40, 3)).astype("float32")
    fill = tf.constant([250.0, 251.0, 252.0])
    out = baselines.per_image_loop(tf.constant(x), [0, 8, 16], fill).numpy()
    for image in hidden_map(out, x, fill.numpy()):
        assert chosen_option(image, [0, 8, 16]) is not None
    mask = baselines.full_mask(x.shape, 8)
    hidden = hidden_map(baselines.naive_where(tf.constant(x), mask, fill).numpy(), x, fill.numpy())
    np.testing.assert_array_equal(hidden, mask.numpy()[..., 0])
    assert all(constant_on_cells(h, (8, 8)) for h in hidden) and 0.3 < hidden.mean() < 0.7
    erased = baselines.random_erasing()(tf.constant(x)).numpy()
    erased_fraction = np.mean(np.all(erased == 0, axis=-1), axis=(1, 2))
    # Every image: a fraction of whole pixels of a random rectangle of area 1/2, not rounding.
    np.testing.assert_allclose(erased_fraction, 0.5, rtol=0, atol=0.05)

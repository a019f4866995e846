"""Property tests of HideAndSeek: what every output must satisfy."""

import math

import keras
import numpy as np
import pytest
from helpers import (
    cell_lengths,
    cell_values,
    chosen_option,
    constant_on_cells,
    hidden_map,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_has import HideAndSeek

DTYPES = ["float32", "uint8", "float16", "int32", "bfloat16"]
# Per-channel fills that random test inputs never take.
FILL = [250.0, 251.0, 252.0, 253.0]


def make_input(rng, shape, dtype):
    """Values in [0, 200): never equal to FILL."""
    x = rng.integers(0, 200, size=shape)
    if "float" in dtype:
        x = x + rng.random(shape).round(2)
    return keras.ops.convert_to_numpy(keras.ops.cast(x, dtype))


def as_numpy(x):
    x = keras.ops.convert_to_numpy(x)
    return x.astype("float32") if x.dtype.name == "bfloat16" else x


sizes = st.one_of(
    st.integers(1, 40),
    st.sampled_from([0.5, 1 / 3, 0.25, 0.2, 1 / 6, 1 / 7, 0.125, 0.3]),
)


@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 37),
    width=st.integers(1, 37),
    channels=st.sampled_from([1, 3, 4]),
    patch_size=st.one_of(sizes, st.lists(st.one_of(st.just(0), sizes), min_size=1, max_size=4)),
    hide_prob=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
    dtype=st.sampled_from(DTYPES),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    batched=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_image_outputs_are_input_or_fill_on_the_chosen_grid(
    batch,
    height,
    width,
    channels,
    patch_size,
    hide_prob,
    dtype,
    data_format,
    batched,
    seed,
):
    rng = np.random.default_rng(seed)
    channels_first = data_format == "channels_first"
    shape = (batch, channels, height, width) if channels_first else (batch, height, width, channels)
    x = make_input(rng, shape, dtype)
    fill = FILL[:channels]
    layer = HideAndSeek(
        patch_size=patch_size,
        hide_prob=hide_prob,
        fill_value=fill,
        seed=seed,
        data_format=data_format,
    )
    out = layer(x) if batched else np.stack([layer(image) for image in x])
    out = as_numpy(out)
    assert out.dtype == as_numpy(x).dtype
    hidden = hidden_map(out, as_numpy(x), fill, 1 if channels_first else -1)
    options = patch_size if isinstance(patch_size, list) else [patch_size]
    for image in hidden:
        assert chosen_option(image, options) is not None, "not a union of grid cells"
    if hide_prob == 0 or all(s == 0 for s in options):
        assert not hidden.any()
    if hide_prob == 1 and all(s != 0 for s in options):
        assert hidden.all()


@given(
    batch=st.integers(1, 3),
    steps=st.integers(1, 120),
    features=st.integers(1, 9),
    segments=st.one_of(
        st.builds(lambda n: {"num_segments": n}, st.integers(1, 30)),
        st.builds(lambda n: {"patch_size": n}, st.integers(1, 50)),
    ),
    hide_prob=st.sampled_from([0.0, 0.5, 1.0]),
    dtype=st.sampled_from(["float32", "float16"]),
    batched=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_temporal_outputs_hide_whole_segments(
    batch, steps, features, segments, hide_prob, dtype, batched, seed
):
    rng = np.random.default_rng(seed)
    x = make_input(rng, (batch, steps, features), dtype)
    fill = np.arange(features) + 300.0
    layer = HideAndSeek(
        mode="temporal",
        hide_prob=hide_prob,
        fill_value=fill.tolist(),
        seed=seed,
        **segments,
    )
    out = layer(x) if batched else np.stack([layer(seq) for seq in x])
    hidden = hidden_map(as_numpy(out), x, fill)
    length = segments.get("patch_size") or math.ceil(steps / segments["num_segments"])
    for sequence in hidden:
        assert constant_on_cells(sequence, (length,))
    assert hidden.all() if hide_prob == 1 else True
    assert not hidden.any() if hide_prob == 0 else True


@pytest.mark.parametrize("hide_prob", [0.1, 0.25, 0.5, 0.66, 0.9])
@pytest.mark.parametrize("mode", ["image", "temporal"])
def test_hidden_fraction_matches_hide_prob(hide_prob, mode):
    rng = np.random.default_rng(0)
    if mode == "image":
        # 64 images x 8 x 8 cells of 4 pixels, partial last cells (30 = 7*4+2).
        x = make_input(rng, (64, 30, 30, 1), "float32")
        cells = (4, 4)
        layer = HideAndSeek(patch_size=4, hide_prob=hide_prob, fill_value=FILL[0], seed=1)
    else:
        x = make_input(rng, (64, 205, 1), "float32")
        cells = (10,)
        layer = HideAndSeek(
            mode="temporal", patch_size=10, hide_prob=hide_prob, fill_value=FILL[0], seed=1
        )
    hidden = hidden_map(as_numpy(layer(x)), x, FILL[:1])
    flags = np.concatenate([cell_values(h, cells).ravel() for h in hidden])
    n = flags.size
    bound = 5 * math.sqrt(hide_prob * (1 - hide_prob) / n)
    assert abs(flags.mean() - hide_prob) < bound, (flags.mean(), n)
    # Cells are independent: neighbouring cells agree as often as chance says.
    same = np.mean(flags[1:] == flags[:-1])
    expected = hide_prob**2 + (1 - hide_prob) ** 2
    assert abs(same - expected) < 5 * math.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize(
    "options,size,image_prob",
    [
        ([0, 4, 6, 8], (48, 48), 1.0),
        ([0, 4, 6, 8], (48, 48), 0.5),
        ([0, 16, 32, 44, 56], (224, 224), 1.0),
        ([16, 32, 44, 56], (224, 224), 0.5),  # the paper's ImageNet classification setting
        ([5, 7, 0.5], (35, 35), 1.0),
    ],
)
def test_each_patch_size_is_drawn_equally_often(options, size, image_prob):
    """Hidden images draw each option equally often; whole ones count as a 0 option."""
    n = 1200 if size[0] < 100 else 400
    rng = np.random.default_rng(1)
    x = make_input(rng, (n, *size, 1), "uint8")
    layer = HideAndSeek(patch_size=options, fill_value=FILL[0], image_prob=image_prob, seed=7)
    hidden = hidden_map(as_numpy(layer(x)), x, FILL[:1])
    labels = options if 0 in options or image_prob == 1 else [0, *options]
    chosen = np.array([chosen_option(h, labels) for h in hidden])
    assert (chosen != None).all()
    counts = np.bincount(chosen.astype(int), minlength=len(labels))
    p = np.array(
        [(s in options) * image_prob / len(options) + (s == 0) * (1 - image_prob) for s in labels]
    )
    bound = 5 * np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < bound), counts


@settings(max_examples=20)  # each example compiles a kernel, about 2 s
@given(
    options=st.lists(st.sampled_from([0, 1, 4, 8, 16, 0.5]), min_size=1, max_size=3),
    hide_prob=st.sampled_from([0.05, 0.3, 0.5, 1.0]),
    image_prob=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_fraction_of_images_hidden_is_image_prob_times_any_cell(
    options, hide_prob, image_prob, seed
):
    n = 600
    x = make_input(np.random.default_rng(seed), (n, 16, 16, 1), "float32")
    layer = HideAndSeek(
        patch_size=options,
        hide_prob=hide_prob,
        image_prob=image_prob,
        fill_value=FILL[0],
        seed=seed,
    )
    touched = hidden_map(as_numpy(layer(x)), x, FILL[:1]).reshape(n, -1).any(1)
    cells = [
        0 if s == 0 else math.prod(math.ceil(16 / c) for c in cell_lengths(s, (16, 16)))
        for s in options
    ]
    p = image_prob * np.mean([1 - (1 - hide_prob) ** c for c in cells])
    # 5 sigma, plus one image: the normal bound is too tight when p is near 0 or 1.
    assert abs(touched.mean() - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1 / n, (touched.mean(), p)


@given(
    mode=st.sampled_from(["image", "feature_map", "temporal"]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 1000),
)
def test_inference_is_the_identity(mode, dtype, seed):
    shape = (2, 9, 5) if mode == "temporal" else (2, 9, 7, 3)
    x = make_input(np.random.default_rng(seed), shape, dtype)
    layer = HideAndSeek(patch_size=2, mode=mode, hide_prob=1.0, seed=seed)
    if mode != "feature_map":
        layer.adapt(x.astype("float32"))
    out = layer(x, training=False)
    np.testing.assert_array_equal(as_numpy(out), as_numpy(x))
    assert keras.backend.standardize_dtype(out.dtype) == dtype


def test_mean_fill_is_the_training_set_mean_rounded_for_integers():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (20, 16, 16, 3)).astype("uint8")
    layer = HideAndSeek(patch_size=4, hide_prob=1.0, seed=0)
    layer.adapt(train)
    mean = train.reshape(-1, 3).astype("float64").mean(0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mean), mean, rtol=1e-6)
    out = as_numpy(layer(train[:2]))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.broadcast_to(np.rint(mean).astype("uint8"), out.shape))
    out = as_numpy(layer(train[:2].astype("float32")))
    np.testing.assert_array_equal(out, np.broadcast_to(mean.astype("float32"), out.shape))


def test_channels_first_mean_and_temporal_mean():
    rng = np.random.default_rng(4)
    images = rng.random((10, 2, 6, 5)).astype("float32")
    layer = HideAndSeek(patch_size=2, data_format="channels_first")
    layer.adapt(images)
    # adapt() sums in float64 and stores float32: one float32 rounding (6e-8 relative).
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.mean), images.mean((0, 2, 3)), rtol=1e-6
    )
    seqs = rng.random((4, 50, 7)).astype("float32")
    layer = HideAndSeek(mode="temporal", num_segments=5)
    import tensorflow as tf

    layer.adapt(tf.data.Dataset.from_tensor_slices((seqs, np.zeros(4))).batch(3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mean), seqs.mean((0, 1)), rtol=1e-6)


def test_feature_map_running_mean():
    rng = np.random.default_rng(5)
    a, b = rng.random((2, 4, 6, 6, 8)).astype("float32")
    layer = HideAndSeek(patch_size=3, mode="feature_map", momentum=0.9, hide_prob=0.5, seed=0)
    out = as_numpy(layer(a))
    first = a.mean((0, 1, 2))
    # The running mean is a float32 batch mean (144 values per channel, thread-ordered sums).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mean), first, rtol=1e-5)
    hidden = hidden_map(out, a, keras.ops.convert_to_numpy(layer.mean))
    assert 0 < hidden.mean() < 1  # the fill is exactly the updated mean
    layer(b)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.mean), 0.9 * first + 0.1 * b.mean((0, 1, 2)), rtol=1e-5
    )
    before = keras.ops.convert_to_numpy(layer.mean)
    layer(b, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.mean), before)


def test_constant_fill_is_rounded_for_integer_inputs():
    x = np.zeros((2, 8, 8, 3), "uint8")
    out = as_numpy(HideAndSeek(patch_size=4, hide_prob=1.0, fill_value=[100.6, 7.2, 254.5])(x))
    np.testing.assert_array_equal(out, np.broadcast_to(np.array([101, 7, 254], "uint8"), out.shape))
    out = as_numpy(HideAndSeek(patch_size=4, hide_prob=1.0, fill_value=-3.7)(x.astype("int8")))
    assert (out == -4).all()


def test_rectangular_images_get_a_rectangular_grid():
    """256x128 with cells of 64: 4 x 2 cells, each hidden whole or not."""
    x = make_input(np.random.default_rng(6), (200, 256, 128, 3), "uint8")
    layer = HideAndSeek(patch_size=64, fill_value=FILL[:3], seed=0)
    hidden = hidden_map(as_numpy(layer(x)), x, FILL[:3])
    cells = hidden.reshape(200, 4, 64, 2, 64)
    assert (cells.all((2, 4)) | ~cells.any((2, 4))).all()
    flags = cells[:, :, 0, :, 0]
    assert abs(flags.mean() - 0.5) < 5 * np.sqrt(0.25 / flags.size)
    # Every one of the 8 cells is hidden about half of the time.
    assert np.all(np.abs(flags.mean(0) - 0.5) < 5 * np.sqrt(0.25 / 200))


@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)),
    n_bad=st.integers(1, 12),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    batch_size=st.integers(1, 4),
    dtype=st.sampled_from(["float32", "float16", "float64"]),
    seed=st.integers(0, 1000),
)
def test_adapt_counts_non_finite_values_and_stores_nothing(
    shape, n_bad, bad, batch_size, dtype, seed
):
    rng = np.random.default_rng(seed)
    x = rng.random(shape).astype(dtype)
    n_bad = min(n_bad, x.size)
    x.reshape(-1)[rng.choice(x.size, n_bad, replace=False)] = bad
    layer = HideAndSeek(patch_size=2)
    message = rf"non-finite values \(NaN or inf\): {n_bad} of {x.size} values"
    with pytest.raises(ValueError, match=message):
        layer.adapt(x, batch_size=batch_size)
    assert not layer.built


@given(
    batches=st.lists(
        st.tuples(st.integers(0, 1000), st.sampled_from([None, np.nan, np.inf, -np.inf])),
        min_size=1,
        max_size=5,
    ),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
)
def test_running_mean_is_the_ema_of_the_finite_batches(batches, momentum):
    """Batches with a NaN/inf value are skipped; the running mean stays finite."""
    layer = HideAndSeek(patch_size=2, mode="feature_map", momentum=momentum, seed=0)
    expected, counted = np.zeros(3), 0
    for seed, bad in batches:
        x = np.random.default_rng(seed).random((2, 4, 4, 3)).astype("float32")
        if bad is not None:
            x[1, 2, 3, seed % 3] = bad
        layer(x, training=True)
        if bad is None:
            mean = x.mean((0, 1, 2), dtype="float64")
            expected = mean if counted == 0 else momentum * expected + (1 - momentum) * mean
            counted += 1
    # float32 running arithmetic over at most 5 updates of values in [0, 1).
    mean = keras.ops.convert_to_numpy(layer.mean)
    np.testing.assert_allclose(mean, expected, rtol=1e-5, atol=1e-6)
    assert float(keras.ops.convert_to_numpy(layer.count)) == counted


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 4)),
    integers=st.booleans(),
    patch_size=st.one_of(sizes, st.lists(st.one_of(st.just(0), sizes), min_size=1, max_size=3)),
    seed=st.integers(0, 2**31 - 1),
)
def test_nested_lists_give_what_arrays_give(shape, integers, patch_size, seed):
    """Python floats are taken as floatx (float32), ints as int32, as Keras does."""
    x = make_input(np.random.default_rng(seed), shape, "int32" if integers else "float32")
    values = x.tolist()
    outs = [
        as_numpy(HideAndSeek(patch_size=patch_size, fill_value=FILL[: shape[-1]], seed=seed)(v))
        for v in (values, x)
    ]
    assert outs[0].dtype == x.dtype
    np.testing.assert_array_equal(outs[0], outs[1])

"""What `HideAndSeek` accepts (checks): its arguments, input shapes and dtypes, Keras's dict
inputs, and the data that `adapt` reads."""

import numbers

import keras
import numpy as np

from keras_has._arguments import is_number

MAX_UNBATCHED_IMAGE_CHANNELS = 4


def check_shape(shape, mode, channels_first, fill_value, built_channels=None):
    """Validates a HideAndSeek input `shape` for `mode`; returns its channel count.

    `built_channels`: the channels of the layer's adapted mean (None: not built).
    """
    rank = len(shape)
    batched = 3 if mode == "temporal" else 4
    if rank not in (batched - 1, batched):
        expected = {
            "image": "(B, H, W, C) or (H, W, C)",
            "feature_map": "(B, H, W, C) or (H, W, C)",
            "temporal": "(B, T, D) or (T, D)",
        }[mode]
        hint = (
            " For (B, T, D) feature sequences use mode='temporal'."
            if mode != "temporal"
            else " For images use mode='image'."
        )
        raise ValueError(
            f"HideAndSeek(mode={mode!r}) expects inputs of rank "
            f"{batched - 1} or {batched}, {expected}. Received: "
            f"shape={tuple(shape)}.{hint}"
        )
    channel_axis = -3 if channels_first else -1
    channels = shape[channel_axis]
    if channels is None:
        raise ValueError(
            f"HideAndSeek needs a known channel (feature) dimension. Received: shape={tuple(shape)}"
        )
    if 0 in shape[1 - batched :]:
        axes = "(T, D)" if mode == "temporal" else "(H, W, C)"
        raise ValueError(
            f"HideAndSeek cannot hide cells of empty inputs: every {axes} "
            f"axis must have length >= 1. Received: shape={tuple(shape)}"
        )
    if mode == "image" and rank == 3 and channels > MAX_UNBATCHED_IMAGE_CHANNELS:
        raise ValueError(
            "HideAndSeek(mode='image') reads a rank-3 input as one image "
            f"(H, W, C), but this one has C={channels} channels: it looks "
            "like a (B, T, D) feature sequence. Use mode='temporal' for "
            "sequences, mode='feature_map' for activations, or batch "
            f"images to rank 4. Received: shape={tuple(shape)}"
        )
    if isinstance(fill_value, list) and len(fill_value) not in (
        1,
        channels,
    ):
        raise ValueError(
            f"`fill_value` has {len(fill_value)} values but the "
            f"input has {channels} channels (axis {channel_axis}): give "
            "one value per channel or a single number. Received: "
            f"fill_value={fill_value}, shape={tuple(shape)}"
        )
    if built_channels is not None and built_channels != channels:
        raise ValueError(
            f"This HideAndSeek layer was built for {built_channels}"
            f" channels but the input has {channels}. Received: "
            f"shape={tuple(shape)}"
        )
    return channels


def plain(value):
    """JSON-friendly copy of a size argument (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def check_data_format(data_format):
    """The data format, channels_last or channels_first (any case); None: Keras's default."""
    if data_format is None:
        return keras.config.image_data_format()
    formats = ("channels_last", "channels_first")
    if isinstance(data_format, str) and data_format.lower() in formats:
        return data_format.lower()
    raise ValueError(
        f"`data_format` must be one of {formats}. Received: data_format={data_format!r}"
    )


def check_fill_value(value):
    if isinstance(value, str):
        if value == "mean":
            return value
    elif is_number(value):
        return float(value)
    elif isinstance(value, (list, tuple, np.ndarray)) and len(value) > 0:
        flat = list(np.asarray(value).reshape(-1))
        if all(is_number(v) for v in flat) and np.ndim(value) == 1:
            return [float(v) for v in flat]
    raise ValueError(
        "`fill_value` must be 'mean' (the training-set mean, see adapt()), a "
        "number, or a list with one number per channel. Received: "
        f"fill_value={value!r}"
    )


def numeric_dtype(dtype, name):
    """`dtype` as a Keras dtype name; raises unless it is int or float."""
    try:
        standard = keras.backend.standardize_dtype(dtype)
    except ValueError:  # str, bytes, object: no Keras dtype
        standard = None
    if standard is None or not (
        keras.backend.is_float_dtype(standard) or keras.backend.is_int_dtype(standard)
    ):
        raise ValueError(
            f"HideAndSeek expects `{name}` of a real-valued numeric dtype "
            f"(uint8, int or float). Received: {name} of dtype {dtype}"
        )
    return standard


def numeric_array(value, name):
    """Nested lists or Python numbers as a NumPy array of numbers."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(
            f"HideAndSeek expects `{name}` as a rectangular array of numbers; "
            f"nested lists must have equal lengths. Received: {error}"
        ) from None
    numeric_dtype(array.dtype, name)
    return array


def numeric_inputs(inputs):
    """Checks the dtype of layer inputs; converts plain Python values.

    Nested lists and numbers convert as Keras's own layers convert them:
    floats to floatx, ints to int32.
    """
    if hasattr(inputs, "dtype"):  # tensors, arrays, KerasTensors
        numeric_dtype(inputs.dtype, "inputs")
        return inputs
    array = numeric_array(inputs, "inputs")
    integer = np.issubdtype(array.dtype, np.integer)
    return array.astype("int32" if integer else keras.config.floatx())


def dict_images(data, mode, name, layer="HideAndSeek"):
    """The "images" of a dict of Keras's image preprocessing layers given to `layer`."""
    if mode != "image":
        raise ValueError(
            f"{layer}(mode={mode!r}) takes tensors; dicts of "
            "{'images': ..., 'labels': ..., ...} (the convention of Keras's "
            "image preprocessing layers) are for mode='image'. Received: "
            f"`{name}` as a dict with keys {list(data)}"
        )
    if "images" not in data:
        raise ValueError(
            f"{layer} takes `{name}` dicts with an 'images' key (the "
            "images to change; 'labels', 'bounding_boxes', "
            "'segmentation_masks' and other keys pass through). Received: "
            f"a dict with keys {list(data)}, no 'images'"
        )
    return data["images"]


def chunks(data, batch_size, steps, mode):
    """Yields numpy arrays from an array or a `tf.data.Dataset`.

    Dataset tuples yield their first entry and dicts their "images".
    """
    if isinstance(data, dict):
        data = dict_images(data, mode, "data")
    if hasattr(data, "as_numpy_iterator"):
        dataset = data.take(steps) if steps is not None else data
        for element in dataset.as_numpy_iterator():
            if isinstance(element, (tuple, list)):
                element = element[0]
            elif isinstance(element, dict):
                element = dict_images(element, mode, "data")
            yield np.asarray(element)
        return
    if isinstance(data, (list, tuple, str, bytes)):
        array = numeric_array(data, "data")
    else:
        array = keras.ops.convert_to_numpy(data)
    if array.ndim == 0:
        raise ValueError(f"adapt() expects an array of inputs. Received: {data!r}")
    for start in range(0, len(array), batch_size):
        yield array[start : start + batch_size]

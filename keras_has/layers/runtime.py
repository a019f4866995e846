"""Where a layer call runs: XLA or not, which `tf.distribute` replica, tf.data.

Only TensorFlow needs these answers; other backends get the neutral ones.
"""

import sys

import keras

from keras_has import _keras_private


def in_foreign_tf_graph(inputs):
    """True when called on TF tensors in a TF graph, e.g. in `tf.data.map`.

    There the layer must run TensorFlow ops whatever the Keras backend is.
    """
    return (
        not isinstance(inputs, keras.KerasTensor)
        and _keras_private.in_tf_graph()
        and not _keras_private.is_in_jax_tracing_scope(inputs)
    )


def call_keeping_dtype(layer, base, inputs, *args, **kwargs):
    """`layer(inputs, ...)` for a `base` (DataLayer) subclass whose output keeps the input dtype.

    In a TF graph (tf.data) it runs TensorFlow ops whatever the Keras backend, like DataLayer,
    but without DataLayer's cast to the compute dtype (uint8 images would become float32).
    """
    from keras_has.layers import checks

    inputs = checks.numeric_inputs(inputs)
    if not in_foreign_tf_graph(inputs):
        return super(base, layer).__call__(inputs, *args, **kwargs)
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    if not layer.built:
        # Other backends cannot read a TF tensor's shape to build.
        layer.build(tuple(inputs.shape))
    layer.backend.set_backend("tensorflow")
    convert = layer._convert_input_args
    layer._convert_input_args = False
    try:
        return super(base, layer).__call__(inputs, *args, **kwargs)
    finally:
        layer._convert_input_args = convert
        layer.backend.reset()


def augments_by_default(layer):
    """What a call without a `training` flag should do: augment or not.

    True when `layer` is called on its own or inside a pipeline made only of
    preprocessing layers (as in `dataset.map(pipeline)`); False inside a
    network, whose flagless call is inference (e.g. a SavedModel's serving
    function, which `model.export()` traces without a flag).
    """
    entry = layer._get_call_context().entry_layer
    return entry is layer or _only_preprocessing(entry)


def _only_preprocessing(layer):
    if isinstance(layer, (_keras_private.DataLayer, keras.layers.InputLayer)):
        return True
    sublayers = getattr(layer, "layers", None)
    return bool(sublayers) and all(_only_preprocessing(s) for s in sublayers)


def tf_without_xla(backend):
    """True when `backend` is TensorFlow and the call is not XLA-compiled.

    TensorFlow's own kernels run the fill at a fraction of XLA's fused loop,
    so such calls go through the XLA-compiled kernel (`hiding.xla_hide`).
    """
    return backend.name == "tensorflow" and _keras_private.tf_outside_xla()


def replica(backend):
    """(replica index, replica count) inside a `tf.distribute` replica call.

    Returns (0, 1) outside one, and for backends other than TensorFlow.
    """
    if backend.name != "tensorflow" or "tensorflow" not in sys.modules:
        return 0, 1
    import tensorflow as tf

    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return 0, 1
    context = tf.distribute.get_replica_context()
    if context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync

"""Keras workarounds of the training loop (keras-team/keras#20585 and the like).

Keras 3 `fit` with MultiWorkerMirroredStrategy reduces a distributed batch with
`strategy.reduce` before training, and reduces the scalar metric values with `axis=0`: both
fail with several workers. `build_from_specs` builds the model from the dataset's element spec
instead (for every strategy, which also keeps `fit` from pulling a batch through an extra
iterator), and `patch_multiworker_metrics` averages metric values over replicas with
`axis=None`.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

import tensorflow as tf

from keras_has import _keras_private


def build_from_specs(model, strategy):
    """`fit`/`evaluate` build the model from the data's element spec, not from a batch.

    Keras's own build pulls a batch through an extra iterator and reduces it with
    `strategy.reduce`, which fails with several workers and, for a shuffled dataset, moves the
    shuffle order on. The spec is all the build needs.
    """
    _keras_private.build_from_element_spec(model, strategy)


def patch_multiworker_metrics(is_multiworker):
    """Metric values are averaged over replicas with `axis=None` when `is_multiworker(strategy)`."""

    def make_reduce(original):
        def reduce_per_replica(values, strategy, reduction):
            if reduction in ("auto", "mean") and is_multiworker(strategy):
                return tf.nest.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=None), values
                )
            return original(values, strategy, reduction)

        return reduce_per_replica

    _keras_private.patch_tf_trainer_reduce(make_reduce)

"""Keras layers of keras-has."""

from keras_has.layers.hide_and_seek import HideAndSeek

__all__ = ["HideAndSeek"]

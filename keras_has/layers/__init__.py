"""Keras layers of keras-has."""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
from keras_has.layers.hide_and_seek import HideAndSeek
from keras_has.layers.random_erasing import RandomErasing

__all__ = ["HideAndSeek", "RandomErasing"]

"""keras-has: Hide-and-Seek and weakly-supervised localization for Keras 3."""

from keras_has.layers import HideAndSeek

__version__ = "0.1.0"

__all__ = ["HideAndSeek", "__version__"]

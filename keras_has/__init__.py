"""keras-has: Hide-and-Seek and weakly-supervised localization for Keras 3.

- `HideAndSeek`: the augmentation layer (images, feature maps, sequences).
- `CAMModel`, `Localizer`: class activation maps and an exportable
  image -> (class, score, box, CAM) model (`keras_has.cam`, `.localizer`).
- `keras_has.boxes`, `keras_has.segments`, `keras_has.metrics`,
  `keras_has.viz`: CAM to boxes and (1-D CAMs) to action segments on the
  host, WSOL and temporal metrics, pictures.
"""

from keras_has import _quiet

_quiet.import_keras()

from keras_has.cam import CAMModel
from keras_has.layers import HideAndSeek
from keras_has.localizer import Localizer

__version__ = "0.1.0"

__all__ = ["CAMModel", "HideAndSeek", "Localizer", "__version__"]

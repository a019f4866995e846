"""keras-has: Hide-and-Seek and weakly-supervised localization for Keras 3.

- `HideAndSeek`: the augmentation layer (images, feature maps, sequences);
  `RandomErasing` (Zhong et al.), its peer.
- `CAMModel`, `Localizer`: class activation maps and an exportable
  image -> (class, score, box, CAM) model (`keras_has.cam`, `.localizer`).
- `keras_has.boxes`, `keras_has.segments`, `keras_has.pseudo_labels`,
  `keras_has.metrics`, `keras_has.viz`: CAM to boxes, (1-D CAMs) to action
  segments and (multi-label CAMs) to segmentation pseudo-labels on the host;
  WSOL, temporal, classification and segmentation metrics; pictures.
- `keras_has.training`: flags, strategies, the resumable training loop and
  the declarative recipe runner under the recipes; `keras_has.zoo` and
  `keras_has.recipes`: the models and the task scripts.

Keras (and TensorFlow) are imported on first use of a name that needs them,
quietly (`keras_has._quiet`), so that a recipe's `--help` and flag errors
answer at once. When Keras is already imported, `import keras_has` imports
the layers at once: a `.keras` file holding `HideAndSeek` then loads with
`keras.saving.load_model` (Keras finds a custom class only once its module
ran). Import Keras first, or touch `keras_has.HideAndSeek`, before loading.
"""

import importlib
import sys

import lazy_loader

__version__ = "0.1.0"

__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submodules=[
        "boxes",
        "cam",
        "crops",
        "data",
        "layers",
        "localizer",
        "metrics",
        "pseudo_labels",
        "recipes",
        "segments",
        "training",
        "viz",
        "zoo",
    ],
    submod_attrs={
        "cam": ["CAMModel"],
        "layers": ["HideAndSeek", "RandomErasing"],
        "localizer": ["Localizer"],
    },
)
__all__ = ["CAMModel", "HideAndSeek", "Localizer", "RandomErasing", "__version__"]

if "keras" in sys.modules:  # no import cost: register the layers for load_model now
    importlib.import_module("keras_has.layers")

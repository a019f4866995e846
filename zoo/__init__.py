"""CAM classifiers for Hide-and-Seek localization, and their weights registry.

Builders `builder(num_classes, input_shape=..., pooling="avg", has=None)`
return a functional `keras.Model`, images (B, H, W, C) -> probabilities
(B, num_classes), ending in the CAM head: last conv features (the input of
the layer "cam_pool") -> global pooling "cam_pool" -> Dense "logits" ->
softmax "predictions".

- `alexnet_gap`: AlexNet-GAP, 13x13 map at 227x227 (`width=` scales it).
- `googlenet_gap`: GoogLeNet-GAP with BN, 14x14 at 224x224 (`width=`).
- `vgg16_gap`: VGGnet-GAP on `keras.applications.VGG16`, 14x14 at 224.
- `resnet50_gap`: `keras.applications.ResNet50` + head, 7x7 at 224.
- `temporal_cam_net`: Video-HaS's localizer, feature sequences (B, T, D) ->
  two 1x1 convs -> global max pooling; 1-D CAMs (B, T, n).

`BUILDERS` maps their names to them; `zoo.weights` holds the registry of
trained weights: `zoo.load(name)` gives a ready `keras_has.Localizer`,
`zoo.load_classifier(name)` the classifier.
"""

from zoo.alexnet import alexnet_gap
from zoo.applications import resnet50_gap, vgg16_gap
from zoo.builders import BUILDERS
from zoo.googlenet import googlenet_gap
from zoo.temporal import temporal_cam_net
from zoo.weights import load, load_classifier

__all__ = [
    "BUILDERS",
    "alexnet_gap",
    "googlenet_gap",
    "load",
    "load_classifier",
    "resnet50_gap",
    "temporal_cam_net",
    "vgg16_gap",
]

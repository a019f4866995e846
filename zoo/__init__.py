"""CAM classifiers for Hide-and-Seek localization, and their weights registry.

One convention for every builder: `builder(num_classes, input_shape=...,
pooling=..., has=None, ...)`, `num_classes` first and required, the input
shape without the batch axis as `input_shape`. Each returns a functional
`keras.Model` ending in the CAM head: last conv features (the input of the
layer "cam_pool") -> global pooling "cam_pool" -> Dense "logits" -> softmax
"predictions", (B, num_classes) float32.

- `alexnet_gap`: AlexNet-GAP, 13x13 map at 227x227 (`width=` scales it).
- `googlenet_gap`: GoogLeNet-GAP with BN, 14x14 at 224x224 (`width=`).
- `vgg16_gap`: VGGnet-GAP on `keras.applications.VGG16`, 14x14 at 224.
- `resnet50_gap`: `keras.applications.ResNet50` + head, 7x7 at 224.
- `temporal_cam_net`: Video-HaS's localizer, `input_shape=(T, D)` required
  (T may be None): feature sequences (B, T, D) -> two 1x1 convs -> global
  max pooling; 1-D CAMs (B, T, n). The paper's:
  `temporal_cam_net(101, input_shape=(None, 4096))`.

Inputs: the image builders take float images (B, H, W, C) and do no
preprocessing. Models trained by this project, and every registered one,
take RGB pixels mapped to [-1, 1] by `keras_has.data.pipeline.normalize`;
`zoo.preprocess(images, name)` turns 0..255 images of any size into that
for a registered name (resized to its `image_size`).

`BUILDERS` maps the image builders' names to them; `zoo.weights` holds the
registry of trained weights: `zoo.load(name)` gives a ready
`keras_has.Localizer`, `zoo.load_classifier(name)` the classifier. Files
are checked before use (sha256, readable, fitting the builder, finite).
"""

from zoo.alexnet import alexnet_gap
from zoo.applications import resnet50_gap, vgg16_gap
from zoo.builders import BUILDERS
from zoo.googlenet import googlenet_gap
from zoo.temporal import temporal_cam_net
from zoo.weights import load, load_classifier, preprocess

__all__ = [
    "BUILDERS",
    "alexnet_gap",
    "googlenet_gap",
    "load",
    "load_classifier",
    "preprocess",
    "resnet50_gap",
    "temporal_cam_net",
    "vgg16_gap",
]

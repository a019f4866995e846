"""CAM classifiers for Hide-and-Seek localization: a registry of models, backbones, heads, presets.

A model is a backbone (inputs -> feature maps) with a head on top, composed
flat (one functional model, no nested backbone). Every registered model's
builder follows one convention: `builder(num_classes, input_shape=...,
pooling=..., has=None, ..., weights=None)`, `num_classes` first and
required, the input shape without the batch axis as `input_shape`, and
returns a functional `keras.Model` ending in the CAM head: features (the
input of the layer "cam_pool") -> global pooling "cam_pool" -> Dense
"logits" -> softmax "predictions", (B, num_classes) float32.

- `alexnet_gap`: AlexNet-GAP, 13x13 map at 227x227 (`width=` scales it).
- `googlenet_gap`: GoogLeNet-GAP with BN, 14x14 at 224x224 (`width=`).
- `vgg16_gap`: VGGnet-GAP on `keras.applications.VGG16`, 14x14 at 224.
- `resnet50_gap`: `keras.applications.ResNet50` + head, 7x7 at 224 (also the
  ImageNet classifier of `recipes.classification`).
- `cifar_resnet{20,32,44,56,110}_gap`, `cifar_resnet164_gap`: He et al.'s CIFAR
  ResNets (6n+2 basic blocks; the pre-activation bottleneck ResNet-164),
  whose GAP + fc head is the CAM head; 8x8 at 32x32.
- `mini_vgg_gap`: a small VGG-style network for the CPU-sized built-in
  data (8x8 at 64x64; 28 M multiply-adds per image).
- `zero_bias_cnn`: Khorrami et al.'s emotion CNN (96x96 grayscale, 8 CK+
  labels; no CAM: a dense layer over its 2x2 quadrant-pooled map).
- `wrn_age_gender`: a Wide Residual Network (WRN-16-8 by default) with the
  "gender" (2) and "age" (101) outputs of the age / gender task.
- `temporal_cam_net`: Video-HaS's localizer, `input_shape=(T, D)` required
  (T may be None): feature sequences (B, T, D) -> two 1x1 convs -> global
  max pooling; 1-D CAMs (B, T, n). The paper's:
  `temporal_cam_net(101, input_shape=(None, 4096))`.

Registry (`zoo.registry`): `list_models()`, `list_backbones()`,
`list_heads()`, `list_presets()`; `build(name, num_classes, head=None,
weights=None, **kwargs)`; `backbone(name, ...)` and the head makers in
`zoo.heads` (cam, classification, embedding, fcn, multi_output).
`weights=` is None, a preset ("has_builtin" or "googlenet_gap.has_builtin"),
"imagenet" (the keras.applications backbones) or a `.weights.h5` path.

Inputs: the image builders take float images (B, H, W, C) and do no
preprocessing. Models trained by this project, and every preset, take RGB
pixels mapped to the preset's `input_range`, [-1, 1] by
`keras_has.data.pipeline.normalize`; `zoo.preprocess(images, preset)` turns
0..255 images of any size into that (resized to its `image_size`).
`zoo.load(preset)` gives a ready `keras_has.Localizer`,
`zoo.load_classifier(preset)` the classifier; both also take files. Files
are checked before use (sha256, readable, fitting the model, finite).

"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split

from . import faces, heads, shipped  # noqa: F401  (shipped registers the shipped presets)
from .alexnet import alexnet_gap
from .applications import resnet50_gap, vgg16_gap
from .cifar_resnet import (
    cifar_resnet20_gap,
    cifar_resnet32_gap,
    cifar_resnet44_gap,
    cifar_resnet56_gap,
    cifar_resnet110_gap,
    cifar_resnet164_gap,
)
from .faces import wrn_age_gender, zero_bias_cnn
from .googlenet import googlenet_gap
from .loading import load, load_classifier, preprocess
from .mini_vgg import mini_vgg_gap
from .registry import (
    backbone,
    build,
    list_backbones,
    list_heads,
    list_models,
    list_presets,
)
from .temporal import temporal_cam_net

__all__ = [
    "alexnet_gap",
    "backbone",
    "build",
    "cifar_resnet20_gap",
    "cifar_resnet32_gap",
    "cifar_resnet44_gap",
    "cifar_resnet56_gap",
    "cifar_resnet110_gap",
    "cifar_resnet164_gap",
    "faces",
    "googlenet_gap",
    "heads",
    "list_backbones",
    "list_heads",
    "list_models",
    "list_presets",
    "load",
    "load_classifier",
    "mini_vgg_gap",
    "preprocess",
    "resnet50_gap",
    "temporal_cam_net",
    "vgg16_gap",
    "wrn_age_gender",
    "zero_bias_cnn",
]

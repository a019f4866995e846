"""The presets shipped in `zoo/weights/` (installed with the package, nothing downloaded).

GoogLeNet-GAP at width 0.25, trained by the main job (`python -m
recipes.wsol` with its defaults, seed 0) on the built-in animals of
`keras_has.data.synthetic` (8 classes, 136x136 images, 128 crops): the
baseline without hiding and the Hide-and-Seek (HaS-32) model. Any input
size runs; the README's figures are 10-crop (crop_size=128 on 136x136).
"""

from . import googlenet  # noqa: F401  (registers googlenet_gap, these presets' model)
from .presets import Preset
from .registry import register_preset

BUILTIN_CONFIG = {"num_classes": 8, "width": 0.25, "input_shape": (None, None, 3)}
# keras_has.data.synthetic's class c by its head's colour (hue c / 8 of the colour wheel).
BUILTIN_CLASSES = ("red", "orange", "lime", "green", "cyan", "blue", "violet", "pink")
# Preset name -> (file, sha256). The files keep their first names (and hashes).
BUILTIN = {
    "googlenet_gap.baseline_builtin": (
        "googlenet_gap_builtin.weights.h5",
        "20f5b93a3d48b969a750e65be10f1ce7853c952c047b56ad95a654eb08909e37",
    ),
    "googlenet_gap.has_builtin": (
        "googlenet_has_builtin.weights.h5",
        "fbdec0c2fceec7ab9ef39b36228d9263ee5342eed8768126222739b807de0c6a",
    ),
}
for _name, (_file, _sha256) in BUILTIN.items():
    register_preset(
        Preset(
            _name,
            _file,
            _sha256,
            BUILTIN_CONFIG,
            image_size=136,
            input_range=(-1.0, 1.0),
            cam_threshold=0.3,
            class_names=BUILTIN_CLASSES,
        )
    )

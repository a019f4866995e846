"""Presets: trained weights of a registered model, with how to feed and read it.

A preset is named "model.tag" (timm's `resnet50.a1_in1k` form): the
registered model whose builder rebuilds the network, and a tag saying how
it was trained and on what ("has_builtin": Hide-and-Seek on the built-in
animals). It carries its `.weights.h5` file and sha256, the builder kwargs,
and its preprocessing: the image size, the input range that 0..255 pixels
are mapped to, and the CAM threshold of its localizer.

`zoo.registry.register_preset` adds one; `fetch` gives its file, downloaded
once if a URL and checked against the sha256 before anything is built.
"""

import dataclasses
import math
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import keras

from . import files
from .common import is_int

WEIGHTS_DIR = Path(__file__).parent / "weights"
CACHE_DIR = None  # get_file's default: the Keras home, ~/.keras.
CACHE_SUBDIR = "keras_has"
NAME = re.compile(r"([a-z0-9_]+)\.([a-z0-9_]+)")
# Builder kwargs that change no weight's shape; input_shape only in its spatial / time axes.
SHAPE_FREE = ("input_shape", "pooling", "has")


@dataclasses.dataclass(frozen=True)
class Preset:
    """One set of trained weights; every field is checked on creation.

    Attributes:
        name: "model.tag", lowercase letters, digits and "_" ("googlenet_gap.has_builtin").
        file: a `.weights.h5` path relative to `zoo/weights/`, an absolute
            path (str or path-like), or an https URL.
        sha256: the file's SHA-256, 64 lowercase hex digits.
        config: the builder's kwargs, `num_classes` and `input_shape` included.
        image_size: None, or the side S that images are resized to (S x S, `zoo.preprocess`).
        input_range: (low, high): 0..255 pixels map linearly onto it (the
            project's models: (-1, 1), `keras_has.data.pipeline.normalize`).
        cam_threshold: the fraction of the CAM's maximum that separates
            foreground from background (paper: 0.2 AlexNet, 0.3 GoogLeNet).
        class_names: () or one name per class, in class-id order.
    """

    name: str
    file: str
    sha256: str
    config: dict
    image_size: int | None = None
    input_range: tuple = (-1.0, 1.0)
    cam_threshold: float = 0.2
    class_names: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "file", os.fspath(self.file))  # Paths too.
        config = self.config if isinstance(self.config, dict) else {}
        problems = [
            (not isinstance(self.name, str) or not NAME.fullmatch(self.name), 'name: "model.tag"'),
            (not self.file.endswith(".weights.h5"), "file: a .weights.h5 path or URL"),
            (
                not re.fullmatch(r"[0-9a-f]{64}", str(self.sha256)),
                "sha256: 64 lowercase hex digits",
            ),
            (
                not {"num_classes", "input_shape"} <= set(config),
                "config: a dict of builder kwargs with num_classes and input_shape",
            ),
            (
                self.image_size is not None
                and not (is_int(self.image_size) and self.image_size > 0),
                "image_size: None or an int >= 1",
            ),
            (not _is_range(self.input_range), "input_range: (low, high), finite, low < high"),
            (
                not isinstance(self.cam_threshold, (int, float)) or not 0 < self.cam_threshold < 1,
                "cam_threshold: a number in (0, 1)",
            ),
            (
                not isinstance(self.class_names, tuple)
                or not all(isinstance(n, str) for n in self.class_names)
                or (self.class_names and len(self.class_names) != config.get("num_classes")),
                "class_names: () or a tuple of num_classes str",
            ),
        ]
        bad = [expected for failed, expected in problems if failed]
        if bad:
            raise ValueError(f"Invalid preset; expected {'; '.join(bad)}. Received: {self!r}")

    @property
    def model(self):
        """The registered model the preset is of: "googlenet_gap"."""
        return self.name.partition(".")[0]

    @property
    def tag(self):
        """The preset's part of the name: "has_builtin"."""
        return self.name.partition(".")[2]

    def config_with(self, overrides):
        """The builder kwargs: `config` with `overrides` where no weight's shape depends on them.

        Raises:
            ValueError: an override of a kwarg that shapes the weights
                (`num_classes`, `width`, ...), or an `input_shape` with other
                channels (images) or features (sequences).
        """
        for key, value in overrides.items():
            if key not in SHAPE_FREE and (key not in self.config or self.config[key] != value):
                raise ValueError(
                    f"The weights of {self.name!r} fix `{key}`"
                    + (f"={self.config[key]!r}" if key in self.config else " to its default")
                    + f"; only {SHAPE_FREE} can change (input_shape in its spatial or time "
                    f"axes). Received: {key}={value!r}"
                )
        shape, registered = overrides.get("input_shape"), tuple(self.config["input_shape"])
        if isinstance(shape, (tuple, list)) and (
            len(shape) != len(registered) or shape[-1] != registered[-1]
        ):
            axes = "height, width" if len(registered) == 3 else "T"
            raise ValueError(
                f"`input_shape` must keep the {registered[-1]} channels the weights of "
                f"{self.name!r} take, as ({axes}, {registered[-1]}). Received: "
                f"input_shape={tuple(shape)!r}"
            )
        return {**self.config, **overrides}


def split_name(name):
    """("model", "tag") of a preset name "model.tag"; ValueError for another form."""
    match = NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            '`name` must be a preset name "model.tag" (lowercase letters, digits and "_", '
            f"one dot), e.g. 'googlenet_gap.has_builtin'. Received: name={name!r}"
        )
    return match.groups()


def fetch(preset):
    """The local path of `preset`'s file, checked against its sha256.

    A URL is downloaded once to `<Keras cache>/keras_has/<sha256[:16]>/`, so
    a new version of a file never meets a stale copy.

    Raises:
        FileNotFoundError: a local file that is not there.
        ValueError: a sha256 mismatch, saying how to get the file back.
    """
    if "://" in preset.file:
        path = Path(
            keras.utils.get_file(
                os.path.basename(urlparse(preset.file).path),
                origin=preset.file,
                cache_dir=CACHE_DIR,
                cache_subdir=os.path.join(CACHE_SUBDIR, preset.sha256[:16]),
            )
        )
        advice = f"It is a download of {preset.file}: delete {path} to download it again."
    else:
        path = WEIGHTS_DIR / preset.file  # An absolute `file` replaces WEIGHTS_DIR.
        if not path.is_file():
            raise FileNotFoundError(
                f"The weights file of preset {preset.name!r}, {path}, does not exist."
            )
        advice = (
            "It is a local file shipped in the package folder zoo/weights/ (nothing is "
            "downloaded): reinstall keras-has, or restore the file in a git clone."
            if not Path(preset.file).is_absolute()
            else "It is a local file (nothing is downloaded): put the registered file back, or "
            "register this one with its own sha256."
        )
    files.check_sha256(path, preset.sha256, advice)
    return path


def _is_range(value):
    """(low, high): finite numbers, low < high."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
        and value[0] < value[1]
    )

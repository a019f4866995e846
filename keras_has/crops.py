"""10-crop test-time averaging (4 corners, centre and their flips).

The paper averages 10 crops' class probabilities and localization maps
(Sec. 4.1.1), taken from images resized to a fixed size (e.g. 256x256 for 224
crops). Views are stacked along the batch axis, view-major: a batch of B
images becomes 10 * B crops, and maps computed on the crops are flipped
back and pasted into image coordinates, then averaged over the crops that
cover each pixel.
"""

from keras_has import _quiet  # noqa: F401  first: Keras, imported quietly

# isort: split
import numpy as np
from keras import ops

from keras_has._arguments import is_int


class TenCrop:
    """Crops of `crop_size` (int or (height, width)), channels-last images.

    The four corner crops cover an image of up to twice the crop size on each
    side. A larger image (H > 2 * ch or W > 2 * cw) is first resized to
    `scaled_size` = (min(H, 2 * ch), min(W, 2 * cw)), as the paper resizes
    images before cropping, so that every pixel is covered; the maps averaged
    there are resized back to (H, W). Both resizes are bilinear without
    antialiasing (as OpenCV's in Caffe pipelines; XLA compiles it). Images
    smaller than the crops raise a ValueError.
    """

    def __init__(self, crop_size):
        size = (crop_size, crop_size) if is_int(crop_size) else crop_size
        size = tuple(size) if isinstance(size, (list, tuple)) else ()
        if len(size) != 2 or not all(is_int(s) and s > 0 for s in size):
            raise ValueError(
                f"`crop_size` must be a positive int or (height, width), got {crop_size!r}."
            )
        self.size = tuple(int(s) for s in size)

    def scaled_size(self, image_size):
        """(height, width) that an image of `image_size` is cropped at."""
        (h, w), (ch, cw) = image_size, self.size
        if h is None or w is None or h < ch or w < cw:
            raise ValueError(
                f"`crop_size` {self.size} needs images of a known size at least "
                f"as large, got {image_size}."
            )
        return min(h, 2 * ch), min(w, 2 * cw)

    def offsets(self, scaled_size):
        """(top, left) of the 5 crops in an image of `scaled_size` (height, width)."""
        (h, w), (ch, cw) = scaled_size, self.size
        return [
            (0, 0),
            (0, w - cw),
            (h - ch, 0),
            (h - ch, w - cw),
            ((h - ch) // 2, (w - cw) // 2),
        ]

    def views(self, images):
        """(B, H, W, C) -> (10 * B, ch, cw, C), view-major."""
        (ch, cw), image_size = self.size, tuple(images.shape[1:3])
        scaled = self.scaled_size(image_size)
        if scaled != image_size:
            images = ops.image.resize(images, scaled)
        crops = [images[:, t : t + ch, s : s + cw] for t, s in self.offsets(scaled)]
        crops += [ops.flip(c, axis=2) for c in crops]
        return ops.concatenate(crops, axis=0)

    @staticmethod
    def average(x):
        """(10 * B, ...) -> (B, ...), the mean over the views."""
        return ops.mean(ops.reshape(x, (10, -1, *x.shape[1:])), axis=0)

    @staticmethod
    def repeat(x):
        """(B, ...) -> (10 * B, ...), to pair per-image values with views."""
        # Not ops.tile: in TensorFlow graphs of Keras <= 3.12 it loses the static
        # shape, which model export needs.
        return None if x is None else ops.concatenate([x] * 10, axis=0)

    def paste(self, maps, images):
        """Average crop maps (10 * B, h, w, n) into (B, H, W, n) image maps.

        Each crop's map is upsampled to the crop, flipped back if it came
        from a flipped crop, placed at its offset in the scaled image; every
        pixel is the mean over the crops that cover it (at least one), and
        the result is resized to the image if it was scaled.
        """
        (ch, cw), image_size = self.size, tuple(images.shape[1:3])
        h, w = self.scaled_size(image_size)
        maps = ops.image.resize(maps, self.size)
        maps = ops.reshape(maps, (10, -1, ch, cw, maps.shape[-1]))
        coverage = np.zeros((h, w), "float32")
        total = 0.0
        for view, (t, s) in enumerate(self.offsets((h, w)) * 2):
            crop = maps[view] if view < 5 else ops.flip(maps[view], axis=2)
            pads = [(0, 0), (t, h - ch - t), (s, w - cw - s), (0, 0)]
            total = total + ops.pad(crop, pads)
            coverage[t : t + ch, s : s + cw] += 1
        mean = total / ops.convert_to_tensor(coverage[None, :, :, None])
        return mean if (h, w) == image_size else ops.image.resize(mean, image_size)

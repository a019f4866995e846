"""Boxes of a batch of CAMs at one threshold: `cam_to_boxes`.

The batch is cut into chunks (about one per thread), and each chunk's masks
are labelled in one OpenCV call (`keras_has.boxes.components`).
"""

import numpy as np

from keras_has._arguments import as_bool, as_fraction, as_maps
from keras_has.boxes import components
from keras_has.boxes.threshold import foreground, normalize_cams
from keras_has.boxes.workers import check_workers, thread_map


def cam_to_boxes(cams, threshold=0.2, all_components=False, num_workers=None):
    """Boxes of the thresholded CAMs.

    Args:
        cams: (B, H, W) class activation maps at image resolution, or one
            (H, W) map. Each map is min-max normalized first.
        threshold: in [0, 1]; foreground is ``normalized >= threshold``.
        all_components: False: the box of the largest 8-connected component
            of each map; True: the boxes of all components.
        num_workers: threads over chunks of the batch (None: one per core).

    Returns:
        all_components=False: (B, 4) float32, or (4,) for one map; a map with
        no foreground gives (0, 0, 0, 0).
        all_components=True: a list of B float32 arrays (n_i, 4), sorted by
        component area (pixels) descending, ties in raster order; or one such
        array for one map. A map with no foreground gives a (0, 4) array.
    """
    array = as_maps(cams)
    threshold = as_fraction(threshold, "threshold")
    all_components = as_bool(all_components, "all_components")
    workers = check_workers(num_workers)
    single = array.ndim == 2
    maps = array[None] if single else array
    batch, height, width = maps.shape
    per_chunk = max(1, components.MAX_CANVAS_PIXELS // ((height + 1) * width))
    per_chunk = min(per_chunk, max(1, -(-batch // workers)))
    chunks = [range(i, min(i + per_chunk, batch)) for i in range(0, batch, per_chunk)]

    def run(chunk):
        normalized = normalize_cams(maps[chunk.start : chunk.stop])
        return _boxes_of_chunk(normalized, threshold, all_components)

    results = thread_map(run, chunks, workers)
    if all_components:
        out = [boxes for result in results for boxes in result]
        return out[0] if single else out
    out = np.concatenate(results, axis=0) if results else np.zeros((0, 4), np.float32)
    return out[0] if single else out


def _boxes_of_chunk(maps, threshold, all_components):
    batch = len(maps)
    mask = foreground(maps, threshold)
    rows = mask.any(axis=2)
    cols = mask.any(axis=(0, 1))
    present = np.flatnonzero(rows.any(axis=1))
    empty = np.zeros((0, 4), np.float32)
    if len(present) == 0:
        return [empty] * batch if all_components else np.zeros((batch, 4), np.float32)
    c0, c1 = components.row_range(cols)
    ranges = [components.row_range(rows[i]) for i in present]
    masks = [mask[i, r0:r1, c0:c1] for i, (r0, r1) in zip(present, ranges)]
    canvas, starts = components.stack_masks(masks, c1 - c0)
    row0 = np.array([r0 for r0, _ in ranges], np.int64)
    comps = components.Components(canvas, starts, row0, c0)
    image = present[comps.present]
    boxes = comps.boxes.astype(np.float32)
    if all_components:
        out = [empty] * batch
        ends = np.r_[comps.starts[1:], len(boxes)]
        for i, start, end in zip(image, comps.starts, ends):
            out[i] = boxes[start:end]
        return out
    out = np.zeros((batch, 4), np.float32)
    out[image] = boxes[comps.starts]
    return out

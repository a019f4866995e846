"""Pictures: CAM heat maps with boxes, methods side by side (Fig. 5), and
action segments over time (Fig. 8).

Images are RGB, (H, W, 3) uint8 or floats in [0, 1]; boxes are
(x_min, y_min, x_max, y_max) half-open pixels; pictures come back as RGB
uint8 and `write_png` stores them with OpenCV.
"""

import pathlib

import cv2
import numpy as np

GROUND_TRUTH = (255, 0, 0)  # red, RGB
PREDICTED = (0, 255, 0)  # green
LABEL_WIDTH = 120  # pixels of the row names in `timelines`


def to_uint8(image):
    """(H, W, 3) uint8, or floats in [0, 1] -> uint8 RGB."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"`image` must be (H, W, 3) RGB, got shape {image.shape}.")
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def heatmap(cam):
    """(H, W) map -> (H, W, 3) uint8 RGB jet colours of the min-max normalized map."""
    cam = np.asarray(cam, np.float32)
    span = cam.max() - cam.min()
    normalized = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    colours = cv2.applyColorMap((normalized * 255.0 + 0.5).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)


def overlay(image, cam=None, gt_boxes=(), pred_boxes=(), alpha=0.5, thickness=2):
    """The image, its CAM blended in (weight `alpha`), GT boxes red, predicted green.

    Args:
        image: (H, W, 3) RGB.
        cam: None or an (h, w) map, resized to the image if needed.
        gt_boxes, pred_boxes: (n, 4) boxes; rows of zero area are skipped.
    """
    picture = to_uint8(image).copy()
    if cam is not None:
        cam = np.asarray(cam, np.float32)
        if cam.shape != picture.shape[:2]:
            cam = cv2.resize(cam, picture.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        picture = cv2.addWeighted(heatmap(cam), alpha, picture, 1.0 - alpha, 0.0)
    for boxes, colour in ((gt_boxes, GROUND_TRUTH), (pred_boxes, PREDICTED)):
        for x0, y0, x1, y1 in np.asarray(boxes, np.float32).reshape(-1, 4):
            if x1 > x0 and y1 > y0:
                x0, y0, x1, y1 = (round(float(v)) for v in (x0, y0, x1, y1))
                cv2.rectangle(picture, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
    return picture


def comparison(images, gt_boxes, methods, alpha=0.5):
    """Fig. 5: a row per image, for each method its boxes and its CAM.

    Args:
        images: (N, H, W, 3) RGB.
        gt_boxes: N arrays of (m_i, 4) ground-truth boxes.
        methods: {name: (cams (N, h, w), boxes (N, 4))}, in column order
            (e.g. {"GAP": ..., "HaS": ...}).

    Returns:
        (header + N * H, 2 * len(methods) * W, 3) uint8 RGB, with the method
        names written above their two columns.
    """
    if not methods:
        raise ValueError("`methods` must name at least one method.")
    rows = []
    for i, image in enumerate(images):
        panels = []
        for cams, boxes in methods.values():
            panels.append(overlay(image, None, gt_boxes[i], np.asarray(boxes)[i : i + 1]))
            panels.append(overlay(image, np.asarray(cams)[i], alpha=alpha))
        rows.append(np.concatenate(panels, axis=1))
    grid = np.concatenate(rows, axis=0)
    width = grid.shape[1] // len(methods)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for column, name in enumerate(methods):
        cv2.putText(
            header,
            str(name),
            (column * width + 6, 20),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return np.concatenate([header, grid], axis=0)


def timelines(videos, methods, width=900, bar=12):
    """Fig. 8: per video, the ground-truth segments and each method's CAM and segments.

    Args:
        videos: N tuples (name, duration seconds, ground-truth (m, 2) [start, end) seconds).
        methods: {name: (cams (N, T) 1-D CAMs, N arrays (r, >= 2) of [start, end, ...]
            seconds)}, in row order (e.g. {"Video-full": ..., "Video-HaS": ...}).
        width: pixels for the time axis; bar: pixels per row.

    Returns:
        RGB uint8: for each video a caption, a ground-truth row (red bars), and per
        method a jet-coloured CAM strip above its segments (green bars).
    """
    if not methods:
        raise ValueError("`methods` must name at least one method.")
    blocks = []
    for i, (video, duration, truth) in enumerate(videos):
        if not duration > 0:
            raise ValueError(f"`videos`: duration of {video!r} must be > 0, got {duration!r}.")
        rows = [_caption(f"{video} ({duration:.0f} s)", LABEL_WIDTH + width, bar + 6)]
        rows.append(_labelled("ground truth", _bars(truth, duration, width, bar, GROUND_TRUTH)))
        for name, (cams, segments) in methods.items():
            strip = heatmap(np.asarray(cams, np.float32)[i][None, :])
            strip = cv2.resize(strip, (width, bar), interpolation=cv2.INTER_NEAREST)
            rows.append(_labelled("", strip))
            rows.append(_labelled(name, _bars(segments[i], duration, width, bar, PREDICTED)))
        blocks.append(np.concatenate(rows, axis=0))
    return np.concatenate(blocks, axis=0)


def _bars(segments, duration, width, height, colour):
    row = np.full((height, width, 3), 235, np.uint8)
    for segment in segments:
        a, b = (round(float(np.clip(t / duration, 0, 1)) * width) for t in segment[:2])
        row[1:-1, a : max(b, a + 1)] = colour
    return row


def _labelled(text, row):
    return np.concatenate([_caption(text, LABEL_WIDTH, row.shape[0]), row], axis=1)


def _caption(text, width, height):
    panel = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(
        panel, text, (4, height - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA
    )
    return panel


def write_png(path, picture):
    """Write an RGB uint8 picture as PNG (parent folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(to_uint8(picture), cv2.COLOR_RGB2BGR)):
        raise OSError(f"OpenCV could not write '{path}'.")
    return path

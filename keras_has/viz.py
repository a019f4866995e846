"""Pictures: CAM heat maps with boxes, methods side by side (Fig. 5),
action segments over time (Fig. 8), and curves of a metric (matplotlib).

Images are RGB, (H, W, 3) uint8 or floats in [0, 1]; boxes are
(x_min, y_min, x_max, y_max) half-open pixels; pictures come back as RGB
uint8 and `write_png` stores them with OpenCV. Text is drawn with OpenCV.
"""

import math
import pathlib

import cv2
import numpy as np

from keras_has.boxes import box_iou, normalize_cams

GROUND_TRUTH = (255, 0, 0)  # red, RGB
PREDICTED = (0, 255, 0)  # green
WHITE = (255, 255, 255)
INK = (0, 0, 0)  # text
FONT = cv2.FONT_HERSHEY_SIMPLEX
# `comparison` layout, pixels: default panel height, space between panels, and the
# heights of the legend band, the column-header band and the IoU band under each row.
PANEL = 256
GAP = 4
LEGEND = 34
HEADER = 30
CAPTION = 26
# `timelines` layout, pixels: the row-name column and the time-axis row.
LABEL_WIDTH = 140
AXIS = 28


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
    normalized = normalize_cams(cam)
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


def best_ious(gt_boxes, pred_boxes):
    """IoU of each predicted box with its best-matching ground-truth box, as the WSOL metrics.

    Args:
        gt_boxes: N arrays of (m_i, 4) ground-truth boxes.
        pred_boxes: (N, 4), one predicted box per image.

    Returns:
        float64 (N,); NaN where an image has no ground-truth box.
    """
    pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    ious = np.full(len(pred_boxes), np.nan)
    for i, (box, gt) in enumerate(zip(pred_boxes, gt_boxes, strict=True)):
        gt = np.reshape(gt, (-1, 4))
        if len(gt):
            ious[i] = box_iou(box[None], gt).max()
    return ious


def comparison(images, gt_boxes, methods, alpha=0.5, panel=PANEL):
    """Fig. 5: a row per image, for each method its boxes (with their IoU) and its CAM.

    Args:
        images: (N, H, W, 3) RGB.
        gt_boxes: N arrays of (m_i, 4) ground-truth boxes.
        methods: {name: (cams (N, h, w), boxes (N, 4))}, in column order
            (e.g. {"GAP": ..., "HaS": ...}).
        panel: panel height in pixels; images and boxes are resized to
            (panel, round(W * panel / H)) = (P, Q), CAMs to the panel.

    Returns:
        (LEGEND + HEADER + N * (P + CAPTION), C * Q + (C - 1) * GAP, 3) uint8 RGB with
        C = 2 * len(methods): a legend (red: ground truth, green: prediction), a
        header per column, and per image its panels over a band with each method's
        `best_ious` under its boxes panel. Column c starts at x = c * (Q + GAP).
    """
    if not methods:
        raise ValueError("`methods` must name at least one method.")
    images = [to_uint8(image) for image in images]
    height, width = images[0].shape[:2]
    size = (round(width * panel / height), panel)  # (Q, P), OpenCV order
    scale = np.array([size[0] / width, panel / height] * 2)  # box coordinates
    step = size[0] + GAP
    columns = 2 * len(methods)
    top = LEGEND + HEADER
    picture = np.full(
        (top + len(images) * (panel + CAPTION), columns * step - GAP, 3), 255, np.uint8
    )
    _legend(picture[:LEGEND], [(GROUND_TRUTH, "ground truth"), (PREDICTED, "prediction")])
    ious = {name: best_ious(gt_boxes, boxes) for name, (_, boxes) in methods.items()}
    for m, name in enumerate(methods):
        for c, title in ((2 * m, f"{name}: image + boxes"), (2 * m + 1, f"{name}: CAM")):
            _write(picture, title, (c * step, LEGEND, c * step + size[0], top), 0.6, "center")
    for i, image in enumerate(images):
        resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        truth = np.reshape(gt_boxes[i], (-1, 4)) * scale
        y = top + i * (panel + CAPTION)
        for m, (name, (cams, boxes)) in enumerate(methods.items()):
            box = np.asarray(boxes, np.float64)[i : i + 1] * scale
            x = 2 * m * step
            picture[y : y + panel, x : x + size[0]] = overlay(resized, None, truth, box)
            picture[y : y + panel, x + step : x + step + size[0]] = overlay(
                resized, np.asarray(cams)[i], alpha=alpha
            )
            iou = ious[name][i]
            text = "IoU n/a" if np.isnan(iou) else f"IoU {iou:.2f}"
            _write(picture, text, (x, y + panel, x + size[0], y + panel + CAPTION), 0.6, "center")
    return picture


def timelines(videos, methods, width=900, bar=20):
    """Fig. 8: per video, the ground-truth segments and each method's CAM and segments.

    Args:
        videos: N tuples (name, duration seconds, ground-truth (m, 2) [start, end) seconds).
        methods: {name: (cams (N, T) 1-D CAMs spanning the duration, N arrays (r, >= 2)
            of [start, end, ...] seconds)}, in row order (e.g. {"Video-full": ...}).
        width: pixels for the time axis; bar: pixels per row.

    Returns:
        (N * (bar + 8 + bar + len(methods) * 2 * bar + AXIS), LABEL_WIDTH + width, 3)
        uint8 RGB: for each video a caption row (bar + 8), a ground-truth row (red
        bars), per method its jet-coloured CAM strip (named) over its segments (green
        bars), and a time axis with ticks labelled in seconds.
    """
    if not methods:
        raise ValueError("`methods` must name at least one method.")
    blocks = []
    for i, (video, duration, truth) in enumerate(videos):
        if not duration > 0:
            raise ValueError(f"`videos`: duration of {video!r} must be > 0, got {duration!r}.")
        caption = np.full((bar + 8, LABEL_WIDTH + width, 3), 255, np.uint8)
        _write(caption, f"{video} ({duration:.0f} s)", (0, 4, caption.shape[1], bar + 8), 0.5)
        truth = _bars(truth, duration, width, bar, GROUND_TRUTH)
        rows = [caption, _labelled("ground truth", truth)]
        for name, (cams, segments) in methods.items():
            strip = heatmap(np.asarray(cams, np.float32)[i][None, :])
            strip = cv2.resize(strip, (width, bar), interpolation=cv2.INTER_NEAREST)
            rows.append(_labelled(name, strip))
            segments = _bars(segments[i], duration, width, bar, PREDICTED)
            rows.append(_labelled("segments", segments, colour=(110, 110, 110), indent=12))
        rows.append(_labelled("time (s)", _axis(duration, width)))
        blocks.append(np.concatenate(rows, axis=0))
    return np.concatenate(blocks, axis=0)


def _bars(segments, duration, width, height, colour):
    row = np.full((height, width, 3), 235, np.uint8)
    for segment in segments:
        a, b = (round(float(np.clip(t / duration, 0, 1)) * width) for t in segment[:2])
        row[1:-1, a : max(b, a + 1)] = colour
    return row


def _axis(duration, width):
    """(AXIS, width, 3): a base line, ticks every 1, 2 or 5 * 10^k s, their labels.

    The spacing is the smallest giving at most 10 intervals, each >= 60 pixels.
    """
    row = np.full((AXIS, width, 3), 255, np.uint8)
    row[0] = INK
    most = max(1, min(10, width // 60))
    exponent = 10.0 ** math.floor(math.log10(duration / most))
    spacing = next(f * exponent for f in (1, 2, 5, 10) if duration / (f * exponent) <= most)
    for t in np.arange(0.0, duration + 1e-9 * duration, spacing):
        x = min(round(t / duration * width), width - 1)
        row[1:6, x] = INK
        text = f"{t:g}"
        (w, _), _ = cv2.getTextSize(text, FONT, 0.4, 1)
        left = int(np.clip(x - w // 2 - 2, 0, width - w - 4))
        _write(row, text, (left, 7, left + w + 4, AXIS), 0.4)
    return row


def _labelled(text, row, colour=INK, indent=0):
    label = np.full((row.shape[0], LABEL_WIDTH, 3), 255, np.uint8)
    _write(label, text, (indent, 0, LABEL_WIDTH - 4, row.shape[0]), 0.45, colour=colour)
    return np.concatenate([label, row], axis=1)


def _legend(band, items):
    """Writes (colour, text) items in a row into `band` (h, w, 3): a filled swatch, then text."""
    height = band.shape[0]
    swatch = height // 2
    texts = [cv2.getTextSize(text, FONT, 0.6, 1)[0][0] for _, text in items]
    scale = 0.6 * min(1.0, (band.shape[1] - 12 - len(items) * (swatch + 30)) / sum(texts))
    x = 6
    for (colour, text), w in zip(items, texts):
        y = (height - swatch) // 2
        band[y : y + swatch, x : x + swatch] = colour
        right = x + swatch + 8 + math.ceil(w * scale / 0.6)
        _write(band, text, (x + swatch + 4, 0, right, height), scale)
        x = right + 22


def _write(canvas, text, box, scale, align="left", colour=INK):
    """Writes `text` vertically centred in `box` (x0, y0, x1, y1) of `canvas`, shrunk to fit."""
    x0, y0, x1, y1 = box
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    scale *= min(1.0, (x1 - x0 - 4) / max(w, 1), (y1 - y0 - 2) / (h + base))
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = x0 + 2 if align == "left" else x0 + (x1 - x0 - w) // 2
    y = (y0 + y1 + h - base) // 2
    cv2.putText(canvas, text, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)


def write_png(path, picture):
    """Write an RGB uint8 picture as PNG (parent folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(to_uint8(picture), cv2.COLOR_RGB2BGR)):
        raise OSError(f"OpenCV could not write '{path}'.")
    return path


def curves(path, panels, xlabel, ylabel):
    """Writes line plots side by side to the PNG `path` (parent folders created); returns it.

    Args:
        panels: {panel title: {line name: {x (str or number): y}}}, e.g. accuracy against
            the hidden fraction per model.
        xlabel, ylabel: the axes' labels.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items()):
        for name, points in lines.items():
            xs = sorted(points, key=float)
            ax.plot([float(x) for x in xs], [points[x] for x in xs], marker="o", label=name)
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def voc_palette(num_colours=256):
    """(num_colours, 3) uint8 RGB: PASCAL VOC's label colours (0 black, 255 cream for void);
    class c's colour is the VOC devkit's bit-interleaving of c."""
    c = np.arange(num_colours)
    palette = np.zeros((num_colours, 3), np.int64)
    for shift in range(8):
        for channel in range(3):
            palette[:, channel] |= ((c >> channel + 3 * shift) & 1) << (7 - shift)
    return palette.astype(np.uint8)


def panel_rows(images, columns, panel=128):
    """A table of pictures: a row per image, the image then one panel per column.

    Args:
        images: (N, H, W, 3) RGB.
        columns: {title: N pictures (h, w, 3) RGB}, in order (scaled to the panel).
        panel: panel side in pixels, or (height, width).

    Returns:
        (HEADER + N * (P + GAP) - GAP, (1 + C) * (Q + GAP) - GAP, 3) uint8 RGB, (P, Q) the
        panel's height and width.
    """
    rows, cols = (panel, panel) if np.ndim(panel) == 0 else panel
    titles = ["image", *columns]
    step_x, step_y = cols + GAP, rows + GAP
    height = HEADER + len(images) * step_y - GAP
    picture = np.full((height, len(titles) * step_x - GAP, 3), 255, np.uint8)
    for c, title in enumerate(titles):
        _write(picture, title, (c * step_x, 0, c * step_x + cols, HEADER), 0.5, "center")
    for i, image in enumerate(images):
        shown = [image, *(pictures[i] for pictures in columns.values())]
        y = HEADER + i * step_y
        for c, item in enumerate(shown):
            method = cv2.INTER_LINEAR if c == 0 else cv2.INTER_NEAREST
            picture[y : y + rows, c * step_x : c * step_x + cols] = cv2.resize(
                to_uint8(item), (cols, rows), interpolation=method
            )
    return picture


def segmentation_rows(images, columns, panel=128):
    """`panel_rows` of class-index maps: {title: (N, H, W) maps} (ground truth, predictions,
    ...) coloured with `voc_palette` (255: void, cream); nearest-neighbour scaling."""
    palette = voc_palette()
    coloured = {title: palette[np.asarray(maps, np.int64)] for title, maps in columns.items()}
    return panel_rows(images, coloured, panel)


def heat_rows(images, columns, panel=128, alpha=0.5):
    """`panel_rows` of maps over the images: {title: (N, h, w) maps} (CAMs, occlusion
    sensitivity), each min-max normalized, in jet colours over its image."""
    images = [to_uint8(image) for image in images]
    overlays = {
        title: [
            overlay(image, np.asarray(maps[i], np.float32), alpha=alpha)
            for i, image in enumerate(images)
        ]
        for title, maps in columns.items()
    }
    return panel_rows(images, overlays, panel)

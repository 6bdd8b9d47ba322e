"""Turning a ``Prompt`` into a mask without a segmentation model: masks pass through, boxes and
points go through OpenCV's GrabCut (colour models inside vs. outside the box), which is the
best a weight-free backend can do; it is rough on low-contrast objects."""

from __future__ import annotations

import cv2
import numpy as np

from sam2auto_ros.core.propagation import Prompt, PropagationError

#: radius of the seed disc drawn around each point prompt, as a fraction of min(height, width)
_POINT_RADIUS = 0.01
#: half-size of the box assumed around point-only prompts, as a fraction of min(height, width)
_POINT_BOX = 0.1
_GRABCUT_ITERATIONS = 3


def prompt_mask(prompt: Prompt, image: np.ndarray) -> np.ndarray:
    """A non-empty bool mask for ``prompt`` on ``image`` (RGB uint8); raises ``PropagationError``."""
    height, width = image.shape[:2]
    if not isinstance(prompt, Prompt):
        raise PropagationError(f"prompt must be a Prompt, got {type(prompt).__name__}")
    if prompt.mask is not None:
        return _check_mask(prompt.mask, height, width)
    points, labels = _check_points(prompt, height, width)
    if prompt.box is not None:
        box = _check_box(prompt.box, height, width)
    elif points is not None:
        positive = points[labels == 1]
        if len(positive) == 0:
            raise PropagationError("point prompt needs at least one foreground point (label 1)")
        pad = _POINT_BOX * min(height, width)
        box = _check_box([*(positive.min(axis=0) - pad), *(positive.max(axis=0) + pad)], height, width)
    else:
        raise PropagationError("empty prompt: give a mask, a box or points")
    return _grabcut(image, box, points, labels)


def _check_mask(mask: object, height: int, width: int) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.shape != (height, width):
        shape = getattr(mask, "shape", type(mask).__name__)
        raise PropagationError(f"prompt mask must be a ({height}, {width}) array like the frame, got {shape}")
    if mask.dtype != np.bool_:
        if not np.issubdtype(mask.dtype, np.number):
            raise PropagationError(f"prompt mask must be bool or numeric, got dtype {mask.dtype}")
        mask = mask > 0
    if not mask.any():
        raise PropagationError("prompt mask is empty: nothing to track")
    return mask


def _check_box(box: object, height: int, width: int) -> tuple[int, int, int, int]:
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.shape != (4,) or not np.all(np.isfinite(values)):
        raise PropagationError(f"prompt box must be 4 finite numbers [x_min, y_min, x_max, y_max], got {box!r}")
    x0, x1 = np.clip(values[[0, 2]], 0, width)
    y0, y1 = np.clip(values[[1, 3]], 0, height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise PropagationError(f"prompt box {values.tolist()} is empty inside the {width}x{height} frame")
    return int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))


def _check_points(prompt: Prompt, height: int, width: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if prompt.points is None:
        return None, None
    points = np.asarray(prompt.points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0 or not np.all(np.isfinite(points)):
        raise PropagationError(f"prompt points must be a non-empty (N, 2) array of finite (x, y), got {points.shape}")
    labels = np.ones(len(points), np.int64) if prompt.point_labels is None else np.asarray(prompt.point_labels).reshape(-1)
    if labels.shape != (len(points),) or not np.isin(labels, (0, 1)).all():
        raise PropagationError("point_labels must hold one 0 (background) or 1 (foreground) per point")
    return np.clip(points, 0, [width - 1, height - 1]), labels.astype(np.int64)


def _grabcut(
    image: np.ndarray, box: tuple[int, int, int, int], points: np.ndarray | None, labels: np.ndarray | None
) -> np.ndarray:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    pad = max(4, (x1 - x0 + y1 - y0) // 8)
    rx0, ry0, rx1, ry1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, width), min(y1 + pad, height)
    seeds = np.full((ry1 - ry0, rx1 - rx0), cv2.GC_BGD, np.uint8)
    seeds[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = cv2.GC_PR_FGD
    if points is not None:
        radius = max(1, int(_POINT_RADIUS * min(height, width)))
        for (x, y), label in zip(points, labels):
            centre = (int(round(x)) - rx0, int(round(y)) - ry0)
            cv2.circle(seeds, centre, radius, int(cv2.GC_FGD if label else cv2.GC_BGD), -1)
    box_only = np.zeros((height, width), bool)
    box_only[y0:y1, x0:x1] = True
    has_background = (seeds == cv2.GC_BGD).any()
    if has_background and (seeds != cv2.GC_BGD).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        roi = np.ascontiguousarray(image[ry0:ry1, rx0:rx1])
        cv2.grabCut(roi, seeds, None, bgd, fgd, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
        found = np.zeros((height, width), bool)
        found[ry0:ry1, rx0:rx1] = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
        if found.any():
            return found
    return box_only  # GrabCut had nothing to contrast with: the box itself is the best guess

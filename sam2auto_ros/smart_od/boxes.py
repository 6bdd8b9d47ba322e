"""Box helpers: greedy non-maximum suppression and sanitising detector boxes.

torchvision.ops is not available on CPU-only installs (no CPU torchvision wheel), so NMS is
written here on numpy with the core ``box_iou_matrix``; the proposal counts it sees (a few
thousand at most) keep the O(N^2) IoU matrix small.
"""

from __future__ import annotations

import numpy as np

from sam2auto_ros.core.masks import box_iou_matrix


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, highest score first; a box is dropped when its IoU with a
    higher-scoring kept box exceeds ``iou_threshold`` (ties keep the earlier index)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    order = np.argsort(-scores, kind="stable")
    ious = box_iou_matrix(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for rank in range(len(order)):
        if suppressed[rank]:
            continue
        keep.append(order[rank])
        suppressed |= ious[rank] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Clip xyxy boxes to the frame (max exclusive) and order their corners."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x = np.sort(boxes[:, [0, 2]], axis=1).clip(0, width)
    y = np.sort(boxes[:, [1, 3]], axis=1).clip(0, height)
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)

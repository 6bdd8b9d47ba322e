"""Sliced (SAHI-style) re-detection inside regions of interest, and box verification.

The ``sahi`` package was considered and not used: it requires the GUI ``opencv-python`` (which
clashes with the headless OpenCV this project installs) plus requests/fire/shapely, and its
slicing drives its own model wrappers. What SMART-OD needs is small: tile a region with
overlapping slices, run the detector on each slice (and on the whole region), shift the boxes
back to frame coordinates, and compare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sam2auto_ros.core.instance import Instance
from sam2auto_ros.core.masks import box_iou_matrix
from sam2auto_ros.smart_od.config import SlicingConfig
from sam2auto_ros.smart_od.rois import Roi
from sam2auto_ros.smart_od.tiles import count_for_size, grid

DetectFn = Callable[[np.ndarray, Sequence[str]], list[Instance]]


def slice_boxes(roi_box: tuple[int, int, int, int], config: SlicingConfig) -> list[tuple[int, int, int, int]]:
    """Overlapping slices of about ``slice_size`` covering the region (plus the region itself)."""
    x0, y0, x1, y1 = roi_box
    overlap = int(config.overlap_ratio * config.slice_size)
    nx = count_for_size(x1 - x0, config.slice_size, overlap)
    ny = count_for_size(y1 - y0, config.slice_size, overlap)
    tiles = grid(roi_box, nx, ny, overlap)
    if config.include_full_roi and (nx, ny) != (1, 1):
        tiles.append(roi_box)
    return [t for t in tiles if t[2] - t[0] >= 2 and t[3] - t[1] >= 2]


@dataclass
class SlicedPredictions:
    boxes: np.ndarray  # (M, 4) frame pixels
    class_ids: np.ndarray  # (M,)
    scores: np.ndarray  # (M,)
    slices: int


def redetect(image: np.ndarray, rois: list[Roi], class_names: Sequence[str], detect: DetectFn, config: SlicingConfig) -> SlicedPredictions:
    """Run ``detect`` on every slice of every region; boxes back in frame coordinates."""
    boxes, class_ids, scores, count = [], [], [], 0
    for roi in rois:
        for sx0, sy0, sx1, sy1 in slice_boxes(roi.box, config):
            count += 1
            for inst in detect(np.ascontiguousarray(image[sy0:sy1, sx0:sx1]), class_names):
                boxes.append(inst.box + np.array([sx0, sy0, sx0, sy0], dtype=np.float32))
                class_ids.append(inst.class_id)
                scores.append(inst.score)
    return SlicedPredictions(
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        np.asarray(class_ids, dtype=np.int64),
        np.asarray(scores, dtype=np.float64),
        count,
    )


def best_iou(boxes: np.ndarray, class_ids: np.ndarray, sliced: SlicedPredictions, same_label: bool) -> np.ndarray:
    """Each box's best IoU with a sliced prediction (of the same class when ``same_label``)."""
    ious = box_iou_matrix(boxes, sliced.boxes)
    if ious.size == 0:
        return np.zeros(len(boxes))
    if same_label:
        ious = np.where(np.asarray(class_ids)[:, None] == sliced.class_ids[None, :], ious, 0.0)
    return ious.max(axis=1)

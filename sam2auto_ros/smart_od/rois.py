"""Regions of interest: DBSCAN (scikit-learn) over detection boxes.

Each cluster i gives R_i = [min x1, min y1, max x2, max y2] over its boxes, padded and clipped
to the frame. The distance between two boxes is the distance of their centres divided by the
frame diagonal, so ``eps`` means the same at any resolution. DBSCAN's noise boxes (only when
``min_samples > 1``) each become a region of their own, so every box can be verified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN

from sam2auto_ros.smart_od.config import RoiConfig


@dataclass(frozen=True)
class Roi:
    box: tuple[int, int, int, int]  # padded, clipped, integer pixels (max exclusive)
    members: tuple[int, ...]  # indices of the boxes it was built from
    score_mass: float  # sum of the members' scores (larger regions are re-detected first)


def cluster_rois(boxes: np.ndarray, scores: np.ndarray, frame_hw: tuple[int, int], config: RoiConfig | None = None) -> list[Roi]:
    """Regions of interest of one frame, largest score mass first, at most ``max_rois``."""
    cfg = config or RoiConfig()
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) == 0 or cfg.max_rois == 0:
        return []
    height, width = frame_hw
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2 / np.hypot(height, width)
    labels = DBSCAN(eps=cfg.eps, min_samples=cfg.min_samples).fit_predict(centres)
    groups = [np.flatnonzero(labels == label) for label in sorted(set(labels) - {-1})]
    groups += [np.array([i]) for i in np.flatnonzero(labels == -1)]
    rois = []
    for members in groups:
        x0, y0 = boxes[members, :2].min(axis=0)
        x1, y1 = boxes[members, 2:].max(axis=0)
        pad_x, pad_y = cfg.padding * (x1 - x0), cfg.padding * (y1 - y0)
        box = (
            int(max(0, np.floor(x0 - pad_x))),
            int(max(0, np.floor(y0 - pad_y))),
            int(min(width, np.ceil(x1 + pad_x))),
            int(min(height, np.ceil(y1 + pad_y))),
        )
        rois.append(Roi(box, tuple(int(m) for m in members), float(scores[members].sum())))
    rois.sort(key=lambda r: -r.score_mass)
    return rois[: cfg.max_rois]

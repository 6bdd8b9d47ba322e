"""Pairing labelled detections with SAM 2 mask proposals (mask-guided detection).

Rule: a detection may claim a proposal when their boxes overlap (box IoU >= ``min_box_iou``)
and the proposal's mask lies mostly inside the detection box (coverage >= ``min_coverage``: a
mask leaking far outside the box is another object or the background). Among the allowed pairs
one-to-one assignment maximises the summed affinity IoU x coverage (Hungarian,
``scipy.optimize.linear_sum_assignment``). Detections no proposal fits get their mask from SAM 2
prompted with the detection box on the same features (``box_prompt_fallback``). Proposals no
detection claims are returned as unlabelled instances when ``keep_unlabelled`` is on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from sam2auto_ros.core.instance import Instance
from sam2auto_ros.core.masks import box_iou_matrix
from sam2auto_ros.smart_od.config import PairingConfig


@dataclass(frozen=True)
class Pairing:
    pairs: tuple[tuple[int, int], ...]  # (detection index, proposal index)
    unmatched_detections: tuple[int, ...]
    unclaimed_proposals: tuple[int, ...]


def coverage_in_boxes(mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of ``mask``'s pixels inside each xyxy box (integral image, O(1) per box)."""
    area = int(mask.sum())
    if area == 0:
        return np.zeros(len(boxes))
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = mask.shape
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0 = np.clip(np.floor(b[:, 0]), 0, width).astype(int)
    y0 = np.clip(np.floor(b[:, 1]), 0, height).astype(int)
    x1 = np.clip(np.ceil(b[:, 2]), 0, width).astype(int)
    y1 = np.clip(np.ceil(b[:, 3]), 0, height).astype(int)
    inside = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return inside / area


def pair_detections(detections: list[Instance], proposals: list[Instance], config: PairingConfig | None = None) -> Pairing:
    """One-to-one pairs of detections and proposals (see the module docstring for the rule)."""
    cfg = config or PairingConfig()
    det_boxes = np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
    prop_boxes = np.array([p.box for p in proposals], dtype=np.float64).reshape(-1, 4)
    ious = box_iou_matrix(det_boxes, prop_boxes)
    affinity = np.zeros_like(ious)
    for j in np.flatnonzero((ious >= cfg.min_box_iou).any(axis=0)):
        candidates = np.flatnonzero(ious[:, j] >= cfg.min_box_iou)
        coverage = coverage_in_boxes(proposals[j].mask.to_array(), det_boxes[candidates])
        ok = coverage >= cfg.min_coverage
        affinity[candidates[ok], j] = ious[candidates[ok], j] * coverage[ok]
    pairs: list[tuple[int, int]] = []
    if affinity.size and affinity.max() > 0:
        rows, cols = linear_sum_assignment(affinity, maximize=True)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if affinity[r, c] > 0]
    matched_d = {d for d, _ in pairs}
    matched_p = {p for _, p in pairs}
    return Pairing(
        tuple(pairs),
        tuple(i for i in range(len(detections)) if i not in matched_d),
        tuple(j for j in range(len(proposals)) if j not in matched_p),
    )

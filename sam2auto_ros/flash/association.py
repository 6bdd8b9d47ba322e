"""Detection-to-track association: one-to-one mask-IoU matching, duplicate and coverage tests.

All functions work on compressed masks (``RleMask``): pycocotools computes IoU and unions on the
run-lengths directly, so association costs little more than the number of pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

from sam2auto_ros.core.masks import RleMask, box_iou_matrix, mask_iou_matrix


@dataclass(frozen=True)
class Matching:
    """Result of a one-to-one assignment between rows (detections) and columns (tracks)."""

    pairs: tuple[tuple[int, int], ...]
    unmatched_rows: tuple[int, ...]
    unmatched_cols: tuple[int, ...]
    scores: np.ndarray  # the similarity matrix the assignment was made on


def match(similarity: np.ndarray, threshold: float) -> Matching:
    """Hungarian assignment maximising total similarity; pairs below ``threshold`` are not matches.

    Pairs under the threshold are excluded before solving (not after), so a weak pair can never
    take a partner that a valid pair needed.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ValueError(f"similarity must be a 2-D matrix, got shape {sim.shape}")
    n_rows, n_cols = sim.shape
    pairs: list[tuple[int, int]] = []
    if n_rows and n_cols:
        valid = sim >= threshold
        if valid.any():
            cost = np.where(valid, -sim, 1e6)
            rows, cols = linear_sum_assignment(cost)
            pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c]]
    used_rows = {r for r, _ in pairs}
    used_cols = {c for _, c in pairs}
    return Matching(
        pairs=tuple(pairs),
        unmatched_rows=tuple(r for r in range(n_rows) if r not in used_rows),
        unmatched_cols=tuple(c for c in range(n_cols) if c not in used_cols),
        scores=sim,
    )


def match_masks(detections: Sequence[RleMask], tracks: Sequence[RleMask], threshold: float) -> Matching:
    """One-to-one match of detection masks to tracked masks by mask IoU."""
    return match(mask_iou_matrix(list(detections), list(tracks)), threshold)


def sparse_iou_matrix(masks: Sequence[RleMask]) -> np.ndarray:
    """Mask IoU among ``masks``, skipping the RLE comparison when no two boxes even touch (the
    usual case among a frame's tracks or detections: a box test costs microseconds)."""
    masks = list(masks)
    if len(masks) < 2:
        return np.ones((len(masks), len(masks)), dtype=np.float64)
    _, boxes = areas_and_boxes(masks)
    touching = box_iou_matrix(boxes, boxes) > 0.0
    np.fill_diagonal(touching, False)
    if not touching.any():
        return np.eye(len(masks), dtype=np.float64)
    return mask_iou_matrix(masks, masks)


def suppress_duplicates(masks: Sequence[RleMask], scores: Sequence[float], iou_threshold: float) -> list[int]:
    """Mask NMS: indices of the masks kept, strongest first; a mask overlapping a kept one is dropped."""
    if not masks:
        return []
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ious = sparse_iou_matrix(masks)
    kept: list[int] = []
    for i in order:
        if all(ious[i, k] <= iou_threshold for k in kept):
            kept.append(int(i))
    return kept


def inside_fraction(a: Sequence[RleMask], b: Sequence[RleMask]) -> np.ndarray:
    """``(len(a), len(b))``: the fraction of mask ``a[i]``'s pixels that lie inside ``b[j]``."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    iou = mask_iou_matrix(list(a), list(b))
    area_a = np.array([m.area for m in a], dtype=np.float64)[:, None]
    area_b = np.array([m.area for m in b], dtype=np.float64)[None, :]
    # IoU = I / (A + B - I)  =>  I = IoU * (A + B) / (1 + IoU)
    inter = iou * (area_a + area_b) / (1.0 + iou)
    return np.divide(inter, area_a, out=np.zeros_like(inter), where=area_a > 0)


def areas_and_boxes(masks: Sequence[RleMask]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts ``(N,)`` and tight xyxy boxes ``(N, 4)`` of many masks in two pycocotools calls."""
    if not masks:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.float64)
    rles = [{"size": [m.height, m.width], "counts": m.counts} for m in masks]
    boxes = np.asarray(mask_utils.toBbox(rles), dtype=np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return np.asarray(mask_utils.area(rles), dtype=np.int64), boxes


def union(masks: Sequence[RleMask]) -> RleMask | None:
    """The union of masks as one RLE (``None`` for no masks)."""
    if not masks:
        return None
    merged = mask_utils.merge([{"size": [m.height, m.width], "counts": m.counts} for m in masks], intersect=False)
    return RleMask(masks[0].height, masks[0].width, bytes(merged["counts"]))


def covered_fraction(masks: Sequence[RleMask], region: RleMask | None) -> np.ndarray:
    """For each mask, the fraction of its pixels inside ``region`` (0 where there is no region)."""
    out = np.zeros(len(masks), dtype=np.float64)
    if region is None or not masks:
        return out
    region_rle = {"size": [region.height, region.width], "counts": region.counts}
    for i, m in enumerate(masks):
        area = m.area
        if area == 0:
            continue
        inter = mask_utils.merge([{"size": [m.height, m.width], "counts": m.counts}, region_rle], intersect=True)
        out[i] = mask_utils.area(inter) / area
    return out

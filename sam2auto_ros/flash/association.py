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

from sam2auto_ros.core.masks import RleMask, intersection_area, mask_stats


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
        rows, cols = (v.tolist() for v in np.nonzero(valid))
        if len(set(rows)) == len(rows) and len(set(cols)) == len(cols):
            # no two valid pairs share a row or column (the usual frame): every optimal
            # assignment holds exactly them, the solver is not needed
            pairs = list(zip(rows, cols))
        else:
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
    return match(sparse_iou(detections, tracks), threshold)


def sparse_iou(a: Sequence[RleMask], b: Sequence[RleMask]) -> np.ndarray:
    """``mask_iou_matrix(a, b)``, comparing RLEs only for the pairs whose boxes overlap.

    Boxes are cached on the masks and most pairs in a frame lie apart, so this usually costs a
    box test; each overlapping pair costs one RLE intersection (pycocotools' ``iou`` call alone
    costs as much as ten of them).
    """
    a, b = list(a), list(b)
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    for i, j, iou in _pair_ious(a, b, overlapping_pairs(a, b)):
        out[i, j] = iou
    return out


def sparse_iou_matrix(masks: Sequence[RleMask]) -> np.ndarray:
    """Mask IoU among ``masks`` (diagonal 1), as ``sparse_iou`` does it: one RLE intersection per
    pair of overlapping boxes, none at all in the usual frame where every box lies apart."""
    masks = list(masks)
    out = np.eye(len(masks), dtype=np.float64)
    for i, j, iou in _pair_ious(masks, masks, overlapping_pairs(masks, masks, upper=True)):
        out[i, j] = out[j, i] = iou
    return out


def overlapping_pairs(a: Sequence[RleMask], b: Sequence[RleMask], upper: bool = False) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, in row-major order, whose masks' boxes share a positive area (where
    ``box_iou_matrix`` is > 0; an empty mask overlaps nothing); ``upper``: only ``i < j``.

    A plain loop over the boxes cached on the masks (``mask_stats`` fills many at once): a frame
    holds a handful of masks, and numpy's per-call cost would exceed the work (32 x 32 masks, the
    object cap, cost ~0.2 ms).
    """
    boxes_b = [m.area_and_box()[1] for m in b]
    pairs = []
    for i, m in enumerate(a):
        ax0, ay0, ax1, ay1 = m.area_and_box()[1]
        if ax1 <= ax0 or ay1 <= ay0:
            continue
        for j in range(i + 1 if upper else 0, len(boxes_b)):
            bx0, by0, bx1, by1 = boxes_b[j]
            if bx0 < ax1 and ax0 < bx1 and by0 < ay1 and ay0 < by1 and bx0 < bx1 and by0 < by1:
                pairs.append((i, j))
    return pairs


def _pair_ious(a: list[RleMask], b: list[RleMask], pairs: list[tuple[int, int]]) -> list[tuple[int, int, float]]:
    """``(i, j, IoU of a[i] and b[j])`` for the given pairs, one RLE intersection each."""
    out = []
    for i, j in pairs:
        inter = intersection_area(a[i], b[j])
        out.append((i, j, inter / (a[i].area + b[j].area - inter)))
    return out


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
    iou = sparse_iou(a, b)
    area_a = mask_stats(a)[0].astype(np.float64)[:, None]
    area_b = mask_stats(b)[0].astype(np.float64)[None, :]
    # IoU = I / (A + B - I)  =>  I = IoU * (A + B) / (1 + IoU)
    inter = iou * (area_a + area_b) / (1.0 + iou)
    return np.divide(inter, area_a, out=np.zeros_like(inter), where=area_a > 0)


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

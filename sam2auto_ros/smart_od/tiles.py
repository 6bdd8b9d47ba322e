"""Overlapping tiles: SAM 2's crop layers and the sliced re-detection share one tiling rule."""

from __future__ import annotations

import math


def spans(length: int, count: int, overlap: int) -> list[tuple[int, int]]:
    """``count`` equal spans covering ``[0, length)``, neighbours overlapping by ``overlap``."""
    if count <= 1 or length <= 0:
        return [(0, max(length, 0))]
    size = math.ceil((length + overlap * (count - 1)) / count)
    return [(int(i * (size - overlap)), min(int(i * (size - overlap)) + size, length)) for i in range(count)]


def count_for_size(length: int, size: int, overlap: int) -> int:
    """How many spans of about ``size`` (overlapping by ``overlap``) cover ``length``."""
    if length <= size:
        return 1
    return math.ceil((length - overlap) / max(size - overlap, 1))


def grid(box: tuple[int, int, int, int], count_x: int, count_y: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles ``[x0, y0, x1, y1]`` of ``box`` (integer pixels), row by row."""
    x0, y0, x1, y1 = box
    return [
        (x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1)
        for sy0, sy1 in spans(y1 - y0, count_y, overlap)
        for sx0, sx1 in spans(x1 - x0, count_x, overlap)
    ]


def amg_crop_boxes(height: int, width: int, n_layers: int, overlap_ratio: float) -> list[tuple[tuple[int, int, int, int], int]]:
    """The full frame (layer 0) plus layer i's 2**i x 2**i crops, with their layer index."""
    crops = [((0, 0, width, height), 0)]
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * min(height, width) * 2 / per_side)
        crops += [(tile, layer) for tile in grid((0, 0, width, height), per_side, per_side, overlap)]
    return crops

"""A cheap appearance descriptor for re-identification: the hue-saturation histogram of a mask.

Hue and saturation change little under the lighting drift a robot camera sees, unlike brightness,
and a 2-D histogram of the masked pixels costs one ``cv2.calcHist`` call. It cannot tell
look-alikes apart; re-identification adds position and motion for that (see gallery.py).
"""

from __future__ import annotations

import cv2
import numpy as np


def color_histogram(image: np.ndarray, mask: np.ndarray, bins: int = 8) -> np.ndarray | None:
    """L1-normalised ``bins x bins`` hue-saturation histogram of ``image`` under ``mask``.

    ``image`` is RGB uint8 ``(H, W, 3)``, ``mask`` bool ``(H, W)``; returns ``None`` for an empty mask.
    """
    return hs_histogram(to_hsv(image), mask, bins)


def to_hsv(image: np.ndarray) -> np.ndarray:
    """RGB uint8 to OpenCV's HSV (hue 0..179): convert a frame once, then histogram many masks on it."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)


def hs_histogram(hsv: np.ndarray, mask: np.ndarray, bins: int = 8) -> np.ndarray | None:
    """``color_histogram`` on an image already in HSV (any crop of it, with the same-sized mask)."""
    if hsv.shape[:2] != mask.shape:
        raise ValueError(f"image {hsv.shape[:2]} and mask {mask.shape} differ in size")
    if not mask.any():
        return None
    hist = cv2.calcHist([np.ascontiguousarray(hsv)], [0, 1], np.ascontiguousarray(mask, dtype=np.uint8),
                        [bins, bins], [0, 180, 0, 256])
    hist = hist.astype(np.float32).ravel()
    total = float(hist.sum())
    return hist / total if total > 0 else None


def histogram_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance in [0, 1] (0 = identical); 1 when either side is unknown."""
    if a is None or b is None:
        return 1.0
    return float(np.clip(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def blend(old: np.ndarray | None, new: np.ndarray | None, momentum: float) -> np.ndarray | None:
    """Running average of descriptors (``momentum`` weight on the old one)."""
    if old is None:
        return new
    if new is None:
        return old
    mixed = momentum * old + (1.0 - momentum) * new
    return (mixed / max(float(mixed.sum()), 1e-12)).astype(np.float32)

"""Robust per-object motion from dense flow: a rigid transform (shift and rotation) fitted to
the flow vectors inside an object by iteratively reweighted least squares. Scale is left out:
flow inside small objects is pulled towards the still background at their borders, which a
free scale would read as shrinking.

Deterministic on purpose (OpenCV's RANSAC draws from a global RNG), so the same frames always
give the same tracks.
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_MIN_POINTS = 6
_ITERATIONS = 3
_MIN_SCALE_PX = 0.5  # residual scale floor, so sub-pixel-perfect fits keep their inliers


def fit_rigid(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float] | None:
    """2x3 rigid transform mapping ``src`` (N, 2) onto ``dst`` and its inlier fraction; None if too few points."""
    if len(src) < _MIN_POINTS:
        return None
    inliers = np.ones(len(src), bool)
    matrix = IDENTITY.copy()
    for _ in range(_ITERATIONS):
        if inliers.sum() < _MIN_POINTS:
            break
        matrix = _rigid_least_squares(src[inliers], dst[inliers])
        error = src @ matrix[:, :2].T + matrix[:, 2] - dst
        residual = np.sqrt(error[:, 0] ** 2 + error[:, 1] ** 2)
        # mean absolute residual of the inliers (x1.25 ~ a Gaussian's std): cheaper than a median
        scale = max(1.25 * float(residual[inliers].sum()) / float(inliers.sum()), _MIN_SCALE_PX)
        inliers = residual < 2.5 * scale
    return matrix, float(inliers.mean())


def _rigid_least_squares(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Closed-form 2-D Procrustes: the rotation and shift minimising the squared distances."""
    src_mean, dst_mean = src.sum(axis=0) / len(src), dst.sum(axis=0) / len(dst)
    a, b = src - src_mean, dst - dst_mean
    angle = np.arctan2(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), np.sum(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]))
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    return np.concatenate([rotation, (dst_mean - rotation @ src_mean)[:, None]], axis=1)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer o inner``."""
    return outer[:, :2] @ inner + np.array([[0.0, 0.0, outer[0, 2]], [0.0, 0.0, outer[1, 2]]])


def invert(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def damp(motion: np.ndarray, factor: float) -> np.ndarray:
    """Blend ``motion`` towards the identity (coasting objects slow down)."""
    return IDENTITY + factor * (motion - IDENTITY)

"""The check every consumer of camera frames makes first: an RGB uint8 ``(H, W, 3)`` numpy array.

One place, so the engine, the detectors, FLASH and the fallback refuse a bad frame with the same
words; each passes the error type its callers catch.
"""

from __future__ import annotations

import numpy as np


def check_rgb(image: object, error: type[Exception] = ValueError, min_side: int = 2) -> np.ndarray:
    """``image`` if it is an RGB uint8 ``(H, W, 3)`` array at least ``min_side`` pixels a side;
    otherwise ``error`` naming what was given and how to convert it."""
    if not isinstance(image, np.ndarray):
        raise error(f"image must be a numpy array (RGB uint8, H x W x 3), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise error(f"image must have shape (H, W, 3) of RGB uint8, got {image.shape}; convert grey/BGRA frames first")
    if image.dtype != np.uint8:
        raise error(f"image must be uint8 (RGB uint8, 0..255), got dtype {image.dtype}; scale float images to 0..255 and cast")
    if image.shape[0] < min_side or image.shape[1] < min_side:
        raise error(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small (at least {min_side} a side)")
    return image

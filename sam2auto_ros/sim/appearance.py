"""What simulated objects look like: a few named classes, each with its own shape and texture.

Textures carry fine detail on purpose: the weight-free optical-flow backend (and any real
tracker) needs gradients inside an object to follow it. Look-alikes are two objects that share
one ``Appearance`` (same class, colours, texture and size), so only motion tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASS_NAMES: tuple[str, ...] = ("ball", "box", "bottle", "cone", "ring")
"""The simulator's object classes; ``class_id`` is the index in this tuple."""


@dataclass(frozen=True)
class Appearance:
    """One object's look, fixed for the whole scene: a textured RGB sprite and its binary shape."""

    label: str
    rgb: np.ndarray  # float32 (h, w, 3) in [0, 255]
    alpha: np.ndarray  # uint8 (h, w), 1 inside the shape

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]


def _shape(label: str, side: int) -> np.ndarray:
    """Binary silhouette of a class on a ``side x side`` canvas."""
    canvas = np.zeros((side, side), np.uint8)
    c = side // 2
    if label == "ball":
        cv2.circle(canvas, (c, c), side // 2 - 1, 1, -1)
    elif label == "box":
        cv2.rectangle(canvas, (1, side // 8), (side - 2, side - 2 - side // 8), 1, -1)
    elif label == "bottle":
        body_w, neck_w = side * 2 // 5, side // 6
        cv2.rectangle(canvas, (c - body_w // 2, side // 3), (c + body_w // 2, side - 2), 1, -1)
        cv2.rectangle(canvas, (c - neck_w // 2, 1), (c + neck_w // 2, side // 3), 1, -1)
    elif label == "cone":
        pts = np.array([[c, 1], [side - 2, side - 2], [1, side - 2]], np.int32)
        cv2.fillPoly(canvas, [pts], 1)
    elif label == "ring":
        cv2.circle(canvas, (c, c), side // 2 - 1, 1, -1)
        cv2.circle(canvas, (c, c), max(side // 4 - 1, 1), 0, -1)
    else:
        raise ValueError(f"unknown sim class {label!r}; known: {', '.join(CLASS_NAMES)}")
    return canvas


def _pattern(label: str, side: int) -> np.ndarray:
    """Class-specific two-tone pattern in [0, 1], so classes differ by texture as well as shape."""
    yy, xx = np.mgrid[:side, :side].astype(np.float32)
    period = max(side / 5.0, 3.0)
    c = side / 2.0
    if label == "ball":
        field = np.hypot(xx - c, yy - c) / period * 2
    elif label == "box":
        field = (np.floor(xx / period) + np.floor(yy / period)) % 2
        return field.astype(np.float32)
    elif label == "bottle":
        field = yy / period * 1.5
    elif label == "cone":
        field = (xx + yy) / period
    else:  # ring: angular segments
        field = (np.arctan2(yy - c, xx - c) + np.pi) / (2 * np.pi) * 8
    return (np.floor(field) % 2).astype(np.float32)


def make_appearance(label: str, side: int, rng: np.random.Generator) -> Appearance:
    """A new textured sprite of class ``label`` about ``side`` pixels across."""
    side = max(int(side), 8)
    alpha = _shape(label, side)
    hue = rng.uniform(0, 180, size=2)
    hsv = np.stack([hue, rng.uniform(150, 255, 2), rng.uniform(120, 255, 2)], axis=1).astype(np.uint8)
    colors = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    pattern = _pattern(label, side)[..., None]
    rgb = colors[0] * (1 - pattern) + colors[1] * pattern
    detail = cv2.GaussianBlur(rng.normal(0, 1, (side, side)).astype(np.float32), (0, 0), 1.2)
    rgb += detail[..., None] * (35.0 / max(float(detail.std()), 1e-6))
    return Appearance(label, np.clip(rgb, 0, 255).astype(np.float32), alpha)


def make_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A muted, textured backdrop (uint8 RGB) so camera motion and flow have something to see."""
    base = rng.uniform(60, 140, size=3).astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = base
    for sigma, amplitude in ((max(height, width) / 12, 25.0), (3.0, 10.0)):
        noise = np.asarray(cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), sigma), np.float32)
        noise *= amplitude / max(float(noise.std()), 1e-6)
        image += noise[..., None] * rng.uniform(0.6, 1.0, size=3).astype(np.float32)
    ramp = np.linspace(-15, 15, width, dtype=np.float32)[None, :, None]
    return np.clip(image + ramp, 0, 255).astype(np.uint8)

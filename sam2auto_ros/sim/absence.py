"""Paths for the ``absence`` layout: objects leave the view for many seconds and come back.

Each object cycles through four phases: *in view* (a bounded random walk), *leaving* (heading
straight out across a chosen edge), *away* (parked out of view for a drawn number of seconds)
and *returning* (entering from the same edge or, with probability ``other_edge``, another one).
Positions are image pixels of the un-shaken camera, as for the other layouts.
"""

from __future__ import annotations

import numpy as np

_EDGES = ("left", "right", "top", "bottom")


def absence_paths(
    n_frames: int,
    size: tuple[int, int],
    radius: np.ndarray,
    speed: float,
    fps: float,
    away_s: tuple[float, float],
    rng: np.random.Generator,
    in_view_s: tuple[float, float] = (3.0, 8.0),
    other_edge: float = 0.5,
) -> np.ndarray:
    """Centres ``(n_frames, len(radius), 2)``; ``speed`` in px/frame, durations in seconds."""
    height, width = size
    n = len(radius)
    out = np.empty((n_frames, n, 2))
    for i in range(n):
        r = float(radius[i])
        margin = r + 2.0
        pos = np.array([rng.uniform(r, max(width - r, r + 1)), rng.uniform(r, max(height - r, r + 1))])
        heading = rng.uniform(0, 2 * np.pi)
        vel = np.array([np.cos(heading), np.sin(heading)]) * speed * rng.uniform(0.7, 1.3)
        phase, left = "in", int(rng.uniform(0.2, 1.0) * rng.uniform(*in_view_s) * fps)
        edge = str(rng.choice(_EDGES))
        for t in range(n_frames):
            out[t, i] = pos
            if phase == "in":
                vel = vel + rng.normal(0, 0.1 * speed, 2)
                vel *= np.clip(np.linalg.norm(vel), 0.5 * speed, 1.5 * speed) / max(np.linalg.norm(vel), 1e-9)
                pos = pos + vel
                for axis, hi in ((0, width - r), (1, height - r)):
                    if pos[axis] < r or pos[axis] > hi:
                        pos[axis] = np.clip(pos[axis], r, max(hi, r))
                        vel[axis] *= -1
                left -= 1
                if left <= 0:
                    phase, edge = "leaving", str(rng.choice(_EDGES))
                    vel = _outward(edge) * speed * rng.uniform(0.8, 1.3)
            elif phase == "leaving":
                pos = pos + vel
                if _outside(pos, margin, width, height):
                    phase, left = "away", int(rng.uniform(*away_s) * fps)
            elif phase == "away":
                left -= 1
                if left <= 0:
                    if rng.random() < other_edge:
                        edge = str(rng.choice([e for e in _EDGES if e != edge]))
                    pos = _entry_point(edge, margin, width, height, rng)
                    vel = -_outward(edge) * speed * rng.uniform(0.8, 1.3)
                    phase = "returning"
            else:  # returning: straight in until fully inside, then wander again
                pos = pos + vel
                if r <= pos[0] <= width - r and r <= pos[1] <= height - r:
                    phase, left = "in", int(rng.uniform(*in_view_s) * fps)
    return out


def _outward(edge: str) -> np.ndarray:
    return {"left": np.array([-1.0, 0.0]), "right": np.array([1.0, 0.0]),
            "top": np.array([0.0, -1.0]), "bottom": np.array([0.0, 1.0])}[edge]


def _outside(pos: np.ndarray, margin: float, width: int, height: int) -> bool:
    return bool(pos[0] < -margin or pos[0] > width + margin or pos[1] < -margin or pos[1] > height + margin)


def _entry_point(edge: str, margin: float, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    along_x, along_y = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    return {"left": np.array([-margin, along_y]), "right": np.array([width + margin, along_y]),
            "top": np.array([along_x, -margin]), "bottom": np.array([along_x, height + margin])}[edge]

"""A driving robot's forward camera over a flat ground plane, for the ``ego`` scenes.

The robot drives (forward at a varying speed), turns (the whole view pans) and now and then
looks away and back (objects leave the view for seconds and return). Objects stand on the ground
at world positions in metres and walk slowly, so as the robot approaches they grow, and as it
turns they sweep across the view. A pinhole camera at ``CAMERA_HEIGHT`` above the ground,
looking level, projects them: an object of height ``s`` at depth ``z`` is ``focal * s / z``
pixels tall and stands on the image row ``horizon + focal * CAMERA_HEIGHT / z``.

The backdrop is far scenery on a cylinder (it pans with the yaw, never scales) above a textured
ground plane drawn with the exact ground-to-image homography, so the flow of the ground is the
flow a real forward camera sees. Everything is drawn from one seeded generator up front; a frame
is rendered on demand from the poses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2auto_ros.sim.appearance import make_background

CAMERA_HEIGHT = 0.9  # metres above the ground
FOCAL = 0.8  # focal length as a fraction of the image width (a ~64 degree horizontal field of view)
HORIZON = 0.35  # image row of the horizon, as a fraction of the height
NEAR = 0.4  # metres: nothing nearer than this is drawn
GROUND_FAR = 25.0  # metres: the ground plane is drawn up to this depth, far scenery above it
GROUND_RESOLUTION = 0.05  # metres per ground-texture pixel
GROUND_TEXTURE = 1024  # ground texture side in pixels (it repeats beyond)
SPEED_REFERENCE = 3.0  # an object's ``speed`` (px/frame at 256 px) is its image speed this far away
PLACE_DEPTH = (2.5, 8.0)  # metres ahead of the camera where an object is placed at its anchor frame
WORLD_SIZE = (0.35, 0.75)  # object heights in metres


@dataclass(frozen=True)
class Drive:
    """Camera pose per frame: ground position ``(x, z)`` in metres and yaw in radians
    (yaw 0 looks along +z; positive yaw turns right)."""

    x: np.ndarray
    z: np.ndarray
    yaw: np.ndarray

    def __len__(self) -> int:
        return len(self.yaw)


def drive(n_frames: int, speed: float, turn_deg: float, rng: np.random.Generator) -> Drive:
    """A robot's path: cruising, turning, slowing, and looking away then back, in random segments.

    ``speed`` is the cruise speed in metres per frame, ``turn_deg`` the largest yaw rate in
    degrees per frame. Speed and yaw rate follow their segment's targets smoothly (a robot does
    not jump), so motion blur and flow change gradually.
    """
    turn = math.radians(turn_deg)
    targets_v = np.empty(n_frames)
    targets_w = np.empty(n_frames)
    t = 0
    while t < n_frames:
        kind = rng.choice(("cruise", "turn", "slow", "look"), p=(0.35, 0.3, 0.1, 0.25))
        if kind == "look":  # turn away, hold, turn back: what was in view leaves it for seconds
            rate = turn * rng.uniform(0.7, 1.0) * rng.choice((-1.0, 1.0))
            sweep = int(rng.integers(20, 40))
            hold = int(rng.integers(60, 200))
            plan = [(speed * 0.5, rate, sweep), (speed * 0.5, 0.0, hold), (speed * 0.5, -rate, sweep)]
        else:
            length = int(rng.integers(30, 100))
            v = {"cruise": speed, "turn": speed * 0.7, "slow": speed * 0.15}[kind] * rng.uniform(0.8, 1.2)
            w = turn * rng.uniform(0.4, 1.0) * rng.choice((-1.0, 1.0)) if kind == "turn" else rng.normal(0, 0.05 * turn)
            plan = [(v, w, length)]
        for seg_v, seg_w, length in plan:
            targets_v[t : t + length] = seg_v
            targets_w[t : t + length] = seg_w
            t += length
    speeds = _smooth(targets_v, 0.9)
    rates = _smooth(targets_w, 0.85)
    yaw = np.concatenate(([0.0], np.cumsum(rates[:-1])))
    x = np.concatenate(([0.0], np.cumsum(speeds[:-1] * np.sin(yaw[:-1]))))
    z = np.concatenate(([0.0], np.cumsum(speeds[:-1] * np.cos(yaw[:-1]))))
    return Drive(x, z, yaw)


def _smooth(values: np.ndarray, keep: float) -> np.ndarray:
    out = np.empty_like(values)
    state = values[0]
    for i, value in enumerate(values):
        state = keep * state + (1.0 - keep) * value
        out[i] = state
    return out


@dataclass(frozen=True)
class Lens:
    """The pinhole camera in pixels for one frame size."""

    height: int
    width: int

    @property
    def focal(self) -> float:
        return FOCAL * self.width

    @property
    def cx(self) -> float:
        return self.width / 2.0

    @property
    def horizon(self) -> float:
        return HORIZON * self.height

    def to_camera(self, drive: Drive, index: int, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World ground points -> camera coordinates (right, forward) in metres on frame ``index``."""
        c, s = math.cos(drive.yaw[index]), math.sin(drive.yaw[index])
        dx, dz = x - drive.x[index], z - drive.z[index]
        return c * dx - s * dz, s * dx + c * dz

    def project(self, drive: Drive, index: int, x: np.ndarray, z: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objects of height ``size`` (m) standing at ``(x, z)``: image centres ``(N, 2)``, pixel
        height ``(N,)`` and depth ``(N,)`` (m; <= NEAR means not drawn)."""
        right, depth = self.to_camera(drive, index, x, z)
        safe = np.maximum(depth, 1e-6)
        u = self.cx + self.focal * right / safe
        v = self.horizon + self.focal * (CAMERA_HEIGHT - size / 2.0) / safe
        return np.stack([u, v], axis=1), self.focal * size / safe, depth


def place_objects(drive: Drive, lens: Lens, n: int, walk_speed: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ground positions ``(T, n)`` x and z of ``n`` walking objects, each placed in view ahead of
    the robot at a random anchor frame (so the scene keeps meeting new objects as it drives)."""
    n_frames = len(drive)
    half_fov = math.atan(lens.cx / lens.focal)
    anchors = rng.integers(0, n_frames, n)
    depth = rng.uniform(*PLACE_DEPTH, n)
    bearing = rng.uniform(-0.85, 0.85, n) * half_fov
    yaw = drive.yaw[anchors] + bearing
    ax = drive.x[anchors] + depth * np.sin(yaw)
    az = drive.z[anchors] + depth * np.cos(yaw)
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = walk_speed * rng.uniform(0.0, 1.5, n)
    vel = np.stack([np.cos(heading), np.sin(heading)], axis=1) * speed[:, None]
    steps = np.empty((n_frames, n, 2))
    for t in range(n_frames):
        steps[t] = vel
        vel = vel + rng.normal(0, 0.05 * walk_speed, (n, 2))
        norm = np.linalg.norm(vel, axis=1, keepdims=True)
        vel *= np.minimum(norm, 2.0 * walk_speed) / np.maximum(norm, 1e-12)
    path = np.concatenate([np.zeros((1, n, 2)), np.cumsum(steps[:-1], axis=0)])
    path -= path[anchors, np.arange(n)]  # each object is at its anchor point on its anchor frame
    return ax + path[..., 0], az + path[..., 1]


class Backdrop:
    """Far scenery on a cylinder above a textured ground plane; ``view`` renders one pose."""

    def __init__(self, lens: Lens, rng: np.random.Generator) -> None:
        self.lens = lens
        self._panorama = _seamless(make_background, lens.height, round(2 * math.pi * lens.focal), rng)
        self._ground = _seamless(make_background, GROUND_TEXTURE, GROUND_TEXTURE, rng, both_axes=True)
        first_row = math.ceil(lens.horizon + lens.focal * CAMERA_HEIGHT / GROUND_FAR)
        self._ground_row = min(max(first_row, 0), lens.height)

    def view(self, drive: Drive, index: int) -> np.ndarray:
        lens = self.lens
        h, w = lens.height, lens.width
        shift = drive.yaw[index] * lens.focal  # the cylinder pans by focal px per radian of yaw
        pan = np.array([[1.0, 0.0, shift - lens.cx], [0.0, 1.0, 0.0]])
        image = cv2.warpAffine(self._panorama, pan, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_WRAP)
        row = self._ground_row
        if row < h:
            homography = self._ground_homography(drive, index, row)
            image[row:] = cv2.warpPerspective(self._ground, homography, (w, h - row),
                                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_WRAP)
        return image

    def _ground_homography(self, drive: Drive, index: int, row: int) -> np.ndarray:
        """Image pixel ``(u, v + row)`` -> ground-texture pixel, as a 3x3 (for WARP_INVERSE_MAP).

        With ``q = v - horizon`` a ground point seen at ``(u, v)`` lies ``CAMERA_HEIGHT * focal / q``
        ahead and ``CAMERA_HEIGHT * (u - cx) / q`` to the right; rotated by the yaw and shifted by the
        camera position, then scaled to texture pixels. Every term is linear in ``(u, v, 1)`` once
        multiplied by ``q``, hence a homography.
        """
        lens, hc = self.lens, CAMERA_HEIGHT
        c, s = math.cos(drive.yaw[index]), math.sin(drive.yaw[index])
        x0, z0, f, cx, v0 = drive.x[index], drive.z[index], lens.focal, lens.cx, lens.horizon - row
        world = np.array([
            [hc * c, x0, -hc * c * cx + f * hc * s - x0 * v0],
            [-hc * s, z0, hc * s * cx + f * hc * c - z0 * v0],
            [0.0, 1.0, -v0],
        ])
        to_texture = np.array([[1 / GROUND_RESOLUTION, 0, 0], [0, -1 / GROUND_RESOLUTION, 0], [0, 0, 1.0]])
        return to_texture @ world


def _seamless(make, height: int, width: int, rng: np.random.Generator, both_axes: bool = False) -> np.ndarray:
    """A backdrop that wraps around (sideways, or both ways) without a seam: drawn larger, its
    overhang cross-faded into its start."""
    over_x, over_y = max(width // 8, 2), max(height // 8, 2) if both_axes else 0
    big = make(height + over_y, width + over_x, rng).astype(np.float32)
    fade = np.linspace(0.0, 1.0, over_x, dtype=np.float32)[None, :, None]
    big[:, :over_x] = big[:, width:] * (1 - fade) + big[:, :over_x] * fade
    big = big[:, :width]
    if over_y:
        fade = np.linspace(0.0, 1.0, over_y, dtype=np.float32)[:, None, None]
        big[:over_y] = big[height:] * (1 - fade) + big[:over_y] * fade
    return np.clip(big[:height], 0, 255).astype(np.uint8)


def motion_blur(image: np.ndarray, shift_px: float, exposure: float) -> np.ndarray:
    """Blur along the pan: a horizontal box of ``exposure * shift_px`` pixels (none under 1.5)."""
    length = round(abs(shift_px) * exposure)
    if length < 2:
        return image
    kernel = np.full((1, length), 1.0 / length, np.float32)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)

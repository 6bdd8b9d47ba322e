"""Deterministic synthetic video with per-pixel ground truth, for tests, demos and benchmarks.

A ``Scene`` is fully determined by its ``SceneConfig`` (seed included): trajectories, camera
motion and lighting are drawn once up front, and each frame is rendered on demand, so frame ``i``
is identical whether it is reached by iterating or by ``scene.frame(i)``. Objects are textured
sprites drawn back to front (nearer objects occlude farther ones); the id map records which
object owns each pixel after occlusion.

Two cameras: ``"shake"`` looks at a fixed view and shakes by up to ``jitter`` pixels (objects keep
one depth order); ``"ego"`` is a driving robot's forward camera (``sim.ego``): the view pans,
objects on the ground grow as the robot nears them, depth order follows distance, and fast turns
blur the frame. ``frame_step`` k makes the scene a view of every k-th frame of the world (a slow
tracker's view), each frame keeping its real stamp.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.sim import ego
from sam2auto_ros.sim.absence import absence_paths
from sam2auto_ros.sim.appearance import CLASS_NAMES, Appearance, make_appearance, make_background

LAYOUTS = ("random", "crossing", "occluder", "absence")
CAMERAS = ("shake", "ego")


@dataclass(frozen=True)
class SceneConfig:
    """Everything that defines a scene. Lengths in pixels are for a 256 px frame and scale with
    ``min(height, width) / 256``, so one config describes the same scene at any resolution. With
    the ``ego`` camera, sizes and speeds are what the camera sees of an object 3 m away."""

    seed: int = 0
    height: int = 256
    width: int = 256
    n_frames: int = 300
    n_objects: int = 5
    #: "random" (free motion), "crossing" (look-alike pairs on crossing paths), "occluder" (a large
    #: near box sweeping over the others), "absence" (objects leave the view for ``away_s`` seconds)
    layout: str = "random"
    #: groups of objects sharing one appearance (same class, texture, size): pairs by default
    lookalike_pairs: int = 1
    #: objects per look-alike group
    lookalike_size: int = 2
    #: fraction of objects whose motion takes them fully out of frame and back
    exit_fraction: float = 0.3
    #: object size as a fraction of ``min(height, width)``
    size_range: tuple[float, float] = (0.14, 0.24)
    speed: float = 2.0  # px/frame
    accel: float = 0.1  # std of the per-frame velocity change, px/frame^2
    rotation: float = 1.0  # max |rotation| in degrees per frame
    lighting: float = 0.0  # amplitude of the global brightness swing (0.3 = +-30 %)
    jitter: float = 0.0  # camera shake amplitude, px
    noise: float = 0.0  # pixel noise std, grey levels
    #: "shake" (a fixed view shaking by ``jitter``) or "ego" (a driving robot's camera, sim.ego)
    camera: str = "shake"
    ego_speed: float = 0.04  # ego: cruise speed, metres per frame (1.2 m/s at 30 fps)
    ego_turn: float = 1.5  # ego: largest yaw rate, degrees per frame
    #: ego: exposure as a fraction of the frame time; a pan of d px/frame blurs over d * this px
    motion_blur: float = 0.0
    #: absence layout: seconds an object stays out of view each time it leaves
    away_s: tuple[float, float] = (5.0, 15.0)
    #: the scene is every ``frame_step``-th frame of the world (stamps stay the world's)
    frame_step: int = 1
    #: objects with fewer visible pixels are left out of the ground-truth instances
    min_visible_area: int = 16
    fps: float = 30.0
    start_ns: int = 1_000_000_000
    classes: tuple[str, ...] = CLASS_NAMES

    def __post_init__(self) -> None:
        problems = []
        if self.height < 32 or self.width < 32:
            problems.append(f"frame {self.width}x{self.height} is smaller than 32x32")
        if self.n_frames < 1 or self.n_objects < 1:
            problems.append("n_frames and n_objects must be >= 1")
        if self.layout not in LAYOUTS:
            problems.append(f"layout {self.layout!r} is not one of {LAYOUTS}")
        needed = self.lookalike_size * self.lookalike_pairs + (self.layout == "occluder")
        if self.lookalike_pairs < 0 or self.lookalike_size < 2 or needed > self.n_objects:
            problems.append(f"{self.lookalike_pairs} look-alike groups of {self.lookalike_size} need n_objects >= {needed}"
                            " (and groups of at least 2)")
        if self.camera not in CAMERAS:
            problems.append(f"camera {self.camera!r} is not one of {CAMERAS}")
        if self.camera == "ego" and self.layout != "random":
            problems.append(f"the ego camera places objects on the ground itself: layout must be 'random', got {self.layout!r}")
        if not 0.0 <= self.motion_blur <= 1.0:
            problems.append("motion_blur must be in [0, 1]")
        if self.ego_speed < 0 or self.ego_turn < 0:
            problems.append("ego_speed and ego_turn must be >= 0")
        if not 0.0 < self.away_s[0] <= self.away_s[1]:
            problems.append(f"away_s {self.away_s} must satisfy 0 < lo <= hi")
        if self.frame_step < 1:
            problems.append("frame_step must be >= 1")
        if not 0.0 <= self.exit_fraction <= 1.0:
            problems.append("exit_fraction must be in [0, 1]")
        lo, hi = self.size_range
        if not 0.02 <= lo <= hi <= 0.8:
            problems.append(f"size_range {self.size_range} must satisfy 0.02 <= lo <= hi <= 0.8")
        if min(self.speed, self.accel, self.rotation, self.lighting, self.jitter, self.noise) < 0:
            problems.append("speed, accel, rotation, lighting, jitter and noise must be >= 0")
        if self.lighting >= 1.0:
            problems.append("lighting must be < 1 (a gain swing of 100 % would black out frames)")
        unknown = set(self.classes) - set(CLASS_NAMES)
        if not self.classes or unknown:
            problems.append(f"classes must be a non-empty subset of {CLASS_NAMES}, got {self.classes}")
        if self.fps <= 0:
            problems.append("fps must be > 0")
        if problems:
            raise ValueError("invalid SceneConfig: " + "; ".join(problems))


@dataclass(frozen=True)
class SimObject:
    """One ground-truth object: its id (1-based, 0 is background), class and draw depth."""

    gt_id: int
    label: str
    appearance_id: int  # look-alikes share one
    depth: int  # 0 is drawn last (nearest); the ego camera orders by distance instead


@dataclass(frozen=True)
class SimFrame:
    """One rendered frame and its truth.

    ``id_map`` holds the GT id owning each pixel (0 = background). ``visible_area[g]`` counts
    object ``g``'s visible pixels, ``unoccluded_area[g]`` the pixels it would cover inside the
    frame with nothing in front of it; both are indexed by GT id (index 0 unused). ``index`` is
    the frame's place in the scene, ``world_index`` in the world (they differ with ``frame_step``).
    """

    index: int
    stamp_ns: int
    image: np.ndarray
    gt: FrameInstances
    id_map: np.ndarray
    visible_area: np.ndarray
    unoccluded_area: np.ndarray = field(repr=False)
    world_index: int = 0


class Scene:
    """A seeded synthetic sequence; iterate ``frames()`` or index ``frame(i)``."""

    def __init__(self, config: SceneConfig) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        self._unit = min(config.height, config.width) / 256.0
        self._world_frames = (config.n_frames - 1) * config.frame_step + 1
        self._ego = config.camera == "ego"
        self._margin = 0 if self._ego else int(math.ceil(config.jitter * self._unit)) + 1
        self._lens = ego.Lens(config.height, config.width)
        if self._ego:
            self._backdrop = ego.Backdrop(self._lens, rng)
        else:
            self._background = make_background(config.height + 2 * self._margin, config.width + 2 * self._margin, rng)
        self.objects, self._appearances = self._make_objects(rng)
        if self._ego:
            self._drive, self._world_xz, self._world_size, self._angles = self._ego_world(rng)
            self._pan_rate = np.gradient(self._drive.yaw) * self._lens.focal if self._world_frames > 1 else np.zeros(1)
            self._camera = np.zeros((self._world_frames, 2), np.int64)
        else:
            self._positions, self._angles = self._trajectories(rng)
            self._camera = self._camera_path(rng)
        self._gain = self._lighting(rng)
        self._noise_bank = (
            rng.standard_normal((2 * config.height, config.width, 3), dtype=np.float32) * np.float32(config.noise)
            if config.noise > 0
            else None
        )
        # back-to-front drawing order (the shaking camera's objects keep theirs)
        self._draw_order = sorted(range(len(self.objects)), key=lambda i: -self.objects[i].depth)

    # -- construction -------------------------------------------------------------------------
    def _make_objects(self, rng: np.random.Generator) -> tuple[tuple[SimObject, ...], list[Appearance]]:
        cfg = self.config
        side = min(cfg.height, cfg.width)
        appearances: list[Appearance] = []
        appearance_of: list[int] = []
        pairs = cfg.n_objects // 2 if cfg.layout == "crossing" else cfg.lookalike_pairs
        group = 2 if cfg.layout == "crossing" else cfg.lookalike_size
        first = 1 if cfg.layout == "occluder" else 0  # the occluder has no twin
        for i in range(cfg.n_objects):
            if first <= i < first + group * pairs and (i - first) % group != 0:
                appearance_of.append(appearance_of[-1])
                continue
            if cfg.layout == "occluder" and i == 0:
                label, size = ("box" if "box" in cfg.classes else cfg.classes[0]), 0.5
            else:
                label, size = str(rng.choice(cfg.classes)), rng.uniform(*cfg.size_range)
            appearances.append(make_appearance(label, round(size * side), rng))
            appearance_of.append(len(appearances) - 1)
        depths = rng.permutation(cfg.n_objects)
        if cfg.layout == "occluder":  # the occluder is nearest
            depths = np.concatenate(([0], rng.permutation(np.arange(1, cfg.n_objects))))
        objects = tuple(
            SimObject(i + 1, appearances[a].label, a, int(d)) for i, (a, d) in enumerate(zip(appearance_of, depths))
        )
        return objects, [appearances[a] for a in appearance_of]

    def _trajectories(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Centre positions ``(T, N, 2)`` and angles ``(T, N)`` in world (un-shaken) pixels."""
        cfg = self.config
        n, w, h, u, n_frames = cfg.n_objects, cfg.width, cfg.height, self._unit, self._world_frames
        radius = np.array([max(a.size) / 2 for a in self._appearances])
        if cfg.layout == "absence":
            positions = absence_paths(n_frames, (h, w), radius, cfg.speed * u, cfg.fps, cfg.away_s, rng)
            omega = rng.uniform(-cfg.rotation, cfg.rotation, cfg.n_objects)
            angles = rng.uniform(0, 360, cfg.n_objects) + np.arange(n_frames)[:, None] * omega
            return positions, angles
        pos = np.empty((n, 2))
        vel = np.empty((n, 2))
        lo = np.stack([radius, radius], axis=1)
        hi = np.stack([w - radius, h - radius], axis=1)
        speed = cfg.speed * u
        if cfg.layout == "crossing":
            rows = (n + 1) // 2
            for i in range(n):
                row_y = h * (i // 2 + 1) / (rows + 1) + (0.015 * h if i % 2 else -0.015 * h)
                pos[i] = (0.2 * w, row_y) if i % 2 == 0 else (0.8 * w, row_y)
                vel[i] = (speed if i % 2 == 0 else -speed) * rng.uniform(0.8, 1.2), 0.0
        else:
            pos[:, 0] = rng.uniform(lo[:, 0], np.maximum(hi[:, 0], lo[:, 0] + 1))
            pos[:, 1] = rng.uniform(lo[:, 1], np.maximum(hi[:, 1], lo[:, 1] + 1))
            heading = rng.uniform(0, 2 * np.pi, n)
            vel = np.stack([np.cos(heading), np.sin(heading)], axis=1) * speed * rng.uniform(0.6, 1.4, (n, 1))
            leavers = rng.permutation(n)[: int(round(cfg.exit_fraction * n))]
            if cfg.layout == "occluder":
                pos[0] = (radius[0], h / 2)
                vel[0] = (1.3 * speed, 0.0)
                pos[1:, 1] = rng.uniform(0.38 * h, 0.62 * h, n - 1)
                vel[1:] *= 0.4
                leavers = np.array([0])
            for i in leavers:  # bounce beyond the frame: fully out for a while, then back
                extra = radius[i] + rng.uniform(0.05, 0.3) * min(w, h)
                lo[i] = (-extra, -extra)
                hi[i] = (w + extra, h + extra)
        angle = rng.uniform(0, 360, n)
        omega = rng.uniform(-cfg.rotation, cfg.rotation, n)
        accel = np.full((n, 1), cfg.accel * u * (0.2 if cfg.layout == "crossing" else 1.0))
        if cfg.layout == "occluder":
            accel[0] = 0.0  # the occluder sweeps straight across
        keep_row = cfg.layout != "random"  # damp vertical drift so paths keep meeting
        positions = np.empty((n_frames, n, 2))
        angles = np.empty((n_frames, n))
        for t in range(n_frames):
            positions[t], angles[t] = pos, angle
            vel += rng.normal(0, 1, (n, 2)) * accel
            if keep_row:
                vel[:, 1] *= 0.9
            norm = np.linalg.norm(vel, axis=1, keepdims=True)
            vel *= np.clip(norm, 0.3 * speed, 2.0 * speed) / np.maximum(norm, 1e-9)
            pos = pos + vel
            for axis in (0, 1):
                below, above = pos[:, axis] < lo[:, axis], pos[:, axis] > hi[:, axis]
                pos[below, axis] = 2 * lo[below, axis] - pos[below, axis]
                pos[above, axis] = 2 * hi[above, axis] - pos[above, axis]
                vel[below | above, axis] *= -1
            angle = angle + omega
        return positions, angles

    def _camera_path(self, rng: np.random.Generator) -> np.ndarray:
        """Integer camera offsets ``(T, 2)``: a smooth random shake within +-jitter."""
        limit = self._margin - 1
        offsets = np.zeros((self._world_frames, 2), np.int64)
        if limit == 0:
            return offsets
        state = np.zeros(2)
        for t in range(self._world_frames):
            state = 0.7 * state + rng.normal(0, 0.5 * limit, 2)
            state = np.clip(state, -limit, limit)
            offsets[t] = np.round(state)
        return offsets

    def _ego_world(self, rng: np.random.Generator) -> tuple[ego.Drive, np.ndarray, np.ndarray, np.ndarray]:
        """The robot's drive, the objects' ground positions ``(T, N, 2)`` and heights (m), and
        their image-plane angles ``(T, N)`` (upright, tilted and swaying as much as ``rotation`` says)."""
        cfg, lens = self.config, self._lens
        drive = ego.drive(self._world_frames, cfg.ego_speed, cfg.ego_turn, rng)
        metres_per_px = ego.SPEED_REFERENCE / lens.focal  # at the reference distance
        walk = cfg.speed * self._unit * metres_per_px
        x, z = ego.place_objects(drive, lens, cfg.n_objects, walk, rng)
        heights = np.array([a.size[1] for a in self._appearances]) * metres_per_px
        sway = rng.uniform(-cfg.rotation, cfg.rotation, cfg.n_objects)
        t = np.arange(self._world_frames)[:, None]
        angles = rng.uniform(-10, 10, cfg.n_objects) * cfg.rotation + 8 * np.sin(t * sway / 8)
        return drive, np.stack([x, z], axis=2), heights, angles

    def _lighting(self, rng: np.random.Generator) -> np.ndarray:
        period = rng.uniform(60, 150)
        phase = rng.uniform(0, 2 * np.pi)
        t = np.arange(self._world_frames)
        return 1.0 + self.config.lighting * np.sin(2 * np.pi * t / period + phase)

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.config.n_frames

    @property
    def labels(self) -> dict[int, str]:
        return {o.gt_id: o.label for o in self.objects}

    def frames(self) -> Iterator[SimFrame]:
        for index in range(self.config.n_frames):
            yield self.frame(index)

    @property
    def drive(self) -> ego.Drive | None:
        """The ego camera's pose per world frame (None for the shaking camera)."""
        return self._drive if self._ego else None

    @property
    def lens(self) -> ego.Lens:
        return self._lens

    def world_state(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Ego scenes: the objects' ground positions ``(N, 2)`` (x, z in m) and heights ``(N,)`` on frame ``index``."""
        if not self._ego:
            raise ValueError("world_state is defined for the ego camera only")
        return self._world_xz[self._world(index)], self._world_size

    def _world(self, index: int) -> int:
        if not 0 <= index < self.config.n_frames:
            raise IndexError(f"frame {index} outside scene of {self.config.n_frames} frames")
        return index * self.config.frame_step

    def background(self, index: int) -> np.ndarray:
        """The empty backdrop as frame ``index``'s camera sees it, before blur, lighting and noise."""
        world = self._world(index)
        if self._ego:
            return self._backdrop.view(self._drive, world)
        h, w, m = self.config.height, self.config.width, self._margin
        ox, oy = self._camera[world]
        return self._background[m + oy : m + oy + h, m + ox : m + ox + w]

    def _placements(self, world: int) -> list[tuple[int, np.ndarray, float, float]]:
        """``(object, centre, angle, scale)`` for frame ``world``, in drawing order (far to near)."""
        if not self._ego:
            ox, oy = self._camera[world]
            return [(i, self._positions[world, i] - (ox, oy), self._angles[world, i], 1.0) for i in self._draw_order]
        xz = self._world_xz[world]
        centres, heights, depth = self._lens.project(self._drive, world, xz[:, 0], xz[:, 1], self._world_size)
        order = [i for i in np.argsort(-depth, kind="stable") if depth[i] > ego.NEAR]
        return [(int(i), centres[i], self._angles[world, i], heights[i] / self._appearances[i].size[1]) for i in order]

    def frame(self, index: int) -> SimFrame:
        """Render frame ``index`` (0-based) with its ground truth."""
        cfg = self.config
        world = self._world(index)
        h, w = cfg.height, cfg.width
        image = self.background(index).astype(np.float32)
        id_map = np.zeros((h, w), np.int32)
        unoccluded = np.zeros(len(self.objects) + 1, np.int64)
        for i, centre, angle, scale in self._placements(world):
            unoccluded[i + 1] = self._draw(image, id_map, i, centre, angle, scale)
        if self._ego and cfg.motion_blur > 0:
            image = ego.motion_blur(image, float(self._pan_rate[world]), cfg.motion_blur)
        image *= self._gain[world]
        if cfg.noise > 0:  # a shifted window of one pre-drawn noise bank: fresh-looking, cheap
            shift = (world * 7919) % cfg.height
            image += self._noise_bank[shift : shift + h]
        image = np.clip(image, 0, 255).astype(np.uint8)
        visible = np.bincount(id_map.ravel(), minlength=len(self.objects) + 1)
        stamp = cfg.start_ns + int(round(world * 1e9 / cfg.fps))
        id_columns = np.ascontiguousarray(id_map.T)  # masks taken from it are column-major, as RLE wants
        instances = tuple(
            Instance.from_mask_array(
                (id_columns == o.gt_id).T,
                label=o.label,
                score=1.0,
                track_id=o.gt_id,
                class_id=CLASS_NAMES.index(o.label),
                status=InstanceStatus.CONFIRMED,
            )
            for o in self.objects
            if visible[o.gt_id] >= cfg.min_visible_area
        )
        gt = FrameInstances(stamp, h, w, instances, frame_id="sim", frame_index=index)
        return SimFrame(index, stamp, image, gt, id_map, visible, unoccluded, world)

    def _draw(self, image: np.ndarray, id_map: np.ndarray, i: int, centre: np.ndarray, angle: float, scale: float) -> int:
        """Paint object ``i`` over what is there; returns its pixel count inside the frame."""
        sprite = self._appearances[i]
        sw, sh = sprite.size
        matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), float(angle), float(scale))
        matrix[:, 2] += (centre[0] - sw / 2, centre[1] - sh / 2)
        corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ matrix.T
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
        if x1 <= x0 or y1 <= y0:
            return 0
        matrix[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        alpha = cv2.warpAffine(sprite.alpha, matrix, size, flags=cv2.INTER_NEAREST) > 0
        rgb = cv2.warpAffine(sprite.rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        image[y0:y1, x0:x1][alpha] = rgb[alpha]
        id_map[y0:y1, x0:x1][alpha] = self.objects[i].gt_id
        return int(alpha.sum())

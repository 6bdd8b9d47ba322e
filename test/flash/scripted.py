"""Test doubles for FLASH's logic tests: a scripted Propagator and tiny constructed scenes.

``OverlapPropagator`` is a small test double of the Propagator *interface* (not a stand-in for a
real backend): it is handed the ground-truth id map of every frame up front and, each step, moves
every object onto the ground-truth region that overlaps its previous mask most. That is how a mask
propagator behaves, including its failure: when an object is hidden, its mask jumps onto the
occluder. ``drift_px`` shifts every propagated mask sideways per frame to imitate drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sam2auto_ros.core.instance import Instance
from sam2auto_ros.core.predicted_masks import BoxedMask
from sam2auto_ros.core.propagation import ObjectPrediction, PropagationError, Prompt


class OverlapPropagator:
    name = "scripted-overlap"

    def __init__(self, id_maps: list[np.ndarray], ring: int = 16, drift_px: int = 0) -> None:
        self._maps = id_maps
        self._ring = ring
        self._drift = drift_px
        self.reset()

    def reset(self) -> None:
        self._index = -1
        self._history: dict[int, dict[int, np.ndarray]] = {}  # frame -> obj -> mask
        self._offset: dict[int, int] = {}  # accumulated drift per object
        self.add_calls: list[tuple[int, int]] = []  # (obj_id, frame_index)

    @property
    def frame_index(self) -> int:
        return self._index

    @property
    def oldest_promptable_frame(self) -> int:
        return max(0, self._index - self._ring + 1)

    @property
    def object_ids(self) -> list[int]:
        return sorted(self._history.get(self._index, {}))

    def _follow(self, prev: np.ndarray, frame: int, obj_id: int) -> np.ndarray:
        ids = self._maps[frame]
        offset = self._offset.get(obj_id, 0)
        prev = np.roll(prev, -offset, axis=1)
        if not prev.any():
            return np.zeros_like(prev)
        values, counts = np.unique(ids[prev], return_counts=True)
        keep = values != 0
        if not keep.any():
            return np.zeros_like(prev)
        target = values[keep][np.argmax(counts[keep])]
        self._offset[obj_id] = offset + self._drift
        return np.roll(ids == target, self._offset[obj_id], axis=1)

    def _prediction(self, obj_id: int, frame: int) -> ObjectPrediction:
        mask = self._history[frame][obj_id]
        return ObjectPrediction(obj_id, frame, BoxedMask.from_array(mask), 1.0 if mask.any() else -1.0, 0.9)

    def step(self, image: np.ndarray) -> dict[int, ObjectPrediction]:
        prev = self._history.get(self._index, {})
        self._index += 1
        self._history[self._index] = {oid: self._follow(m, self._index, oid) for oid, m in prev.items()}
        self._history.pop(self._index - self._ring, None)
        return {oid: self._prediction(oid, self._index) for oid in self._history[self._index]}

    def add_object(self, obj_id: int, prompt: Prompt, frame_index: int | None = None) -> ObjectPrediction:
        frame = self._index if frame_index is None else frame_index
        if frame < self.oldest_promptable_frame or frame > self._index:
            raise PropagationError(f"frame {frame} is outside the ring")
        if prompt.mask is None:
            raise PropagationError("this double takes mask prompts only")
        self.add_calls.append((obj_id, frame))
        ids = self._maps[frame]
        values, counts = np.unique(ids[prompt.mask], return_counts=True)
        keep = values != 0
        mask = ids == values[keep][np.argmax(counts[keep])] if keep.any() else np.zeros_like(prompt.mask)
        self._history[frame][obj_id] = mask
        self._offset[obj_id] = 0
        for f in range(frame + 1, self._index + 1):
            self._history[f][obj_id] = self._follow(self._history[f - 1][obj_id], f, obj_id)
        return self._prediction(obj_id, self._index)

    def remove_object(self, obj_id: int) -> None:
        if obj_id not in self._history.get(self._index, {}):
            raise PropagationError(f"unknown object {obj_id}")
        for masks in self._history.values():
            masks.pop(obj_id, None)


@dataclass
class Disc:
    """A disc object: ``path(frame) -> (cx, cy)`` or None when absent; drawn in ``color``."""

    gt_id: int
    path: object
    radius: int = 12
    color: tuple[int, int, int] = (200, 40, 40)
    label: str = "thing"


@dataclass
class Scene:
    id_maps: list[np.ndarray]
    images: list[np.ndarray]
    stamps: list[int] = field(default_factory=list)

    def detections(self, frame: int, label_of: dict[int, str] | None = None, score: float = 0.9) -> list[Instance]:
        ids = self.id_maps[frame]
        out = []
        for gid in np.unique(ids):
            if gid == 0:
                continue
            label = (label_of or {}).get(int(gid), "thing")
            out.append(Instance.from_mask_array(ids == gid, label=label, score=score))
        return out

    def mask(self, frame: int, gt_id: int) -> np.ndarray:
        return self.id_maps[frame] == gt_id


def render(objects: list[Disc], n_frames: int, size: tuple[int, int] = (96, 128), seed: int = 0) -> Scene:
    """Paint discs in list order (later ones in front) on a noisy grey background."""
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width]
    maps, images = [], []
    for f in range(n_frames):
        ids = np.zeros(size, dtype=np.int32)
        image = np.clip(120 + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)
        for obj in objects:
            center = obj.path(f)
            if center is None:
                continue
            disc = (xx - center[0]) ** 2 + (yy - center[1]) ** 2 <= obj.radius**2
            ids[disc] = obj.gt_id
            image[disc] = obj.color
        maps.append(ids)
        images.append(image)
    return Scene(maps, images, [1_000_000 + 33_000_000 * f for f in range(n_frames)])

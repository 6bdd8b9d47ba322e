"""Lost tracks kept for re-identification, and the cost of giving one back its old id.

An object that leaves the view, or stays occluded beyond the patience, is taken out of the
propagator (its memory costs compute every frame) but remembered here: label votes, colour
histogram, last mask, last position and velocity. A new confident detection that fits an entry
gets the old id. The gallery is bounded in size and age, so it never grows on long streams.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sam2auto_ros.flash.appearance import histogram_distance
from sam2auto_ros.flash.track import Track

UNMATCHABLE = 1e6


@dataclass
class LostTrack:
    track: Track
    lost_frame: int
    reason: str


class Gallery:
    """Insertion-ordered store of lost tracks, oldest dropped first beyond ``capacity``."""

    def __init__(self, capacity: int, max_age: int) -> None:
        self._entries: OrderedDict[int, LostTrack] = OrderedDict()
        self._capacity = capacity
        self._max_age = max_age

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._entries

    def add(self, track: Track, frame_index: int, reason: str) -> None:
        if self._capacity == 0:
            return
        self._entries.pop(track.track_id, None)
        self._entries[track.track_id] = LostTrack(track, frame_index, reason)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def expire(self, frame_index: int) -> int:
        """Forget entries lost more than ``max_age`` frames ago; returns how many."""
        old = [tid for tid, e in self._entries.items() if frame_index - e.lost_frame > self._max_age]
        for tid in old:
            del self._entries[tid]
        return len(old)

    def pop(self, track_id: int) -> LostTrack:
        return self._entries.pop(track_id)

    def entries(self) -> list[LostTrack]:
        return list(self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


def reid_cost(
    candidates: Sequence[Track],
    boxes: np.ndarray,
    labels: Sequence[str],
    descriptors: Sequence[np.ndarray | None],
    frame_index: int,
    image_size: tuple[int, int],
    *,
    appearance_weight: float,
    motion_weight: float,
    max_appearance: float,
    motion_horizon: int,
    motion_radius: float,
) -> np.ndarray:
    """Cost ``(len(boxes), len(candidates))`` of giving detection i the identity of candidate j.

    cost = appearance_weight * Bhattacharyya distance + motion_weight * min(1, d / (radius * diag)),
    with d the distance from the candidate's extrapolated (and clipped-to-image) centre; the radius
    widens with the frames the candidate has been unseen (it may have gone anywhere). Pairs with
    different non-empty labels, or an appearance distance above ``max_appearance``, are unmatchable.
    """
    height, width = image_size
    diag = float(np.hypot(height, width))
    cost = np.full((len(boxes), len(candidates)), UNMATCHABLE, dtype=np.float64)
    centers = (np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[:, :2] + np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[:, 2:]) / 2
    for j, cand in enumerate(candidates):
        predicted = cand.predicted_center(frame_index, motion_horizon)
        if predicted is not None:
            predicted = np.clip(predicted, [0.0, 0.0], [width, height])
        cand_label = cand.votes.label
        unseen = max(frame_index - cand.last_visible_frame, 0)
        radius = max(motion_radius * diag * (1.0 + unseen / max(motion_horizon, 1)), 1e-9)
        for i in range(len(boxes)):
            if labels[i] and cand_label and labels[i] != cand_label:
                continue
            app = histogram_distance(descriptors[i], cand.descriptor)
            if app > max_appearance:
                continue
            motion = 1.0 if predicted is None else min(1.0, float(np.linalg.norm(centers[i] - predicted)) / radius)
            cost[i, j] = appearance_weight * app + motion_weight * motion
    return cost

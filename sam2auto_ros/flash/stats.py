"""Counters FLASH publishes on its status topic; cumulative over the tracker's life."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FlashStats:
    """What happened so far. ``live_*`` and ``gallery_size`` are the state after the last call."""

    frames: int = 0
    detection_batches: int = 0
    detections_received: int = 0
    detections_matched: int = 0
    admitted: int = 0
    confirmed: int = 0
    reidentified: int = 0
    recovered_from_occlusion: int = 0
    reconditioned: int = 0
    collapsed: int = 0
    """Track-frames whose propagated mask was a scrap of the object (``collapse_ratio``): occluded."""
    died_tentative: int = 0
    lost: int = 0
    evicted: int = 0
    duplicates_suppressed: int = 0
    duplicate_tracks_removed: int = 0
    rejected_low_score: int = 0
    rejected_small: int = 0
    rejected_covered: int = 0
    rejected_at_capacity: int = 0
    rejected_batches: Counter = field(default_factory=Counter)
    """Detection batches refused whole, by reason: ``no_frames``, ``future``, ``too_old``, ``unknown_stamp``."""
    live_tracks: int = 0
    live_confirmed: int = 0
    live_tentative: int = 0
    live_occluded: int = 0
    gallery_size: int = 0
    propagation_seconds: float = 0.0
    """Wall time spent inside the propagator (step and add_object)."""
    identity_seconds: float = 0.0
    """Wall time FLASH spent around it: association, life cycle, re-id, output."""

    @property
    def rejected_late_detections(self) -> int:
        return sum(self.rejected_batches.values())

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rejected_batches"] = dict(self.rejected_batches)
        out["rejected_late_detections"] = self.rejected_late_detections
        return out

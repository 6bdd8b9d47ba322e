"""The state FLASH keeps per track: life-cycle counters, label votes, appearance and motion."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sam2auto_ros.core.instance import InstanceStatus
from sam2auto_ros.core.masks import RleMask, mask_iou_matrix
from sam2auto_ros.flash.voting import LabelVotes

_VELOCITY_MOMENTUM = 0.7  # smoothing of the per-frame box-centre velocity


@dataclass
class Track:
    """One identity. ``confirmed`` is sticky; OCCLUDED (confirmed, not visible) comes from the propagator."""

    track_id: int
    born_frame: int
    votes: LabelVotes
    confirmed: bool = False
    hits: int = 0
    misses: int = 0
    keepalive: int = 0
    score: float = 0.0
    last_matched_frame: int = -1
    last_recondition_frame: int = -1_000_000
    visible: bool = True
    invisible_frames: int = 0
    last_visible_frame: int = -1
    last_mask: RleMask | None = None
    last_center: np.ndarray | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float64))
    descriptor: np.ndarray | None = None
    descriptor_frame: int = -1_000_000
    """Frame of the last appearance refresh (see ``FlashConfig.appearance_interval``)."""
    _continuity_pair: tuple | None = field(default=None, repr=False)
    reference_matches: int = 10
    """How many recent matched detection areas ``reference_area`` looks back over."""
    matched_areas: deque = field(default_factory=deque, repr=False)
    _before: tuple | None = None

    def __post_init__(self) -> None:
        self.matched_areas = deque(self.matched_areas, maxlen=self.reference_matches)

    @property
    def reference_area(self) -> int:
        """The object's full size as the detector last saw it (0 before any match)."""
        return max(self.matched_areas, default=0)

    def collapsed(self, area: int, ratio: float) -> bool:
        """True when a propagated mask of ``area`` pixels is only a scrap of the object."""
        return area < ratio * self.reference_area

    @property
    def status(self) -> InstanceStatus:
        if not self.confirmed:
            return InstanceStatus.TENTATIVE
        return InstanceStatus.CONFIRMED if self.visible else InstanceStatus.OCCLUDED

    @property
    def continuity(self) -> float:
        """IoU of the newest observed mask with the one before: low when the propagator jumped
        objects. Computed on demand (only a duplicate-track decision needs it)."""
        if self._continuity_pair is None:
            return 1.0
        new, old = self._continuity_pair
        return float(mask_iou_matrix([new], [old])[0, 0])

    def observe(self, frame_index: int, mask: RleMask | None, visible: bool, box: np.ndarray | None = None) -> None:
        """Take the propagator's verdict for the newest frame; updates motion from box centres
        (``box``: the mask's xyxy box when the caller has it already, any 4 numbers)."""
        self.visible = visible
        if not visible or mask is None:
            self.invisible_frames += 1
            return
        self._before = (self.last_center, self.velocity, self.last_mask, self.last_visible_frame)
        self._continuity_pair = (mask, self.last_mask) if self.last_mask is not None else None
        # on Python floats: the same IEEE operations as on 2-vectors, without numpy's per-call cost
        x0, y0, x1, y1 = (mask.area_and_box()[1] if box is None else box)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        if self.last_center is not None and self.last_visible_frame >= 0:
            dt = max(frame_index - self.last_visible_frame, 1)
            (lx, ly), (vx, vy) = self.last_center.tolist(), self.velocity.tolist()
            keep, take = _VELOCITY_MOMENTUM, 1.0 - _VELOCITY_MOMENTUM
            self.velocity = np.array([keep * vx + take * ((cx - lx) / dt), keep * vy + take * ((cy - ly) / dt)])
        self.last_center = np.array([cx, cy])
        self.last_visible_frame = frame_index
        self.last_mask = mask
        self.invisible_frames = 0

    def undo_last_observation(self) -> None:
        """Forget the newest position (it followed another object), so re-id extrapolates from before."""
        if self._before is not None:
            self.last_center, self.velocity, self.last_mask, self.last_visible_frame = self._before
            self._before = None

    def predicted_center(self, frame_index: int, horizon: int) -> np.ndarray | None:
        """Where the track should be on ``frame_index``, extrapolating its velocity up to ``horizon`` frames."""
        if self.last_center is None:
            return None
        dt = min(max(frame_index - self.last_visible_frame, 0), horizon)
        return self.last_center + self.velocity * dt

    def record_match(self, frame_index: int, score: float, keepalive_max: int, area: int = 0) -> None:
        """A detection (of ``area`` mask pixels) confirmed this track on ``frame_index``."""
        self.hits += 1
        if area > 0:
            self.matched_areas.append(area)
        self.keepalive = min(self.keepalive + 1, keepalive_max)
        self.score = score if self.hits == 1 else 0.8 * self.score + 0.2 * score
        self.last_matched_frame = max(self.last_matched_frame, frame_index)

    def record_miss(self) -> None:
        self.misses += 1
        self.keepalive -= 1

"""The one Instance type that travels from the detector through the tracker to the exporters."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace

import numpy as np

from sam2auto_ros.core.masks import RleMask

NO_TRACK = -1
"""``track_id`` of a detection that is not (yet) associated with a track."""


class InstanceStatus(enum.IntEnum):
    """Where an instance stands in its life; values are ``InstanceMask.STATUS_*``."""

    DETECTION = 0
    TENTATIVE = 1
    CONFIRMED = 2
    OCCLUDED = 3


@dataclass(frozen=True)
class Instance:
    """One object in one frame.

    ``box`` is ``[x_min, y_min, x_max, y_max]`` in pixels (max exclusive). It is derived from the
    mask when a mask is given and no box is, so detections from box-only detectors and tracked
    masks share one type. ``mask`` may be ``None`` for boxes-only output.
    """

    mask: RleMask | None
    box: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.float32))
    label: str = ""
    score: float = 0.0
    track_id: int = NO_TRACK
    class_id: int = -1
    status: InstanceStatus = InstanceStatus.DETECTION

    def __post_init__(self) -> None:
        box = self.box
        # trackers build many instances per frame, most with a float32 (4,) box already
        if type(box) is not np.ndarray or box.dtype != np.float32 or box.shape != (4,):
            box = np.asarray(box, dtype=np.float32).reshape(-1)
            if box.shape != (4,):
                raise ValueError(f"box must have 4 values [x_min, y_min, x_max, y_max], got {box.shape}")
        values = box.tolist()
        if not all(map(math.isfinite, values)):
            raise ValueError(f"box has non-finite values: {values}")
        if self.mask is not None and not any(values):
            box = self.mask.box_xyxy()
        object.__setattr__(self, "box", box)
        if not math.isfinite(self.score):
            raise ValueError(f"score must be finite, got {self.score}")
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "track_id", int(self.track_id))
        if type(self.status) is not InstanceStatus:
            object.__setattr__(self, "status", InstanceStatus(self.status))

    @classmethod
    def from_mask_array(cls, mask: np.ndarray, **kwargs) -> Instance:
        return cls(mask=RleMask.from_array(mask), **kwargs)

    @property
    def has_track(self) -> bool:
        return self.track_id != NO_TRACK

    def with_track(self, track_id: int, status: InstanceStatus = InstanceStatus.CONFIRMED) -> Instance:
        return replace(self, track_id=track_id, status=status)

    def without_mask(self) -> Instance:
        return replace(self, mask=None)


@dataclass(frozen=True)
class FrameInstances:
    """The instances of one source frame, keyed by that frame's stamp and index."""

    stamp_ns: int
    height: int
    width: int
    instances: tuple[Instance, ...] = ()
    frame_id: str = ""
    frame_index: int = -1

    def __post_init__(self) -> None:
        object.__setattr__(self, "instances", tuple(self.instances))
        for inst in self.instances:
            if inst.mask is not None and inst.mask.shape != (self.height, self.width):
                raise ValueError(
                    f"instance mask is {inst.mask.shape}, frame is {(self.height, self.width)}"
                )

    def __len__(self) -> int:
        return len(self.instances)

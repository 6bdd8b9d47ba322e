"""The box trackers users already run, as benchmark anchors for FLASH: ByteTrack, OC-SORT and
BoT-SORT (camera-motion compensated, no re-identification weights), from Roboflow's ``trackers``
package (what yolo_ros and ultralytics users pick).

``BoxAnchor`` hands a tracker exactly the detections FLASH gets, one row per detection in order:
the box of the detection's mask (what a mask detector reports), its score and its class, and the
frame's real stamp in seconds (a tracker that sees every k-th frame then predicts across the true
gap). What it publishes is each tracked detection as it came in (mask, box, label, score) with the
tracker's id, so the same output can be scored by box and by mask: a box tracker echoing a mask
detector's detections would publish exactly these masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus

#: anchor name -> the ``trackers`` class name; BoT-SORT also takes the frame (for its camera-motion
#: compensation)
ANCHORS = MappingProxyType({"ByteTrack": "ByteTrackTracker", "OC-SORT": "OCSORTTracker", "BoT-SORT": "BoTSORTTracker"})
_NEEDS_FRAME = frozenset({"BoT-SORT"})


def detection_boxes(instances: Sequence[Instance]) -> np.ndarray:
    """``(N, 4)`` float32 xyxy: the box of each detection's mask (its own box when it has no mask)."""
    boxes = [inst.mask.box_xyxy() if inst.mask is not None else inst.box for inst in instances]
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def to_supervision(instances: Sequence[Instance]) -> Any:
    """The detections as one ``supervision.Detections``, row i = instance i (kept in ``data["index"]``)."""
    import supervision as sv

    return sv.Detections(
        xyxy=detection_boxes(instances).astype(np.float64),
        confidence=np.array([inst.score for inst in instances], dtype=np.float64),
        class_id=np.array([inst.class_id for inst in instances], dtype=int),
        data={"index": np.arange(len(instances))},
    )


def make_tracker(name: str, **params: Any) -> Any:
    """A fresh ``trackers`` tracker by anchor name, with ``params`` passed to its constructor."""
    import trackers

    try:
        cls = getattr(trackers, ANCHORS[name])
    except KeyError:
        raise ValueError(f"unknown anchor tracker {name!r}; known: {', '.join(ANCHORS)}") from None
    return cls(**params)


class BoxAnchor:
    """One anchor tracker over one sequence: ``update`` once per frame, in order."""

    def __init__(self, name: str, **params: Any) -> None:
        self.name = name
        self.params = dict(params)
        self.tracker = make_tracker(name, **params)
        self._frame = -1

    def update(self, image: np.ndarray, stamp_ns: int, instances: Sequence[Instance] | None) -> FrameInstances:
        """Track one frame's detections; returns the detections the tracker gave an id."""
        self._frame += 1
        instances = list(instances or ())
        height, width = image.shape[:2]
        frame = image[..., ::-1] if self.name in _NEEDS_FRAME else None  # its CMC reads BGR
        result = self.tracker.update(to_supervision(instances), frame=frame, timestamp=stamp_ns * 1e-9)
        out = []
        for index, tid in zip(result.data.get("index", ()), result.tracker_id if result.tracker_id is not None else ()):
            if tid < 0:  # not (yet) confirmed: the tracker publishes no id for it
                continue
            inst = instances[int(index)]
            out.append(Instance(mask=inst.mask, box=detection_boxes([inst])[0], label=inst.label, score=inst.score,
                                track_id=int(tid) + 1, class_id=inst.class_id, status=InstanceStatus.CONFIRMED))
        out.sort(key=lambda i: i.track_id)
        return FrameInstances(stamp_ns, height, width, tuple(out), frame_index=self._frame)


def run_anchor(name: str, images: Sequence[np.ndarray], stamps: Sequence[int],
               detections: Sequence[Sequence[Instance]], **params: Any) -> list[FrameInstances]:
    """A fresh anchor over a whole sequence."""
    anchor = BoxAnchor(name, **params)
    return [anchor.update(image, stamp, dets) for image, stamp, dets in zip(images, stamps, detections)]

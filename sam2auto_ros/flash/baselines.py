"""The two identity schemes FLASH is measured against (benchmarks/bench_flash.py).

* ``IouLinker``: frame-to-frame linking without propagation. Each frame's detections are the
  output; a detection takes the id of the track whose last mask it overlaps best (one-to-one,
  mask IoU), among tracks seen within ``max_age`` frames; otherwise it gets a new id. Frames
  without a detection of an object have no mask for it.
* ``GroundedSam2Linker``: the Grounded-SAM-2 continuous-id scheme. Every ``reseed_every`` frames
  the propagator is re-seeded with that frame's detections (everything else is forgotten, so an
  object missed on a re-seed frame is dropped for a whole window); a detection re-uses the id of
  the propagated mask it overlaps with IoU > ``reuse_iou`` (0.8), else it gets a new id.
  Detections between re-seed frames are not used.

Both read the same detections and (for the second) drive the same propagator as FLASH, and emit
``FrameInstances`` in the same form, so the scores compare only the identity logic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.propagation import Prompt, Propagator
from sam2auto_ros.flash.association import match_masks, suppress_duplicates


def _confident(detections: Sequence[Instance], min_score: float, nms_iou: float) -> list[Instance]:
    dets = [d for d in detections if d.score >= min_score and d.mask is not None and d.mask.area > 0]
    keep = suppress_duplicates([d.mask for d in dets], [d.score for d in dets], nms_iou)
    return [dets[k] for k in sorted(keep)]


class IouLinker:
    """Frame-to-frame mask-IoU linking of detections, no propagation."""

    def __init__(self, match_iou: float = 0.3, max_age: int = 1, min_score: float = 0.5, nms_iou: float = 0.6) -> None:
        self.match_iou, self.max_age, self.min_score, self.nms_iou = match_iou, max_age, min_score, nms_iou
        self._last: dict[int, tuple[int, RleMask]] = {}  # id -> (frame, mask)
        self._next_id = 1
        self._frame = -1

    def update(self, stamp_ns: int, height: int, width: int, detections: Sequence[Instance] | None) -> FrameInstances:
        self._frame += 1
        self._last = {tid: v for tid, v in self._last.items() if self._frame - v[0] <= self.max_age}
        dets = _confident(detections or [], self.min_score, self.nms_iou)
        ids = list(self._last)
        matching = match_masks([d.mask for d in dets], [self._last[t][1] for t in ids], self.match_iou)
        assigned = {di: ids[ti] for di, ti in matching.pairs}
        out = []
        for di, det in enumerate(dets):
            tid = assigned.get(di)
            if tid is None:
                tid, self._next_id = self._next_id, self._next_id + 1
            self._last[tid] = (self._frame, det.mask)
            out.append(det.with_track(tid, InstanceStatus.CONFIRMED))
        return FrameInstances(stamp_ns, height, width, tuple(out), frame_index=self._frame)


class GroundedSam2Linker:
    """Re-seed every N frames, re-use an id at mask IoU > 0.8 (Grounded-SAM-2's continuous ids)."""

    def __init__(self, propagator: Propagator, reseed_every: int = 20, reuse_iou: float = 0.8,
                 min_score: float = 0.5, nms_iou: float = 0.6) -> None:
        if reseed_every < 1:
            raise ValueError(f"reseed_every must be at least 1, got {reseed_every}")
        self.propagator = propagator
        self.reseed_every, self.reuse_iou, self.min_score, self.nms_iou = reseed_every, reuse_iou, min_score, nms_iou
        self._next_id = 1
        self._frame = -1
        propagator.reset()

    def update(self, image: np.ndarray, stamp_ns: int, detections: Sequence[Instance] | None) -> FrameInstances:
        self._frame += 1
        height, width = image.shape[:2]
        predictions = self.propagator.step(image)
        masks = {tid: p.rle() for tid, p in predictions.items() if p.visible}
        if self._frame % self.reseed_every == 0 and detections is not None:
            dets = _confident(detections, self.min_score, self.nms_iou)
            ids = list(masks)
            matching = match_masks([d.mask for d in dets], [masks[t] for t in ids], self.reuse_iou + 1e-9)
            reuse = {di: ids[ti] for di, ti in matching.pairs}
            for tid in list(self.propagator.object_ids):
                self.propagator.remove_object(tid)
            masks = {}
            for di, det in enumerate(dets):
                tid = reuse.get(di)
                if tid is None:
                    tid, self._next_id = self._next_id, self._next_id + 1
                pred = self.propagator.add_object(tid, Prompt(mask=det.mask.to_array()))
                if pred.visible:
                    masks[tid] = pred.rle()
        out = [Instance(mask=m, track_id=tid, score=1.0, status=InstanceStatus.CONFIRMED)
               for tid, m in sorted(masks.items())]
        return FrameInstances(stamp_ns, height, width, tuple(out), frame_index=self._frame)

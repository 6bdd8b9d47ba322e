"""Offline (whole sequence / bag) mode: the online tracker, then hindsight.

Knowing the future allows two things the live tracker cannot do:

* drop tracks that were never confirmed or are visible on fewer than ``offline_min_track_frames``
  frames (false positives that slipped in), and report the survivors as CONFIRMED from their
  first frame;
* fill each track's start backwards: a detector usually finds an object some frames after it
  appeared. One reverse pass of the same propagator, stepping only through the
  ``offline_backfill_frames`` frames before each track's first frame (all tracks starting there
  batched together), carries the first mask back in time. A backfilled mask only takes pixels no
  other track holds, and the fill stops when the object turns invisible or would mostly overlap
  another track.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.propagation import Prompt, Propagator
from sam2auto_ros.flash.config import FlashConfig
from sam2auto_ros.flash.stats import FlashStats
from sam2auto_ros.flash.tracker import FlashTracker


@dataclass(frozen=True)
class OfflineResult:
    frames: list[FrameInstances]
    online: list[FrameInstances]  # what the live tracker emitted, before hindsight
    stats: FlashStats
    dropped_tracks: int
    backfilled_masks: int


def run_offline(
    propagator: Propagator,
    images: Sequence[np.ndarray],
    stamps: Sequence[int],
    detections: Sequence[Sequence[Instance] | None],
    config: FlashConfig | None = None,
    frame_id: str = "",
) -> OfflineResult:
    """Track a whole sequence: ``detections[i]`` belongs to ``images[i]`` (``None``: detector skipped it).

    ``images`` is indexed twice (forward, then the backfill windows in reverse), so a lazy sequence
    that re-reads frames from a bag works. The propagator is reset between the passes.
    """
    if not (len(images) == len(stamps) == len(detections)):
        raise ValueError(f"images ({len(images)}), stamps ({len(stamps)}) and detections ({len(detections)}) must have one entry per frame")
    config = config if config is not None else FlashConfig()
    tracker = FlashTracker(propagator, config, frame_id)
    tracker.reset()
    online: list[FrameInstances] = []
    for image, stamp, dets in zip(images, stamps, detections):
        tracker.step(image, stamp)
        if dets is not None:
            tracker.add_detections(stamp, dets)
        online.append(tracker.current())
    kept = _surviving_tracks(online, config.offline_min_track_frames)
    dropped = len({i.track_id for f in online for i in f.instances}) - len(kept)
    frames = [_confirmed_only(f, kept) for f in online]
    propagator.reset()
    backfilled = _backfill(propagator, images, frames, config) if config.offline_backfill_frames > 0 else 0
    return OfflineResult(frames, online, tracker.stats, dropped, backfilled)


def _surviving_tracks(frames: list[FrameInstances], min_frames: int) -> set[int]:
    visible: dict[int, int] = defaultdict(int)
    confirmed: set[int] = set()
    for f in frames:
        for inst in f.instances:
            if inst.status in (InstanceStatus.CONFIRMED, InstanceStatus.OCCLUDED):
                confirmed.add(inst.track_id)
            if inst.mask is not None and inst.mask.area > 0:
                visible[inst.track_id] += 1
    return {tid for tid in confirmed if visible[tid] >= min_frames}


def _confirmed_only(frame: FrameInstances, kept: set[int]) -> FrameInstances:
    out = []
    for inst in frame.instances:
        if inst.track_id not in kept:
            continue
        seen = inst.mask is not None and inst.mask.area > 0
        out.append(replace(inst, status=InstanceStatus.CONFIRMED if seen else InstanceStatus.OCCLUDED))
    return replace(frame, instances=tuple(out))


def _backfill(propagator: Propagator, images: Sequence[np.ndarray], frames: list[FrameInstances], config: FlashConfig) -> int:
    """Reverse pass over the windows before each track's first visible frame; edits ``frames`` in place."""
    starts: dict[int, list[Instance]] = defaultdict(list)
    seen: set[int] = set()
    for i, f in enumerate(frames):
        for inst in f.instances:
            if inst.track_id not in seen and inst.mask is not None and inst.mask.area > 0:
                seen.add(inst.track_id)
                starts[i].append(inst)
    active: dict[int, tuple[int, Instance]] = {}  # track id -> (first frame, first instance)
    stepping = False
    filled = 0
    for i in range(len(frames) - 1, -1, -1):
        if not active and i not in starts:
            if stepping:
                propagator.reset()  # a gap: the next window starts a fresh reverse sequence
                stepping = False
            continue
        predictions = propagator.step(images[i])
        stepping = True
        if active:
            frames[i], n = _fill_frame(frames[i], predictions, active, i, propagator, config)
            filled += n
        for inst in starts.get(i, []):
            propagator.add_object(inst.track_id, Prompt(mask=inst.mask.to_array()))
            active[inst.track_id] = (i, inst)
    if stepping:
        propagator.reset()
    return filled


def _fill_frame(frame, predictions, active, index, propagator, config) -> tuple[FrameInstances, int]:
    occupied = np.zeros((frame.height, frame.width), dtype=bool)
    present = set()
    for inst in frame.instances:
        if inst.mask is not None and inst.mask.area > 0:
            occupied |= inst.mask.to_array()
            present.add(inst.track_id)
    added = []
    for tid, (first, proto) in list(active.items()):
        pred = predictions.get(tid)
        stop = pred is None or not pred.visible or first - index > config.offline_backfill_frames or tid in present
        if not stop:
            free = pred.mask & ~occupied
            area = int(pred.mask.sum())
            stop = int(free.sum()) < max(config.min_mask_area, 1) or 1.0 - free.sum() / area > config.admit_max_overlap
        if stop:
            propagator.remove_object(tid)
            del active[tid]
            continue
        occupied |= free
        added.append((tid, free, proto))
    if not added:
        return frame, 0
    others = [inst for inst in frame.instances if inst.track_id not in {tid for tid, _, _ in added}]
    new = [replace(proto, mask=RleMask.from_array(free), box=np.zeros(4, np.float32), status=InstanceStatus.CONFIRMED)
           for _, free, proto in added]
    instances = tuple(sorted(others + new, key=lambda inst: inst.track_id))
    return replace(frame, instances=instances), len(new)

"""Offline (whole sequence / bag) mode: the online tracker, then hindsight.

Knowing the future allows what the live tracker cannot do:

* drop tracks that were never confirmed or are visible on fewer than ``offline_min_track_frames``
  frames (false positives that slipped in), and report the survivors as CONFIRMED throughout;
* one reverse pass of the same propagator, conditioned on every detection each surviving track
  was matched to (its *anchors*). On a frame between two anchors the mask carried back from the
  later anchor replaces the one carried forward from the earlier anchor when the later anchor is
  nearer (``offline_reverse_fill``): masks drift with distance from their last conditioning, and
  this halves that distance. Before a track's first anchor the reverse mask fills up to
  ``offline_backfill_frames`` frames (a detector finds objects some frames after they appear).
  Filled masks never take pixels another track holds; the pass skips stretches with no anchors
  ahead, so it costs at most one more propagation over the sequence.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.propagation import Prompt, Propagator
from sam2auto_ros.flash.association import union
from sam2auto_ros.flash.config import FlashConfig
from sam2auto_ros.flash.stats import FlashStats
from sam2auto_ros.flash.tracker import FlashTracker


@dataclass(frozen=True)
class OfflineResult:
    frames: list[FrameInstances]
    online: list[FrameInstances]  # what the live tracker emitted, before hindsight
    stats: FlashStats
    dropped_tracks: int
    backfilled_masks: int  # masks added or replaced by the reverse pass


def run_offline(
    propagator: Propagator,
    images: Sequence[np.ndarray],
    stamps: Sequence[int],
    detections: Sequence[Sequence[Instance] | None],
    config: FlashConfig | None = None,
    frame_id: str = "",
) -> OfflineResult:
    """Track a whole sequence: ``detections[i]`` belongs to ``images[i]`` (``None``: detector skipped it).

    ``images`` is indexed twice (forward, then in reverse), so a lazy sequence that re-reads
    frames from a bag works. The propagator is reset between the passes.
    """
    if not (len(images) == len(stamps) == len(detections)):
        raise ValueError(f"images ({len(images)}), stamps ({len(stamps)}) and detections ({len(detections)}) must have one entry per frame")
    config = config if config is not None else FlashConfig()
    tracker = FlashTracker(propagator, config, frame_id)
    tracker.reset()
    online: list[FrameInstances] = []
    anchors: dict[int, dict[int, Instance]] = defaultdict(dict)  # track id -> frame -> detection
    for i, (image, stamp, dets) in enumerate(zip(images, stamps, detections)):
        tracker.step(image, stamp, render=False)  # what is kept is current(), after the batch
        if dets is not None:
            dets = list(dets)
            outcome = tracker.add_detections(stamp, dets)
            for di, tid in outcome.matched.items():
                if dets[di].mask is not None:
                    anchors[tid][i] = dets[di]
        online.append(tracker.current())
    kept = _surviving_tracks(online, config.offline_min_track_frames)
    dropped = len({i.track_id for f in online for i in f.instances}) - len(kept)
    frames = [_confirmed_only(f, kept) for f in online]
    propagator.reset()
    kept_anchors = {tid: anchors[tid] for tid in kept if anchors.get(tid)}
    filled = _reverse_fill(propagator, images, frames, kept_anchors, config)
    return OfflineResult(frames, online, tracker.stats, dropped, filled)


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


def _reverse_fill(
    propagator: Propagator,
    images: Sequence[np.ndarray],
    frames: list[FrameInstances],
    anchors: dict[int, dict[int, Instance]],
    config: FlashConfig,
) -> int:
    """The reverse pass (module docstring); edits ``frames`` in place, returns masks written."""
    if not anchors or (config.offline_backfill_frames == 0 and not config.offline_reverse_fill):
        return 0
    frames_of = {tid: sorted(a) for tid, a in anchors.items()}
    starts: dict[int, list[int]] = defaultdict(list)  # frame -> tracks anchored there
    for tid, a in anchors.items():
        for f in a:
            starts[f].append(tid)
    proto = {}
    for f in frames:
        for inst in f.instances:
            proto.setdefault(inst.track_id, inst)
    active: dict[int, int] = {}  # track id -> frame of the anchor it was last conditioned on
    stepping = False
    written = 0
    for t in range(len(frames) - 1, -1, -1):
        if not active and t not in starts:
            if stepping:
                propagator.reset()  # nothing to carry: the next anchor starts a fresh reverse sequence
                stepping = False
            continue
        predictions = propagator.step(images[t])
        stepping = True
        proposals: dict[int, RleMask] = {}
        for tid, anchor in list(active.items()):
            pred = predictions.get(tid)
            earlier = bisect.bisect_right(frames_of[tid], t) - 1  # the forward pass's anchor for frame t
            forward = t - frames_of[tid][earlier] if earlier >= 0 else None
            backward = anchor - t
            if forward is None and backward > config.offline_backfill_frames:
                propagator.remove_object(tid)
                del active[tid]
                continue
            wanted = forward is None or (config.offline_reverse_fill and backward < forward)
            if wanted and pred is not None and pred.visible:
                proposals[tid] = pred.rle()
        if proposals:
            frames[t], n = _apply(frames[t], proposals, proto, config)
            written += n
        for tid in starts.get(t, []):
            propagator.add_object(tid, Prompt(mask=anchors[tid][t].mask.to_array()))
            active[tid] = t
    if stepping:
        propagator.reset()
    return written


def _apply(frame: FrameInstances, proposals: dict[int, RleMask], proto: dict[int, Instance],
           config: FlashConfig) -> tuple[FrameInstances, int]:
    """Put reverse masks into a frame; a proposal only takes pixels no other track holds there
    (on the RLEs: no mask of the frame is decoded)."""
    current = {inst.track_id: inst for inst in frame.instances}
    held = {tid: inst.mask for tid, inst in current.items() if inst.mask is not None and inst.mask.area > 0}
    written = 0
    for tid, mask in proposals.items():
        others = union([m for other, m in held.items() if other != tid])
        free = mask.minus(others) if others is not None else mask
        area = mask.area
        if free.area < max(config.min_mask_area, 1) or 1.0 - free.area / area > config.admit_max_overlap:
            continue
        base = current.get(tid, proto[tid])
        current[tid] = replace(base, mask=free, box=np.zeros(4, np.float32), status=InstanceStatus.CONFIRMED)
        held[tid] = free
        written += 1
    if not written:
        return frame, 0
    return replace(frame, instances=tuple(current[t] for t in sorted(current))), written

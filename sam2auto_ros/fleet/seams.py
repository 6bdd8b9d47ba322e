"""One camera sequence tracked as overlapping segments, joined back into one (``--split-long``).

Each segment was tracked as a sequence of its own, so its track ids start over. Two neighbours both
tracked the overlap between them; there a track of the earlier segment and one of the later are the
same object when their masks agree. The ids are joined seam by seam with Hungarian matching
(``scipy.optimize.linear_sum_assignment``) on the mask IoU summed over the overlap frames: the
intersection over the union of each pair's pixels in all those frames, so a pair that agrees on a few
frames only scores low. Pairs under ``min_iou`` stay apart (the later one gets a new id).

Each output frame comes from exactly one segment: the earlier one up to the seam's cut (the middle of
the overlap, where both segments have seen a second of context), the later one from there on. The
label of a joined track is voted over all of its frames (score-weighted, as FLASH votes within a
track), so a track does not change its label at a seam.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from sam2auto_ros.annotate_bag import CameraRun
from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.masks import intersection_area
from sam2auto_ros.flash.voting import LabelVotes

MIN_IOU = 0.3
"""Summed-IoU a pair of tracks needs in the overlap to be joined (one object seen by two segments
scores near its per-frame mask IoU, ~0.8 on the simulator; two different objects near 0)."""


@dataclass(frozen=True)
class Seam:
    """How one seam was joined: overlap frames compared, tracks on each side, pairs joined (with IoU)."""

    overlap_frames: int
    before: int
    after: int
    joined: tuple[tuple[int, int, float], ...]  # (earlier segment's id, later segment's id, IoU)


class SeamError(ValueError):
    """Segments that cannot be joined (no shared frames, out of order)."""


def _areas(frames: Sequence[FrameInstances]) -> dict[int, int]:
    areas: dict[int, int] = {}
    for frame in frames:
        for inst in frame.instances:
            if inst.mask is not None and inst.has_track:
                areas[inst.track_id] = areas.get(inst.track_id, 0) + inst.mask.area
    return areas


def match_overlap(before: Sequence[FrameInstances], after: Sequence[FrameInstances], min_iou: float = MIN_IOU) -> list[tuple[int, int, float]]:
    """(id before, id after, IoU) of the tracks joined across one seam; ``before[i]`` and ``after[i]``
    are the same frame as two segments tracked it."""
    if len(before) != len(after):
        raise SeamError(f"the overlap has {len(before)} frames in one segment and {len(after)} in the other")
    inter: dict[tuple[int, int], int] = {}
    for a_frame, b_frame in zip(before, after):
        for a in a_frame.instances:
            if a.mask is None or not a.has_track:
                continue
            for b in b_frame.instances:
                if b.mask is not None and b.has_track:
                    shared = intersection_area(a.mask, b.mask)
                    if shared:
                        inter[a.track_id, b.track_id] = inter.get((a.track_id, b.track_id), 0) + shared
    area_a, area_b = _areas(before), _areas(after)
    ids_a, ids_b = sorted(area_a), sorted(area_b)
    if not ids_a or not ids_b:
        return []
    iou = np.zeros((len(ids_a), len(ids_b)))
    for (a_id, b_id), shared in inter.items():
        union = area_a[a_id] + area_b[b_id] - shared
        iou[ids_a.index(a_id), ids_b.index(b_id)] = shared / union if union else 0.0
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return [(ids_a[r], ids_b[c], float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


def join_segments(runs: Sequence[CameraRun], cuts: Sequence[int], min_iou: float = MIN_IOU) -> tuple[CameraRun, list[Seam]]:
    """One ``CameraRun`` from segments in time order; ``cuts[k]`` is the receive time (ns) from which
    the output takes segment ``k + 1`` instead of ``k``."""
    if len(cuts) != len(runs) - 1:
        raise SeamError(f"{len(runs)} segments need {len(runs) - 1} cuts, got {len(cuts)}")
    if len(runs) == 1:
        return runs[0], []
    mapping: list[dict[int, int]] = [{i: i for i in _ids(runs[0].tracks)}]
    next_id = max(mapping[0], default=0) + 1
    seams = []
    for k in range(1, len(runs)):
        earlier, later = runs[k - 1], runs[k]
        shared = sorted(set(earlier.receive) & set(later.receive))
        if not shared:
            raise SeamError(f"segments {k - 1} and {k} share no frame: make the overlap longer than a frame interval")
        at_a = {t: i for i, t in enumerate(earlier.receive)}
        at_b = {t: i for i, t in enumerate(later.receive)}
        joined = match_overlap([earlier.tracks[at_a[t]] for t in shared], [later.tracks[at_b[t]] for t in shared], min_iou)
        ids = {b: mapping[k - 1][a] for a, b, _ in joined if a in mapping[k - 1]}
        for local in _ids(later.tracks):
            if local not in ids:
                ids[local] = next_id
                next_id += 1
        mapping.append(ids)
        seams.append(Seam(len(shared), len(_ids(earlier.tracks)), len(_ids(later.tracks)), tuple(joined)))
    return _stitch(runs, cuts, mapping), seams


def _ids(frames: Sequence[FrameInstances]) -> list[int]:
    return sorted({i.track_id for f in frames for i in f.instances if i.has_track})


def _stitch(runs: Sequence[CameraRun], cuts: Sequence[int], mapping: list[dict[int, int]]) -> CameraRun:
    """Each frame from the segment whose stretch holds it, ids made global, labels voted per joined track."""
    bounds = [None, *cuts, None]
    stamps, receive, frame_ids, dets, tracks = [], [], [], [], []
    for k, run in enumerate(runs):
        lo, hi = bounds[k], bounds[k + 1]
        for i, t in enumerate(run.receive):
            if (lo is not None and t < lo) or (hi is not None and t >= hi):
                continue
            stamps.append(run.stamps[i])
            receive.append(t)
            frame_ids.append(run.frame_ids[i])
            dets.append(run.det_frames[i])
            frame = run.tracks[i]
            instances = tuple(dataclasses.replace(inst, track_id=mapping[k][inst.track_id]) if inst.has_track else inst
                              for inst in frame.instances)
            tracks.append(dataclasses.replace(frame, instances=instances))
    if any(b <= a for a, b in itertools.pairwise(receive)):
        raise SeamError("segments overlap out of order (receive times not increasing after the cuts)")
    votes: dict[int, LabelVotes] = {}
    for frame in tracks:
        for inst in frame.instances:
            if inst.has_track:
                votes.setdefault(inst.track_id, LabelVotes()).add(inst.label, max(inst.score, 1e-6), inst.class_id)
    tracks = [dataclasses.replace(frame, instances=tuple(_voted(inst, votes) for inst in frame.instances)) for frame in tracks]
    return CameraRun(runs[0].camera, stamps, receive, frame_ids, dets, tracks)


def _voted(inst: Instance, votes: dict[int, LabelVotes]) -> Instance:
    vote = votes.get(inst.track_id) if inst.has_track else None
    if vote is None or not vote.label:
        return inst
    return dataclasses.replace(inst, label=vote.label, class_id=vote.class_id if vote.class_id >= 0 else inst.class_id)

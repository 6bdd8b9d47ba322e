"""FLASH: stable instance identities over any mask propagator.

The propagator (SAM 2, its ONNX twin, or the optical-flow fallback) carries every object's mask
from frame to frame; FLASH decides *who is who*:

* ``step(image, stamp)`` runs every frame and never waits for detections. It propagates, updates
  occlusion (the propagator's object score), retires tentative tracks that were never confirmed
  and tracks invisible for too long, and merges tracks that collapsed onto one object.
* ``add_detections(stamp, instances)`` may come late, for an older frame still held in the
  propagator's ring, or never. Detections are associated to the masks tracked *on that frame* by
  one-to-one mask-IoU matching; matched tracks gain keep-alive (unmatched visible ones lose it),
  drifted tracks are re-conditioned on the detection mask, and unmatched confident detections that
  lie on untracked pixels either re-identify a lost track (gallery) or become new tentative tracks.

Eviction at the object cap (``max_objects``): a new or re-identified object only enters when
a live track can make room. The victim is the weakest live track, ranked tentative < occluded <
visible-confirmed, then by keep-alive, then by the oldest last match. A visible confirmed track is
never evicted: when every live track is one, the detection is refused (``rejected_at_capacity``).
Evicted confirmed tracks go to the re-identification gallery, so they can come back with their id.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.masks import RleMask, intersection_area, mask_stats
from sam2auto_ros.core.predicted_masks import BoxedMask, full_resolution
from sam2auto_ros.core.propagation import ObjectPrediction, Prompt, Propagator
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.flash.appearance import blend, hs_histogram, to_hsv
from sam2auto_ros.flash.association import (
    covered_fraction,
    inside_fraction,
    match,
    match_masks,
    overlapping_pairs,
    suppress_duplicates,
    union,
)
from sam2auto_ros.flash.config import FlashConfig
from sam2auto_ros.flash.gallery import Gallery, reid_cost
from sam2auto_ros.flash.stats import FlashStats
from sam2auto_ros.flash.track import Track
from sam2auto_ros.flash.voting import LabelVotes

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class DetectionOutcome:
    """What one ``add_detections`` call did. ``reason`` says why a batch was refused whole."""

    accepted: bool
    frame_index: int = -1
    reason: str = ""
    matched: Mapping[int, int] = field(default_factory=dict)  # detection index -> track id
    admitted: tuple[int, ...] = ()
    reidentified: tuple[int, ...] = ()


@dataclass
class _Frame:
    """A recent frame: its stamp, the propagator's index, the image and the tracked masks on it."""

    stamp_ns: int
    index: int
    image: np.ndarray
    masks: dict[int, RleMask]  # visible tracks only


@dataclass
class _Detection:
    index: int
    mask: RleMask
    instance: Instance
    _array: np.ndarray | None = field(default=None, repr=False)

    def decode(self) -> np.ndarray:
        """The mask as an array, decoded once: the prompt and the appearance may both need it."""
        if self._array is None:  # (the mask's columns alone are decoded, the rest is zeros)
            self._array = self.mask.window(0, 0, self.mask.width, self.mask.height)
        return self._array

    def window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """The mask inside a box: a slice of the decoded mask when there is one, else decoded alone."""
        if self._array is not None:
            return self._array[y0:y1, x0:x1]
        return self.mask.window(x0, y0, x1, y1)

    @property
    def prompt(self) -> Prompt:
        """Built only when the propagator is conditioned on it (decoding every detection is waste)."""
        if self.instance.mask is not None:
            return Prompt(mask=self.decode())
        return Prompt(box=[float(v) for v in self.instance.box])


class FlashTracker:
    """Identity tracking over a :class:`Propagator`; one instance per camera stream."""

    def __init__(self, propagator: Propagator, config: FlashConfig | None = None, frame_id: str = "") -> None:
        if not isinstance(propagator, Propagator):
            raise TypeError(f"propagator must implement sam2auto_ros.core.propagation.Propagator, got {type(propagator).__name__}")
        self._propagator = propagator
        self._config = config if config is not None else FlashConfig()
        if not isinstance(self._config, FlashConfig):
            raise TypeError(f"config must be a FlashConfig, got {type(self._config).__name__}")
        self._frame_id = frame_id
        self.stats = FlashStats()
        self._next_id = 1
        self._tracks: dict[int, Track] = {}
        self._gallery = Gallery(self._config.gallery_size, self._config.gallery_max_age)
        self._frames: deque[_Frame] = deque(maxlen=self._config.history_frames)
        self._newest: dict[int, ObjectPrediction] = {}
        self._size: tuple[int, int] | None = None
        self._latest: FrameInstances | None = None
        self._resolved: tuple[tuple[int, int], list[tuple] | None, dict[int, RleMask]] | None = None
        self._empty: RleMask | None = None
        self._shown: dict[int, tuple[tuple, Instance]] = {}  # per track: what the last render showed
        self._pair_iou: dict[tuple[int, int], tuple[RleMask, RleMask, float]] = {}
        self._mask_version = 0  # bumped whenever a tracked mask changes (keys the render cache)

    # -- public ---------------------------------------------------------------------------------
    @property
    def config(self) -> FlashConfig:
        return self._config

    @property
    def propagator(self) -> Propagator:
        return self._propagator

    @property
    def tracks(self) -> Mapping[int, Track]:
        """Live tracks by id (a copy of the mapping; the Track objects are live state, do not mutate)."""
        return dict(self._tracks)

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def current(self) -> FrameInstances | None:
        """The newest frame's tracks, including what detections added since its ``step``."""
        if self._latest is None and self._frames:  # rendered on demand: a batch may be followed by a step
            start, prop_before = time.perf_counter(), self.stats.propagation_seconds
            self._latest = self._render()
            self._finish(start, prop_before)
        return self._latest

    def reset(self) -> None:
        """Start a new sequence: forget tracks, gallery and frames. Ids keep counting up (never reused)."""
        self._propagator.reset()
        self._tracks.clear()
        self._gallery.clear()
        self._frames.clear()
        self._newest = {}
        self._size = None
        self._latest = None
        self._pair_iou = {}
        self._shown = {}
        self._update_live_stats()

    def step(self, image: np.ndarray, stamp_ns: int, render: bool = True) -> FrameInstances | None:
        """Propagate every track onto a new frame and return the tracks on it (never waits).

        ``render=False`` returns ``None``: for a caller that publishes ``current()`` after this
        frame's detections, so the frame is rendered once, when asked, not twice per frame.
        """
        start, prop_before = time.perf_counter(), self.stats.propagation_seconds
        image = self._check_image(image)
        stamp_ns = self._check_stamp(stamp_ns)
        predictions = self._timed(self._propagator.step, image)
        index = self._propagator.frame_index
        self._size = image.shape[:2]
        frame = _Frame(stamp_ns, index, image, {})
        self._newest = {}
        self._pair_iou = {}
        self._mask_version += 1
        # visible: a positive object score and a non-empty mask (``ObjectPrediction.visible``); the
        # encoding tells emptiness by its area, which spares a scan of every mask
        scored = [tid for tid in self._tracks if tid in predictions and predictions[tid].object_score > 0.0]
        # full resolution inside each mask's window only, areas and boxes with it
        encoded = dict(zip(scored, full_resolution([predictions[tid].predicted for tid in scored])))
        for tid, track in self._tracks.items():
            mask = encoded.get(tid)
            area, box = mask.area_and_box() if mask is not None else (0, None)
            # a scrap, unless the object is coming (back) into view across the image border
            if area and track.collapsed(area, self._config.collapse_ratio) and not _entering(box, track.velocity, image.shape[:2]):
                area = 0
                self.stats.collapsed += 1
            if not area:
                track.observe(index, None, False)
                continue
            frame.masks[tid] = mask
            self._newest[tid] = predictions[tid]
            track.observe(index, mask, True, box)
        self._frames.append(frame)
        self.stats.frames += 1
        self._retire(index)
        self._remove_duplicate_tracks(frame)
        self._gallery.expire(index)
        self._latest = self._render() if render else None
        if not render:
            self._update_live_stats()
        self._finish(start, prop_before)
        return self._latest

    def add_detections(self, stamp_ns: int, instances: Iterable[Instance]) -> DetectionOutcome:
        """Apply the detections of the frame stamped ``stamp_ns`` (may be an older, still held frame).

        A batch for a frame never seen, or no longer in the propagator's ring, is refused whole and
        counted in ``stats.rejected_batches`` by reason; malformed input raises ``ValueError``.
        """
        start, prop_before = time.perf_counter(), self.stats.propagation_seconds
        instances = list(instances)
        frame, reason = self._find_frame(int(stamp_ns))
        if frame is None:
            self.stats.rejected_batches[reason] += 1
            log.debug("detections for stamp %d refused: %s", stamp_ns, reason)
            self._finish(start, prop_before)
            return DetectionOutcome(accepted=False, reason=reason)
        detections = self._check_detections(instances, frame)
        self.stats.detection_batches += 1
        self.stats.detections_received += len(instances)
        cfg = self._config

        # 1. match the detections to the masks tracked on their frame
        track_ids = [tid for tid in self._tracks if tid in frame.masks]
        matching = match_masks([d.mask for d in detections], [frame.masks[t] for t in track_ids], cfg.match_iou)
        matched: dict[int, int] = {}
        for di, ti in matching.pairs:
            det, tid = detections[di], track_ids[ti]
            matched[det.index] = tid
            self._on_match(self._tracks[tid], det, frame, float(matching.scores[di, ti]))
        # 1b. a confident detection overlapping a left-over track below match_iou: the track drifted
        #     (IoU >= rescue_iou), or shrank inside it (inside fraction >= rescue_inside)
        rows = [r for r in matching.unmatched_rows if detections[r].instance.score >= cfg.recondition_score]
        cols = list(matching.unmatched_cols)
        rescue = None
        if rows and cols:
            iou = matching.scores[np.ix_(rows, cols)]
            inside = inside_fraction([frame.masks[track_ids[c]] for c in cols], [detections[r].mask for r in rows]).T
            ok = (iou >= cfg.rescue_iou) | (inside >= cfg.rescue_inside)
            rescue = match(np.where(ok, np.maximum(iou, inside), 0.0), 1e-9)
        for ri, ci in rescue.pairs if rescue else ():
            det, tid = detections[rows[ri]], track_ids[cols[ci]]
            matched[det.index] = tid
            self._on_match(self._tracks[tid], det, frame, float(matching.scores[rows[ri], cols[ci]]))
        unmatched_rows = set(matching.unmatched_rows) - {rows[ri] for ri, _ in (rescue.pairs if rescue else ())}
        unmatched_cols = set(matching.unmatched_cols) - {cols[ci] for _, ci in (rescue.pairs if rescue else ())}
        self.stats.detections_matched += len(matched)
        for ti in sorted(unmatched_cols):
            self._tracks[track_ids[ti]].record_miss()

        # 2. admit what is left: confident, on untracked pixels, re-identified when possible
        leftovers = [detections[i] for i in sorted(unmatched_rows)]
        admitted, reidentified = self._admit(leftovers, frame, matched)

        # 3. retire tracks that the detector stopped confirming
        for tid, track in list(self._tracks.items()):
            if not track.confirmed and track.misses >= cfg.tentative_max_misses:
                self._drop(tid, frame.index, "unmatched while tentative")
            elif track.confirmed and track.keepalive <= 0:
                self._drop(tid, frame.index, "keep-alive expired")
        self._latest = None  # current() renders it when asked
        self._update_live_stats()
        self._finish(start, prop_before)
        return DetectionOutcome(True, frame.index, "", matched, tuple(admitted), tuple(reidentified))

    # -- detection handling ---------------------------------------------------------------------
    def _on_match(self, track: Track, det: _Detection, frame: _Frame, iou: float) -> None:
        cfg = self._config
        inst = det.instance
        track.record_match(frame.index, inst.score, cfg.keepalive_max, det.mask.area)
        track.votes.add(inst.label, inst.score, inst.class_id)
        drifted = iou < cfg.recondition_iou and inst.score >= cfg.recondition_score
        recondition = drifted and frame.index - track.last_recondition_frame >= cfg.recondition_interval
        if frame.index - track.descriptor_frame >= cfg.appearance_interval:
            desc = self._describe(frame, det, whole=recondition)
            track.descriptor = blend(track.descriptor, desc, cfg.appearance_momentum)
            track.descriptor_frame = frame.index
        if not track.confirmed and track.hits >= cfg.confirm_hits:
            track.confirmed = True
            track.keepalive = max(track.keepalive, cfg.keepalive_init)
            self.stats.confirmed += 1
        if recondition:
            self._condition(track.track_id, det, frame)
            track.last_recondition_frame = frame.index
            self.stats.reconditioned += 1

    def _admit(self, leftovers: list[_Detection], frame: _Frame, matched: dict[int, int]) -> tuple[list[int], list[int]]:
        cfg = self._config
        confident = []
        min_area = cfg.admit_min_area * frame.image.shape[0] * frame.image.shape[1]
        for det in leftovers:
            if det.instance.score < cfg.admit_score:
                self.stats.rejected_low_score += 1
            elif det.mask.area < min_area:
                self.stats.rejected_small += 1
            else:
                confident.append(det)
        if not confident:
            return [], []
        tracked = union([frame.masks[t] for t in self._tracks if t in frame.masks])
        coverage = covered_fraction([d.mask for d in confident], tracked)
        free = [d for d, c in zip(confident, coverage) if c <= cfg.admit_max_overlap]
        self.stats.rejected_covered += len(confident) - len(free)
        if not free:
            return [], []
        occluded = [t for tid, t in self._tracks.items() if not t.visible and tid not in frame.masks]
        lost = [e.track for e in self._gallery.entries()]
        candidates = occluded + lost
        # histograms only when there is someone to re-identify (a new track gets one at its next match)
        descriptors = [self._describe(frame, d, whole=True) if candidates else None for d in free]
        cost = reid_cost(
            candidates, np.stack([d.mask.box_xyxy() for d in free]), [d.instance.label for d in free], descriptors,
            frame.index, frame.image.shape[:2],
            appearance_weight=cfg.reid_appearance_weight, motion_weight=cfg.reid_motion_weight,
            max_appearance=cfg.reid_max_appearance, motion_horizon=cfg.reid_motion_horizon,
            motion_radius=cfg.reid_motion_radius,
        )
        reid = match(-cost, -cfg.reid_max_cost) if candidates else None
        identity = {di: candidates[ci] for di, ci in (reid.pairs if reid else ())}
        admitted, reidentified = [], []
        for di in sorted(range(len(free)), key=lambda i: -free[i].instance.score):
            det, desc = free[di], descriptors[di]
            old = identity.get(di)
            if old is not None and old.track_id in self._tracks:  # occluded live track comes back
                self._condition(old.track_id, det, frame)
                self.stats.recovered_from_occlusion += 1
                track = old
            elif old is not None and old.track_id in self._gallery:  # lost track re-identified
                # out of the gallery before making room: an eviction into a full gallery would push it out
                lost = self._gallery.pop(old.track_id)
                if not self._make_room(frame.index):
                    self._gallery.add(old, lost.lost_frame, lost.reason)
                    continue
                track = old
                track.misses, track.keepalive = 0, max(track.keepalive, self._config.keepalive_init)
                track.velocity = np.zeros(2)  # the exit direction says nothing about the re-entry
                self._tracks[track.track_id] = track
                self._condition(track.track_id, det, frame)
                self.stats.reidentified += 1
                reidentified.append(track.track_id)
            elif not self._make_room(frame.index):
                continue
            else:
                track = Track(self._next_id, frame.index, LabelVotes(cfg.max_labels_per_track),
                              reference_matches=cfg.reference_matches)
                self._next_id += 1
                self._tracks[track.track_id] = track
                self._condition(track.track_id, det, frame)
                self.stats.admitted += 1
                admitted.append(track.track_id)
            track.record_match(frame.index, det.instance.score, cfg.keepalive_max, det.mask.area)
            track.votes.add(det.instance.label, det.instance.score, det.instance.class_id)
            if desc is not None:
                track.descriptor = blend(track.descriptor, desc, cfg.appearance_momentum)
                track.descriptor_frame = frame.index
            track.last_recondition_frame = frame.index
            matched[det.index] = track.track_id
        return admitted, reidentified

    def _condition(self, tid: int, det: _Detection, frame: _Frame) -> None:
        """(Re-)condition the propagator on a detection at its frame and take the newest prediction."""
        pred = self._timed(self._propagator.add_object, tid, det.prompt, frame.index)
        self._mask_version += 1
        frame.masks[tid] = det.mask
        newest = self._frames[-1]
        track = self._tracks[tid]
        mask = pred.rle() if pred.object_score > 0.0 else None
        if mask is not None and mask.area > 0:  # pred.visible, told by the encoding
            newest.masks[tid] = mask
            self._newest[tid] = pred
            track.visible, track.invisible_frames, track.last_mask = True, 0, mask
            box = mask.box_xyxy().astype(np.float64)
            track.last_center = (box[:2] + box[2:]) / 2.0
            track.last_visible_frame = newest.index
        else:
            newest.masks.pop(tid, None)
            self._newest.pop(tid, None)
            track.visible = False
        # The propagator only reports the newest frame; frames in between (for later late batches)
        # get the detection mask moved linearly towards the newest one, a close stand-in over the
        # few frames of detector delay involved.
        between = [f for f in self._frames if frame.index < f.index < newest.index]
        if between:
            end = newest.masks.get(tid)
            start_box, end_box = det.mask.box_xyxy(), end.box_xyxy() if end is not None else None
            x0, y0, x1, y1 = (int(v) for v in start_box)
            pixels = det.window(x0, y0, x1, y1)  # moved as a box: only its pixels are shifted and encoded
            for f in between:
                if end is None:
                    f.masks.pop(tid, None)
                    continue
                t = (f.index - frame.index) / (newest.index - frame.index)
                shift = t * ((end_box[:2] + end_box[2:]) - (start_box[:2] + start_box[2:])) / 2.0
                f.masks[tid] = _shifted(pixels, x0 + round(shift[0]), y0 + round(shift[1]), det.mask.shape)

    def _make_room(self, frame_index: int) -> bool:
        """Free a slot under ``max_objects`` by the eviction policy (module docstring)."""
        if len(self._tracks) < self._config.max_objects:
            return True

        def rank(item: tuple[int, Track]) -> tuple[int, int, int]:
            t = item[1]
            level = 0 if not t.confirmed else (1 if not t.visible else 2)
            return (level, t.keepalive, t.last_matched_frame)

        tid, victim = min(self._tracks.items(), key=rank)
        if victim.confirmed and victim.visible:
            self.stats.rejected_at_capacity += 1
            return False
        self._drop(tid, frame_index, "evicted at the object cap")
        self.stats.evicted += 1
        return True

    # -- life cycle -----------------------------------------------------------------------------
    def _retire(self, index: int) -> None:
        cfg = self._config
        for tid, track in list(self._tracks.items()):
            if not track.confirmed and index - track.born_frame >= cfg.hotstart_frames:
                self._drop(tid, index, "not confirmed within the hot-start window")
            elif track.invisible_frames > cfg.occlusion_patience:
                self._drop(tid, index, "invisible beyond the occlusion patience")

    def _remove_duplicate_tracks(self, frame: _Frame) -> None:
        """Two tracks on one object (a propagator swap or merge): keep the better-supported one."""
        ids = [tid for tid in self._tracks if tid in frame.masks]
        if len(ids) < 2:
            return
        for a, b, iou in self._overlaps([frame.masks[t] for t in ids]):
            if iou <= self._config.track_duplicate_iou:
                continue
            ta, tb = self._tracks.get(ids[a]), self._tracks.get(ids[b])
            if ta is None or tb is None:
                continue
            # the track that jumped (low continuity) is the one that left its object
            weaker = min((ta, tb), key=lambda t: (t.confirmed, round(t.continuity, 2), t.last_matched_frame, t.hits, -t.born_frame))
            weaker.undo_last_observation()
            self._drop(weaker.track_id, frame.index, "duplicate of another track")
            self.stats.duplicate_tracks_removed += 1

    def _drop(self, tid: int, frame_index: int, why: str) -> None:
        """Take a track out of the propagator; confirmed ones go to the gallery for re-id."""
        track = self._tracks.pop(tid)
        self._mask_version += 1
        self._timed(self._propagator.remove_object, tid)
        for f in self._frames:
            f.masks.pop(tid, None)
        self._newest.pop(tid, None)
        if track.confirmed:
            self._gallery.add(track, frame_index, why)
            self.stats.lost += 1
        else:
            self.stats.died_tentative += 1
        log.debug("track %d dropped at frame %d: %s", tid, frame_index, why)

    # -- output ---------------------------------------------------------------------------------
    def _render(self) -> FrameInstances:
        frame = self._frames[-1]
        height, width = self._size
        masks = self._resolved_masks(frame) if self._config.non_overlapping else dict(frame.masks)
        if self._empty is None or self._empty.shape != (height, width):
            self._empty = RleMask.empty(height, width)
        instances, shown = [], {}
        for tid in sorted(self._tracks):
            track = self._tracks[tid]
            mask = masks.get(tid) if track.visible else None
            state = (mask, track.votes.label, track.score, track.votes.class_id, track.status)
            last = self._shown.get(tid)
            if last is None or last[0][0] is not mask or last[0][1:] != state[1:]:
                # a track that did not change since the last render keeps its Instance (and one
                # whose mask did not change, its box)
                same_mask = last is not None and last[0][0] is mask
                last = (state, Instance(
                    mask=mask if mask is not None else self._empty,
                    box=last[1].box if same_mask else mask.box_xyxy() if mask is not None else np.zeros(4, np.float32),
                    label=state[1], score=state[2], track_id=tid, class_id=state[3], status=state[4],
                ))
            shown[tid] = last
            instances.append(last[1])
        self._shown = shown
        self._update_live_stats()
        return FrameInstances(frame.stamp_ns, height, width, tuple(instances), self._frame_id, frame.index)

    def _resolved_masks(self, frame: _Frame) -> dict[int, RleMask]:
        """Give every contested pixel to one track: higher mask logit, else the better-supported track.

        Only pairs whose masks intersect are resolved: without logits on the RLEs, with logits
        decoded inside their boxes' intersection; the usual frame with few overlaps costs a box
        test (and the intersections the duplicate test already computed).
        """
        # a batch that changed no mask (the usual one) reuses the last resolution, unless some
        # masks overlap and a track's priority (which decides them) changed since
        key = (frame.index, self._mask_version)
        if self._resolved is not None and self._resolved[0] == key:
            priorities, last = self._resolved[1:]
            if priorities is None or priorities == [self._priority(t) for t in last]:
                return dict(last)
        out = {tid: frame.masks[tid] for tid in self._tracks if tid in frame.masks}
        ids = [tid for tid in out if tid in self._newest]
        pairs = self._overlaps([out[t] for t in ids]) if len(ids) >= 2 else []
        self._resolved = (key, [self._priority(t) for t in out] if pairs else None, out)
        if not pairs:
            return dict(out)
        if not all(self._newest[t].predicted.has_logits for t in ids):
            # no logits: the lower-priority mask of an overlapping pair loses the shared pixels,
            # computed on the RLEs (no decoding, no re-encoding)
            changed = set()
            for a, b, _ in pairs:
                winner, loser = (ids[a], ids[b]) if self._priority(ids[a]) >= self._priority(ids[b]) else (ids[b], ids[a])
                rest = out[loser].minus(out[winner])
                # unchanged masks are known to intersect (the pair's IoU > 0); changed ones may no longer
                if not changed & {winner, loser} or rest.area < out[loser].area:
                    out[loser] = rest
                    changed.add(loser)
            return dict(out)
        # with logits: the higher logit keeps a contested pixel, decided inside the pair's box
        # intersection (the logits made full-resolution there alone); a track's earlier losses
        # count for its later pairs
        size = (frame.masks[ids[0]].height, frame.masks[ids[0]].width)
        lost_by: dict[int, list[tuple[tuple[int, int, int, int], np.ndarray]]] = {}
        for a, b, _ in pairs:
            ta, tb = ids[a], ids[b]
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = (out[t].box_xyxy().astype(int).tolist() for t in (ta, tb))
            box = (max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            pa, pb = self._newest[ta].predicted, self._newest[tb].predicted
            contested = _still_held(pa.window(*box), box, lost_by.get(ta, ())) & _still_held(pb.window(*box), box, lost_by.get(tb, ()))
            if not contested.any():
                continue
            a_wins = pa.logits_window(*box) >= pb.logits_window(*box)  # type: ignore[operator]
            for tid, lost in ((ta, contested & ~a_wins), (tb, contested & a_wins)):
                if lost.any():
                    lost_by.setdefault(tid, []).append((box, lost))
        for tid, losses in lost_by.items():
            for (x0, y0, _, _), lost in losses:
                out[tid] = out[tid].minus(BoxedMask(lost, x0, y0, size).rle())
        return dict(out)

    def _overlaps(self, masks: list[RleMask]) -> list[tuple[int, int, float]]:
        """``(i, j, IoU)`` for every ``i < j`` whose masks intersect, in row-major order.

        Only pairs whose boxes overlap are compared, each once per frame: the duplicate test and
        the renders of a frame share the comparisons (cached per pair of masks until the next step).
        """
        found = []
        for i, j in overlapping_pairs(masks, masks, upper=True):
            key = (id(masks[i]), id(masks[j]))
            hit = self._pair_iou.get(key)
            if hit is None:  # the entry holds the masks, so their ids stay unique while cached
                inter = intersection_area(masks[i], masks[j])
                hit = self._pair_iou[key] = (masks[i], masks[j], inter / (masks[i].area + masks[j].area - inter))
            if hit[2] > 0.0:
                found.append((i, j, hit[2]))
        return found

    def _priority(self, tid: int) -> tuple[bool, int, int]:
        track = self._tracks[tid]
        return (track.confirmed, track.keepalive, -track.born_frame)

    def _update_live_stats(self) -> None:
        confirmed = tentative = occluded = 0
        for t in self._tracks.values():
            if not t.confirmed:
                tentative += 1
            elif t.visible:
                confirmed += 1
            else:
                occluded += 1
        st = self.stats
        st.live_tracks, st.live_confirmed, st.live_tentative, st.live_occluded = len(self._tracks), confirmed, tentative, occluded
        st.gallery_size = len(self._gallery)

    # -- plumbing -------------------------------------------------------------------------------
    def _timed(self, fn: Callable[..., _T], *args) -> _T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.stats.propagation_seconds += time.perf_counter() - start

    def _finish(self, start: float, prop_before: float) -> None:
        total = time.perf_counter() - start
        self.stats.identity_seconds += total - (self.stats.propagation_seconds - prop_before)

    def _describe(self, frame: _Frame, det: _Detection, whole: bool = False) -> np.ndarray | None:
        """Colour histogram of a detection; ``whole``: decode the whole mask (kept on the detection),
        as its prompt will need it next (a detection about to be conditioned on)."""
        if whole:
            det.decode()
        x0, y0, x1, y1 = (int(v) for v in det.mask.area_and_box()[1])
        if x1 <= x0 or y1 <= y0:
            return None
        # HSV is per pixel: converting (and decoding) the mask's box alone gives the same histogram
        return hs_histogram(to_hsv(frame.image[y0:y1, x0:x1]), det.window(x0, y0, x1, y1), self._config.histogram_bins)

    def _find_frame(self, stamp_ns: int) -> tuple[_Frame | None, str]:
        if not self._frames:
            return None, "no_frames"
        tol = self._config.stamp_tolerance_ns
        if stamp_ns > self._frames[-1].stamp_ns + tol:
            return None, "future"
        if stamp_ns < self._frames[0].stamp_ns - tol:
            return None, "too_old"
        newest = self._frames[-1]  # the usual case: detections of the newest frame
        best = newest if stamp_ns == newest.stamp_ns else min(self._frames, key=lambda f: abs(f.stamp_ns - stamp_ns))
        if abs(best.stamp_ns - stamp_ns) > tol:
            return None, "unknown_stamp"
        if best.index < self._propagator.oldest_promptable_frame:
            return None, "too_old"
        return best, ""

    def _check_image(self, image: np.ndarray) -> np.ndarray:
        image = check_rgb(image)
        if self._size is not None and image.shape[:2] != self._size:
            raise ValueError(f"frame size changed from {self._size} to {image.shape[:2]}; call reset() for a new stream")
        return image

    def _check_stamp(self, stamp_ns: int) -> int:
        if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, (int, np.integer)):
            raise ValueError(f"stamp_ns must be an integer (nanoseconds), got {stamp_ns!r}")
        stamp_ns = int(stamp_ns)
        if self._frames and stamp_ns <= self._frames[-1].stamp_ns:
            raise ValueError(
                f"frame stamps must increase: got {stamp_ns} after {self._frames[-1].stamp_ns}; call reset() for a new sequence"
            )
        return stamp_ns

    def _check_detections(self, instances: list[Instance], frame: _Frame) -> list[_Detection]:
        """Validate the whole batch first (nothing changes on bad input), then filter and de-duplicate."""
        height, width = frame.image.shape[:2]
        for i, inst in enumerate(instances):
            if not isinstance(inst, Instance):
                raise ValueError(f"detection {i} must be an Instance, got {type(inst).__name__}")
            if inst.mask is not None and inst.mask.shape != (height, width):
                raise ValueError(f"detection {i} mask is {inst.mask.shape}, frame is {(height, width)}")
            if inst.mask is None and not np.any(inst.box[2:] > inst.box[:2]):
                raise ValueError(f"detection {i} has neither a mask nor a non-empty box")
        cfg = self._config
        mask_stats([inst.mask for inst in instances if inst.mask is not None])  # one call for all, cached
        dets = []
        for i, inst in enumerate(instances):
            if inst.mask is not None:
                mask = inst.mask
            else:
                x0, y0, x1, y1 = np.clip(np.round(inst.box), 0, [width, height, width, height]).astype(int)
                rect = np.zeros((height, width), dtype=bool)
                rect[y0:y1, x0:x1] = True
                mask = RleMask.from_array(rect)
            if inst.score < cfg.detection_min_score or mask.area < cfg.min_mask_area:
                self.stats.rejected_low_score += 1
                continue
            dets.append(_Detection(i, mask, inst))
        kept = suppress_duplicates([d.mask for d in dets], [d.instance.score for d in dets], cfg.duplicate_iou)
        self.stats.duplicates_suppressed += len(dets) - len(kept)
        return [dets[k] for k in sorted(kept)]


def _still_held(pixels: np.ndarray, box: tuple[int, int, int, int], losses) -> np.ndarray:
    """``pixels`` (a mask inside ``box``) without what its track already lost in earlier windows."""
    x0, y0, x1, y1 = box
    for (lx0, ly0, lx1, ly1), lost in losses:
        ix0, iy0, ix1, iy1 = max(x0, lx0), max(y0, ly0), min(x1, lx1), min(y1, ly1)
        if ix0 < ix1 and iy0 < iy1:
            pixels[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] &= ~lost[iy0 - ly0 : iy1 - ly0, ix0 - lx0 : ix1 - lx0]
    return pixels


def _entering(box: np.ndarray, velocity: np.ndarray, size: tuple[int, int]) -> bool:
    """The box touches the image border and its track is not moving out across it."""
    x0, y0, x1, y1 = box
    vx, vy = velocity
    sides = ((x0 <= 0, vx < 0), (y0 <= 0, vy < 0), (x1 >= size[1], vx > 0), (y1 >= size[0], vy > 0))
    return any(touch for touch, _ in sides) and not any(touch and out for touch, out in sides)


def _shifted(pixels: np.ndarray, x0: int, y0: int, size: tuple[int, int]) -> RleMask:
    """A frame of ``size`` holding ``pixels`` with their top-left corner at ``(x0, y0)`` (the part that
    falls outside the frame is cut off)."""
    height, width = size
    h, w = pixels.shape
    cx0, cy0, cx1, cy1 = max(-x0, 0), max(-y0, 0), min(w, width - x0), min(h, height - y0)
    if cx1 <= cx0 or cy1 <= cy0:
        return RleMask.empty(height, width)
    return BoxedMask(pixels[cy0:cy1, cx0:cx1], x0 + cx0, y0 + cy0, size).rle()

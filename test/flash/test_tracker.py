"""FLASH's identity rules on small constructed scenes.

These use ``OverlapPropagator`` (test/flash/scripted.py), a scripted double of the Propagator
interface, so each rule is tested in isolation from optical-flow noise; test_with_fallback.py
runs the same tracker on the real weight-free propagator.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core.instance import Instance, InstanceStatus
from sam2auto_ros.flash import FlashConfig, FlashTracker

from .scripted import Disc, OverlapPropagator, render


def _linear(x0, y0, vx, vy, start=0, stop=10**9):
    return lambda f: (x0 + vx * f, y0 + vy * f) if start <= f < stop else None


def _run(scene, config=None, detect=lambda f: True, label_of=None, drift_px=0):
    """Step through the scene; detections (ground truth) on the frames ``detect`` allows.

    Returns the tracker and, per frame, {track_id: mask} of the visible tracks after detections.
    """
    tracker = FlashTracker(OverlapPropagator(scene.id_maps, drift_px=drift_px), config)
    per_frame = []
    for f, (image, stamp) in enumerate(zip(scene.images, scene.stamps)):
        tracker.step(image, stamp)
        tracker.add_detections(stamp, scene.detections(f, label_of) if detect(f) else [])
        out = tracker.current()
        per_frame.append({i.track_id: i.mask.to_array() for i in out.instances if i.mask.area > 0})
    return tracker, per_frame


def _id_of(per_frame, scene, frame, gt_id):
    """The track whose mask best covers ground-truth object ``gt_id`` on ``frame`` (None if none)."""
    gt = scene.mask(frame, gt_id)
    best, best_iou = None, 0.0
    for tid, m in per_frame[frame].items():
        iou = (m & gt).sum() / max((m | gt).sum(), 1)
        if iou > best_iou:
            best, best_iou = tid, iou
    return best if best_iou > 0.5 else None


def test_miss_of_fifteen_frames_keeps_the_id():
    scene = render([Disc(1, _linear(20, 48, 1.5, 0))], 50)
    tracker, per_frame = _run(scene, detect=lambda f: not 12 <= f < 27)
    ids = [_id_of(per_frame, scene, f, 1) for f in range(50)]
    assert set(ids) == {ids[0]} and ids[0] is not None
    assert tracker.stats.admitted == 1 and tracker.stats.lost == 0


def test_keepalive_expires_when_the_detector_never_sees_the_track_again():
    scene = render([Disc(1, _linear(20, 48, 1, 0))], 60)
    config = FlashConfig(keepalive_init=5, keepalive_max=5)
    tracker, per_frame = _run(scene, config, detect=lambda f: f < 6)
    assert tracker.stats.lost == 1
    assert not per_frame[-1]  # dropped from the output ...
    assert len(tracker.gallery) == 1  # ... but remembered for re-identification


def test_crossing_lookalikes_do_not_swap():
    # two identical discs cross; B passes behind A and is hidden for several frames
    a = Disc(1, _linear(20, 48, 2, 0))
    b = Disc(2, _linear(108, 48, -2, 0))
    scene = render([b, a], 44)
    tracker, per_frame = _run(scene)
    before = (_id_of(per_frame, scene, 5, 1), _id_of(per_frame, scene, 5, 2))
    after = (_id_of(per_frame, scene, 43, 1), _id_of(per_frame, scene, 43, 2))
    assert None not in before and before[0] != before[1]
    assert after == before
    assert tracker.stats.admitted == 2


def test_reentry_gets_the_old_id_and_a_stranger_does_not():
    # red disc leaves to the right at ~frame 30, stays out 40 frames, comes back from the right;
    # a blue disc enters from the left at frame 75
    def red(f):
        if f < 30:
            return (60 + 3 * f, 48)
        if f < 70:
            return None
        return (127 - 2 * (f - 70), 48)

    blue = Disc(2, lambda f: (2 * (f - 75), 30) if f >= 75 else None, color=(40, 40, 220))
    scene = render([Disc(1, red), blue], 100)
    tracker, per_frame = _run(scene)
    first = _id_of(per_frame, scene, 10, 1)
    back = _id_of(per_frame, scene, 90, 1)
    stranger = _id_of(per_frame, scene, 95, 2)
    assert first is not None and back == first
    assert stranger is not None and stranger != first
    assert tracker.stats.reidentified == 1 and tracker.stats.admitted == 2


def test_late_detection_is_applied_to_its_own_frame():
    scene = render([Disc(1, _linear(20, 48, 4, 0))], 12)
    prop = OverlapPropagator(scene.id_maps)
    tracker = FlashTracker(prop)
    for f in range(8):
        tracker.step(scene.images[f], scene.stamps[f])
    # the detector answers for frame 3 after frame 7 was already tracked; the object moved 16 px
    outcome = tracker.add_detections(scene.stamps[3], scene.detections(3))
    assert outcome.accepted and outcome.frame_index == 3 and len(outcome.admitted) == 1
    assert prop.add_calls == [(outcome.admitted[0], 3)]
    (inst,) = tracker.current().instances
    assert np.array_equal(inst.mask.to_array(), scene.mask(7, 1))  # carried forward to the newest frame
    # a second late batch, for frame 5, matches the track on frame 5's mask: no new object
    outcome = tracker.add_detections(scene.stamps[5], scene.detections(5))
    assert outcome.matched == {0: inst.track_id} and not outcome.admitted


def test_detections_for_unknown_or_expired_frames_are_refused_and_counted():
    scene = render([Disc(1, _linear(20, 48, 1, 0))], 40)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps, ring=8), FlashConfig(history_frames=16))
    assert tracker.add_detections(5, scene.detections(0)).reason == "no_frames"
    for f in range(30):
        tracker.step(scene.images[f], scene.stamps[f])
    assert tracker.add_detections(scene.stamps[35], scene.detections(35)).reason == "future"
    assert tracker.add_detections(scene.stamps[29] - 7, scene.detections(29)).reason == "unknown_stamp"
    assert tracker.add_detections(scene.stamps[2], scene.detections(2)).reason == "too_old"  # beyond history
    assert tracker.add_detections(scene.stamps[18], scene.detections(18)).reason == "too_old"  # beyond ring
    assert tracker.stats.rejected_late_detections == 5
    assert tracker.stats.admitted == 0 and tracker.stats.detection_batches == 0
    assert tracker.add_detections(scene.stamps[27], scene.detections(27)).accepted  # still usable


def test_stamp_tolerance_maps_a_nearby_stamp_to_its_frame():
    scene = render([Disc(1, _linear(20, 48, 1, 0))], 5)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps), FlashConfig(stamp_tolerance_ns=1_000_000))
    for f in range(5):
        tracker.step(scene.images[f], scene.stamps[f])
    assert tracker.add_detections(scene.stamps[2] + 400_000, scene.detections(2)).frame_index == 2


def test_duplicates_are_not_admitted():
    scene = render([Disc(1, _linear(40, 48, 0, 0), radius=14)], 6)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps))
    tracker.step(scene.images[0], scene.stamps[0])
    mask = scene.mask(0, 1)
    twin = np.roll(mask, 2, axis=1)  # a second, slightly offset detection of the same object
    outcome = tracker.add_detections(scene.stamps[0], [Instance.from_mask_array(mask, score=0.9),
                                                       Instance.from_mask_array(twin, score=0.8)])
    assert len(outcome.admitted) == 1 and tracker.stats.duplicates_suppressed == 1
    tracker.step(scene.images[1], scene.stamps[1])
    # a detection of a part of the tracked object (too small to match) must not mint a new id
    part = mask.copy()
    part[: int(np.argwhere(mask)[:, 0].max()) - 6] = False
    outcome = tracker.add_detections(scene.stamps[1], [Instance.from_mask_array(part, score=0.95)])
    assert not outcome.admitted and not outcome.matched
    assert tracker.stats.rejected_covered == 1 and len(tracker.tracks) == 1
    # one that is shifted off it (drift) re-claims the track instead of minting a new id
    tracker.step(scene.images[2], scene.stamps[2])
    outcome = tracker.add_detections(scene.stamps[2], [Instance.from_mask_array(np.roll(mask, 12, axis=1), score=0.95)])
    assert not outcome.admitted and list(outcome.matched.values()) == list(tracker.tracks)


def test_tentative_false_positive_dies_fast_and_is_not_remembered():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 30)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps))
    tracker.step(scene.images[0], scene.stamps[0])
    tracker.add_detections(scene.stamps[0], scene.detections(0))
    (tid,) = tracker.tracks
    assert tracker.tracks[tid].status == InstanceStatus.TENTATIVE
    died_at = None
    for f in range(1, 30):
        tracker.step(scene.images[f], scene.stamps[f])
        tracker.add_detections(scene.stamps[f], [])
        if not tracker.tracks and died_at is None:
            died_at = f
    assert died_at == FlashConfig().tentative_max_misses  # unmatched in that many batches
    assert tracker.stats.died_tentative == 1 and len(tracker.gallery) == 0


def test_tentative_unconfirmed_within_hotstart_window_dies():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 30)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps), FlashConfig(confirm_hits=5, hotstart_frames=6))
    for f in range(10):
        tracker.step(scene.images[f], scene.stamps[f])
        if f in (0, 2):  # two hits, never the five needed
            tracker.add_detections(scene.stamps[f], scene.detections(f))
    assert not tracker.tracks and tracker.stats.died_tentative == 1 and tracker.stats.confirmed == 0


def test_confirmed_after_enough_hits():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 4)
    tracker, _ = _run(scene)
    (track,) = tracker.tracks.values()
    assert track.status == InstanceStatus.CONFIRMED and tracker.stats.confirmed == 1


def test_label_is_the_score_weighted_vote():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 9)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps))
    labels = []
    for f in range(9):
        tracker.step(scene.images[f], scene.stamps[f])
        # "mug" 6 times at 0.5 (3.0 total) vs "cup" 3 times at 0.9 (2.7 total)
        label, score = ("cup", 0.9) if f % 3 == 0 else ("mug", 0.5)
        det = Instance.from_mask_array(scene.mask(f, 1), label=label, score=score)
        tracker.add_detections(scene.stamps[f], [det])
        labels.append(tracker.current().instances[0].label)
    assert labels[0] == "cup" and labels[-1] == "mug"


def test_eviction_at_the_cap():
    objs = [Disc(1, _linear(20, 30, 0, 0), radius=8), Disc(2, _linear(60, 30, 0, 0), radius=8),
            Disc(3, lambda f: (100, 70) if f >= 6 else None, radius=8, color=(20, 200, 20)),
            Disc(4, lambda f: (20, 70) if f >= 10 else None, radius=8, color=(20, 20, 200))]
    scene = render(objs, 14)
    tracker, per_frame = _run(scene, FlashConfig(max_objects=2))
    # while both tracked objects are visible and confirmed, the newcomers are refused
    assert tracker.stats.rejected_at_capacity > 0 and tracker.stats.evicted == 0
    assert len(tracker.tracks) == 2 and set(per_frame[-1]) == set(per_frame[5])


def test_eviction_prefers_an_occluded_track_and_remembers_it():
    objs = [Disc(1, _linear(20, 30, 0, 0), radius=8), Disc(2, lambda f: (60, 30) if f < 6 else None, radius=8),
            Disc(3, lambda f: (100, 70) if f >= 8 else None, radius=8, color=(20, 200, 20))]
    scene = render(objs, 12)
    tracker, per_frame = _run(scene, FlashConfig(max_objects=2))
    gone = _id_of(per_frame, scene, 3, 2)
    assert tracker.stats.evicted == 1 and gone in tracker.gallery
    assert _id_of(per_frame, scene, 11, 3) not in (None, gone)


def test_drift_is_repaired_by_reconditioning():
    scene = render([Disc(1, _linear(30, 48, 1, 0), radius=14)], 30)
    detect = lambda f: f % 5 == 0  # noqa: E731

    def mean_iou(config):
        tracker, per_frame = _run(scene, config, detect=detect, drift_px=2)
        ious = []
        for f in range(30):
            gt = scene.mask(f, 1)
            best = max(((m & gt).sum() / (m | gt).sum() for m in per_frame[f].values()), default=0.0)
            ious.append(best)
        return float(np.mean(ious)), tracker.stats.reconditioned

    # empty batches in between count as misses: the tentative track must outlive four of them
    repaired, n = mean_iou(FlashConfig(confirm_hits=2, tentative_max_misses=8))
    drifting, n_off = mean_iou(FlashConfig(confirm_hits=2, tentative_max_misses=8, recondition_iou=0.0, match_iou=0.05))
    assert n > 0 and n_off == 0
    assert repaired > drifting + 0.1


def test_outputs_do_not_overlap():
    a = Disc(1, _linear(40, 48, 0, 0), radius=14)
    b = Disc(2, _linear(60, 48, 0, 0), radius=14, color=(30, 30, 200))
    scene = render([a, b], 3)
    prop = OverlapPropagator(scene.id_maps)
    tracker = FlashTracker(prop)
    tracker.step(scene.images[0], scene.stamps[0])
    big = scene.mask(0, 1) | np.roll(scene.mask(0, 1), 6, axis=1)  # reaches into b
    tracker.add_detections(scene.stamps[0], [Instance.from_mask_array(scene.mask(0, 2), score=0.9)])
    prop._history[0][99] = big  # an object the double tracks over both discs
    tracker.step(scene.images[1], scene.stamps[1])
    out = tracker.current()
    masks = [i.mask.to_array() for i in out.instances if i.mask.area]
    assert sum(m.astype(int) for m in masks).max() <= 1


def test_state_stays_bounded():
    scene = render([Disc(1, lambda f: (10 + (3 * f) % 110, 48))], 120)
    tracker, _ = _run(scene, FlashConfig(history_frames=8, gallery_size=2))
    assert len(tracker._frames) == 8 and len(tracker.gallery) <= 2
    assert tracker.stats.frames == 120


def test_bad_input_is_refused_clearly_and_the_tracker_stays_usable():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 4)
    tracker = FlashTracker(OverlapPropagator(scene.id_maps))
    with pytest.raises(ValueError, match="RGB uint8"):
        tracker.step(scene.images[0].astype(np.float32), scene.stamps[0])
    with pytest.raises(ValueError, match="RGB uint8"):
        tracker.step(scene.images[0][..., 0], scene.stamps[0])
    with pytest.raises(ValueError, match="integer"):
        tracker.step(scene.images[0], 1.5)
    tracker.step(scene.images[0], scene.stamps[0])
    with pytest.raises(ValueError, match="must increase"):
        tracker.step(scene.images[1], scene.stamps[0])
    with pytest.raises(ValueError, match="frame size changed"):
        tracker.step(np.zeros((10, 10, 3), np.uint8), scene.stamps[1])
    with pytest.raises(ValueError, match="mask is"):
        tracker.add_detections(scene.stamps[0], [Instance.from_mask_array(np.ones((5, 5), bool), score=0.9)])
    with pytest.raises(ValueError, match="must be an Instance"):
        tracker.add_detections(scene.stamps[0], [{"mask": None}])
    with pytest.raises(ValueError, match="neither a mask nor"):
        tracker.add_detections(scene.stamps[0], [Instance(mask=None, score=0.9)])
    assert tracker.stats.detection_batches == 0
    with pytest.raises(TypeError, match="Propagator"):
        FlashTracker(object())
    tracker.step(scene.images[1], scene.stamps[1])
    assert tracker.add_detections(scene.stamps[1], scene.detections(1)).admitted


def test_box_only_detections_are_accepted():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 2)

    class BoxPropagator(OverlapPropagator):
        def add_object(self, obj_id, prompt, frame_index=None):
            x0, y0, x1, y1 = (int(v) for v in prompt.box)
            mask = np.zeros(self._maps[0].shape, bool)
            mask[y0:y1, x0:x1] = True
            from sam2auto_ros.core.propagation import Prompt
            return super().add_object(obj_id, Prompt(mask=mask), frame_index)

    tracker = FlashTracker(BoxPropagator(scene.id_maps))
    tracker.step(scene.images[0], scene.stamps[0])
    box = Instance.from_mask_array(scene.mask(0, 1)).box
    outcome = tracker.add_detections(scene.stamps[0], [Instance(mask=None, box=box, score=0.9, label="thing")])
    assert len(outcome.admitted) == 1
    assert np.array_equal(tracker.current().instances[0].mask.to_array(), scene.mask(0, 1))


def test_reset_starts_over_without_reusing_ids():
    scene = render([Disc(1, _linear(40, 48, 0, 0))], 3)
    tracker, _ = _run(scene)
    (first,) = tracker.tracks
    tracker.reset()
    assert not tracker.tracks and tracker.current() is None
    tracker.step(scene.images[0], scene.stamps[0])
    (second,) = tracker.add_detections(scene.stamps[0], scene.detections(0)).admitted
    assert second != first


class _ScrapPropagator(OverlapPropagator):
    """Test double: follows each object by its ground-truth id, and while that object is hidden
    keeps a 4x4 scrap where it was last seen, reported visible, until it is conditioned again (a
    propagator that lost an object behind an occluder and clings to a few look-alike pixels)."""

    def reset(self) -> None:
        super().reset()
        self._target: dict[int, int] = {}
        self._lost: set[int] = set()

    def add_object(self, obj_id, prompt, frame_index=None):
        ids = self._maps[self._index if frame_index is None else frame_index]
        values, counts = np.unique(ids[prompt.mask], return_counts=True)
        self._target[obj_id] = int(values[values != 0][np.argmax(counts[values != 0])])
        self._lost.discard(obj_id)
        return super().add_object(obj_id, prompt, frame_index)

    def _follow(self, prev, frame, obj_id):
        if obj_id in self._lost:  # clings to the scrap until conditioned again
            return prev
        region = self._maps[frame] == self._target[obj_id]
        if region.any() or not prev.any():
            return region
        self._lost.add(obj_id)
        ys, xs = np.nonzero(prev)
        scrap = np.zeros_like(prev)
        scrap[ys.min():ys.min() + 4, xs.min():xs.min() + 4] = True
        return scrap


def _hide_and_return(config):
    # red disc A passes behind a large blue disc (hidden ~frames 17-37) and comes out the other side
    a = Disc(1, _linear(10, 48, 2, 0), radius=8)
    occluder = Disc(2, lambda f: (64, 48), radius=30, color=(40, 40, 220))
    scene = render([a, occluder], 50)
    tracker = FlashTracker(_ScrapPropagator(scene.id_maps), config)
    per_frame, status = [], []
    for f, (image, stamp) in enumerate(zip(scene.images, scene.stamps)):
        tracker.step(image, stamp)
        tracker.add_detections(stamp, scene.detections(f))
        out = tracker.current()
        per_frame.append({i.track_id: i.mask.to_array() for i in out.instances if i.mask.area > 0})
        status.append({i.track_id: i.status for i in out.instances})
    return tracker, scene, per_frame, status


def test_a_scrap_left_on_the_occluder_is_occluded_and_the_object_gets_its_id_back():
    tracker, scene, per_frame, status = _hide_and_return(FlashConfig(keepalive_init=30))
    before, after = _id_of(per_frame, scene, 5, 1), _id_of(per_frame, scene, 49, 1)
    assert before is not None and after == before
    assert status[27][before] == InstanceStatus.OCCLUDED and before not in per_frame[27]  # no scrap published
    assert tracker.stats.collapsed > 0 and tracker.stats.admitted == 2


def test_without_the_collapse_rule_the_scrap_stays_and_the_return_is_a_new_id():
    # keep-alive high enough that the scrap outlives the hiding (else the gallery gives the id back)
    tracker, scene, per_frame, _ = _hide_and_return(FlashConfig(keepalive_init=30, collapse_ratio=0.0))
    before, after = _id_of(per_frame, scene, 5, 1), _id_of(per_frame, scene, 49, 1)
    assert before in per_frame[27] and 0 < per_frame[27][before].sum() <= 16  # the scrap is published
    assert after is not None and after != before and tracker.stats.collapsed == 0


@pytest.mark.parametrize(
    ("box", "velocity", "entering"),
    [
        ((0, 10, 6, 30), (2.0, 0.0), True),  # at the left border, moving in
        ((0, 10, 6, 30), (-2.0, 0.0), False),  # at the left border, moving out: what stays is a scrap
        ((120, 10, 128, 30), (0.0, 0.0), True),  # at the right border, standing
        ((120, 10, 128, 30), (1.0, 0.0), False),
        ((40, 90, 60, 96), (0.0, 1.5), False),  # leaving at the bottom
        ((40, 40, 60, 60), (1.0, 1.0), False),  # inside the image: never "entering"
    ],
)
def test_only_a_mask_coming_in_across_the_border_is_exempt_from_collapse(box, velocity, entering):
    from sam2auto_ros.flash.tracker import _entering

    assert _entering(np.array(box, float), np.array(velocity), (96, 128)) is entering


def test_appearance_is_refreshed_at_most_once_per_interval():
    # admitted on frame 0 with nobody to re-identify (no histogram), first refreshed at its match on frame 1
    scene = render([Disc(1, _linear(20, 48, 1, 0))], 13)
    for interval, last in ((5, 11), (1, 12)):
        tracker, _ = _run(scene, FlashConfig(appearance_interval=interval))
        (track,) = tracker.tracks.values()
        assert track.descriptor is not None and track.descriptor_frame == last


def test_a_return_at_the_cap_keeps_its_id_when_making_room_fills_the_gallery():
    # object 1 is lost into a one-entry gallery; object 3 vanishes but is still live when 1 returns
    # at the cap: evicting 3 into the full gallery must not push out the entry being given back
    objs = [Disc(1, lambda f: (20, 30) if f < 5 or f >= 14 else None, radius=8),
            Disc(2, _linear(60, 30, 0, 0), radius=8, color=(20, 20, 200)),
            Disc(3, lambda f: (100, 70) if 6 <= f < 12 else None, radius=8, color=(20, 200, 20))]
    scene = render(objs, 18)
    tracker, per_frame = _run(scene, FlashConfig(max_objects=2, gallery_size=1, occlusion_patience=4, hotstart_frames=30))
    first, third = _id_of(per_frame, scene, 3, 1), _id_of(per_frame, scene, 11, 3)
    assert first is not None and tracker.stats.evicted >= 1 and third in tracker.gallery
    assert _id_of(per_frame, scene, 17, 1) == first and tracker.stats.reidentified == 1

"""FLASH on the real weight-free propagator (sam2auto_ros.fallback) over simulator scenes.

No test doubles here: rendered frames, the optical-flow propagator, and detections derived from
ground truth (perfect masks, with gaps cut in on purpose), so the identity rules are checked
together with a real propagator's drift, shrinking and loss.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.masks import mask_iou_matrix
from sam2auto_ros.fallback import OpticalFlowPropagator
from sam2auto_ros.flash import FlashConfig, FlashTracker, run_offline
from sam2auto_ros.flash.baselines import IouLinker
from sam2auto_ros.sim import Scene, SceneConfig, make_scene


def _detections(frame, min_area: int = 150) -> list[Instance]:
    return [Instance(mask=g.mask, label=g.label, score=0.9) for g in frame.gt.instances if g.mask.area >= min_area]


def _online(frames, detect=lambda i: True, config=None) -> tuple[FlashTracker, list[FrameInstances]]:
    tracker = FlashTracker(OpticalFlowPropagator(), config)
    out = []
    for f in frames:
        tracker.step(f.image, f.stamp_ns)
        if detect(f.index):
            tracker.add_detections(f.stamp_ns, _detections(f))
        out.append(tracker.current())
    return tracker, out


def _ids_per_object(frames, outputs, frame_range=None) -> dict[int, Counter]:
    """For each ground-truth object, how often each track id covered it (mask IoU >= 0.5)."""
    ids: dict[int, Counter] = defaultdict(Counter)
    for f, out in zip(frames, outputs):
        if frame_range is not None and f.index not in frame_range:
            continue
        gt = [g for g in f.gt.instances if g.mask.area >= 150]
        pred = [p for p in out.instances if p.mask is not None and p.mask.area > 0]
        iou = mask_iou_matrix([g.mask for g in gt], [p.mask for p in pred])
        for k, g in enumerate(gt):
            j = int(np.argmax(iou[k])) if iou.shape[1] else -1
            ids[g.track_id][pred[j].track_id if j >= 0 and iou[k, j] >= 0.5 else None] += 1
    return ids


@pytest.fixture(scope="module")
def drifting_objects():
    config = SceneConfig(seed=5, n_frames=60, height=128, width=128, n_objects=3, lookalike_pairs=0, exit_fraction=0.0)
    return list(Scene(config).frames())


def test_detector_gap_of_fifteen_frames_keeps_every_id(drifting_objects):
    tracker, out = _online(drifting_objects, detect=lambda i: not 20 <= i < 35)
    ids = _ids_per_object(drifting_objects, out)
    for gt_id, seen in ids.items():
        assert len([t for t in seen if t is not None]) == 1, f"object {gt_id} got ids {dict(seen)}"
    during_gap = _ids_per_object(drifting_objects, out, range(20, 35))
    covered = sum(n for c in during_gap.values() for t, n in c.items() if t is not None)
    assert covered >= 0.8 * sum(sum(c.values()) for c in during_gap.values())  # masks carried through the gap
    assert tracker.stats.admitted == 3


def test_crossing_lookalikes_keep_their_ids():
    frames = list(make_scene("crossing", seed=2, n_frames=90, height=128, width=128).frames())
    _, out = _online(frames, detect=lambda i: i % 3 == 0)  # a slow detector: every third frame
    flash = _ids_per_object(frames, out)
    linker = IouLinker()
    linked = [linker.update(f.stamp_ns, 128, 128, _detections(f) if f.index % 3 == 0 else []) for f in frames]
    baseline = _ids_per_object(frames, linked)
    for gt_id, seen in flash.items():
        assert len([t for t in seen if t is not None]) == 1, f"object {gt_id} got ids {dict(seen)}"
    # the same frames and detections break frame-to-frame linking: the test can tell the difference
    assert any(len([t for t in c if t is not None]) > 1 for c in baseline.values())


def test_reentering_objects_get_their_old_ids():
    frames = list(make_scene("reentry", seed=1, n_frames=160, height=128, width=128).frames())
    tracker, out = _online(frames)
    ids = _ids_per_object(frames, out)
    assert tracker.stats.reidentified + tracker.stats.recovered_from_occlusion >= 2
    for gt_id, seen in ids.items():
        assert len([t for t in seen if t is not None]) == 1, f"object {gt_id} got ids {dict(seen)}"


def test_late_detections_on_the_real_propagator(drifting_objects):
    """Detections arrive 4 frames late, for the frame they were computed on; ids and coverage hold."""
    tracker = FlashTracker(OpticalFlowPropagator())
    out = []
    for f in drifting_objects:
        tracker.step(f.image, f.stamp_ns)
        if f.index >= 4:
            old = drifting_objects[f.index - 4]
            assert tracker.add_detections(old.stamp_ns, _detections(old)).accepted
        out.append(tracker.current())
    ids = _ids_per_object(drifting_objects, out, range(10, 60))
    for gt_id, seen in ids.items():
        assert len([t for t in seen if t is not None]) == 1 and seen[None] <= 5, f"object {gt_id}: {dict(seen)}"
    assert tracker.stats.admitted == 3 and tracker.stats.rejected_late_detections == 0


def test_offline_fills_track_starts_backwards_and_drops_short_tracks(drifting_objects):
    frames = drifting_objects[:40]
    detections = [None if f.index < 10 else _detections(f) for f in frames]
    blob = np.zeros((128, 128), bool)
    blob[2:14, 2:14] = True  # a one-off false positive in an empty corner
    detections[20] = detections[20] + [Instance.from_mask_array(blob, score=0.95)]
    result = run_offline(OpticalFlowPropagator(), [f.image for f in frames], [f.stamp_ns for f in frames],
                         detections, FlashConfig(offline_backfill_frames=10))
    assert result.dropped_tracks == 1 and result.backfilled_masks >= 3 * 8
    ids = _ids_per_object(frames, result.frames)
    for gt_id, seen in ids.items():
        assert len([t for t in seen if t is not None]) == 1, f"object {gt_id} got ids {dict(seen)}"
    early = _ids_per_object(frames, result.frames, range(2, 10))
    assert all(c[None] <= 2 for c in early.values()), {k: dict(v) for k, v in early.items()}
    online = _ids_per_object(frames, result.online, range(2, 10))
    assert all(c[None] == 8 for c in online.values())  # nothing there before the hindsight pass


def test_rendering_only_in_current_publishes_the_same_frames():
    """step(render=False) skips the render whose result a publishing caller drops; what current()
    publishes after each batch must not change (overlapping tracks included: 'occlusion' scene)."""
    from sam2auto_ros.sim import NoisyDetector, noise_preset

    scene = make_scene("occlusion", seed=3, n_frames=60, height=128, width=128)
    detector = NoisyDetector(noise_preset("benchmark"), sequence_seed=3)
    frames = list(scene.frames())
    batches = [detector.detect(f.gt).instances for f in frames]
    both, once = FlashTracker(OpticalFlowPropagator()), FlashTracker(OpticalFlowPropagator())
    overlapping = 0
    for f, dets in zip(frames, batches):
        assert isinstance(both.step(f.image, f.stamp_ns), FrameInstances)
        assert once.step(f.image, f.stamp_ns, render=False) is None
        assert once.stats.live_tracks == both.stats.live_tracks
        for tracker in (both, once):
            tracker.add_detections(f.stamp_ns, dets)
        a, b = both.current(), once.current()
        assert [(i.track_id, i.label, i.score, i.status, i.mask, i.box.tolist()) for i in a.instances] == \
            [(i.track_id, i.label, i.score, i.status, i.mask, i.box.tolist()) for i in b.instances]
        overlapping += len(both._overlaps([m for m in both._frames[-1].masks.values()]))
    assert overlapping > 0  # the resolution of shared pixels was exercised

"""The anchor trackers (ByteTrack, OC-SORT, BoT-SORT from ``trackers``) get exactly FLASH's detections."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.eval import evaluate
from sam2auto_ros.eval.anchors import ANCHORS, BoxAnchor, run_anchor
from sam2auto_ros.eval.sim_eval import oracle_tracks
from sam2auto_ros.sim import NoisyDetector, make_scene, noise_preset


@pytest.fixture(scope="module")
def lowrate():
    """A slow tracker's view (every 4th frame) with benchmark detections, as bench_flash builds it."""
    scene = make_scene("lowrate", seed=2, n_frames=12, height=96, width=96, frame_step=4)
    detector = NoisyDetector(noise_preset("benchmark"), sequence_seed=2)
    frames = list(scene.frames())
    detected = [detector.detect_with_truth(f.gt) for f in frames]
    return frames, [d.instances for d, _ in detected], [s for _, s in detected]


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_each_anchor_is_handed_every_detection_as_flash_gets_it(lowrate, name):
    frames, detections, _ = lowrate
    anchor = BoxAnchor(name)
    seen = []
    real_update = anchor.tracker.update

    def recording(dets, frame=None, timestamp=None):  # the real tracker runs; we only keep its input
        seen.append((dets, frame, timestamp))
        return real_update(dets, frame=frame, timestamp=timestamp)

    anchor.tracker.update = recording
    outputs = [anchor.update(f.image, f.stamp_ns, dets) for f, dets in zip(frames, detections)]
    assert sum(len(d) for d in detections) > 20
    for f, dets, (given, frame, stamp), out in zip(frames, detections, seen, outputs):
        assert len(given) == len(dets)
        assert np.array_equal(given.xyxy, np.array([d.mask.box_xyxy() for d in dets]).reshape(-1, 4))
        assert np.array_equal(given.confidence, [d.score for d in dets])
        assert np.array_equal(given.class_id, [d.class_id for d in dets])
        assert stamp == f.stamp_ns * 1e-9  # real stamps: the tracker sees the 4-frame gaps
        assert (frame is None) == (name != "BoT-SORT")
        if frame is not None:
            assert np.array_equal(frame, f.image[..., ::-1])
        by_counts = {d.mask.counts: d for d in dets}
        for inst in out.instances:  # what it publishes is a detection it was given, with an id
            source = by_counts[inst.mask.counts]
            assert inst.track_id >= 1 and inst.score == source.score and inst.label == source.label
            assert np.array_equal(inst.box, source.mask.box_xyxy())
    assert any(out.instances for out in outputs)


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_anchors_keep_ids_on_clean_detections(name):
    scene = make_scene("reentry", seed=1, n_frames=40, height=128, width=128)
    detector = NoisyDetector(noise_preset("perfect"))
    frames = list(scene.frames())
    detections = [detector.detect(f.gt).instances for f in frames]
    pred = run_anchor(name, [f.image for f in frames], [f.stamp_ns for f in frames], detections)
    row = evaluate({"s": ([f.gt for f in frames], pred)}, similarity="box", with_jf=False, with_ap=False).rows["s"]
    assert row["IDF1"] > 0.85 and np.isnan(row["AP"])


def test_unknown_anchor_is_named():
    with pytest.raises(ValueError, match="unknown anchor tracker 'SORTish'"):
        BoxAnchor("SORTish")


def test_the_oracle_gives_detections_their_true_ids_and_mask_boxes(lowrate):
    frames, detections, sources = lowrate
    from sam2auto_ros.core import FrameInstances

    tracks = oracle_tracks([FrameInstances(f.stamp_ns, 96, 96, tuple(d)) for f, d in zip(frames, detections)], sources)
    false_ids = []
    for out, dets, src in zip(tracks, detections, sources):
        assert len(out.instances) == len(dets)
        for inst, det, s in zip(out.instances, dets, src):
            assert inst.mask.counts == det.mask.counts and np.array_equal(inst.box, det.mask.box_xyxy())
            if s:
                assert inst.track_id == s
            else:
                false_ids.append(inst.track_id)
    assert false_ids and len(set(false_ids)) == len(false_ids)  # each false positive is its own one-frame track

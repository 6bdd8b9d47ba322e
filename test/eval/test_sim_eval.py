"""Scoring trackers on simulated scenes: built-in runners and a plugged-in live tracker."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sam2auto_ros.core import FrameInstances, InstanceStatus
from sam2auto_ros.eval import RUNNERS, EvalError, evaluate_sim, online_runner, register_runner


def test_ground_truth_runner_is_perfect():
    row = evaluate_sim("gt", "occlusion", seeds=(0,), n_frames=30).combined
    assert row["HOTA"] == pytest.approx(1.0) and row["J&F"] == pytest.approx(1.0) and row["IDSW"] == 0


def test_oracle_detections_reflect_the_noise_model():
    row = evaluate_sim("oracle-detections", "mixed", seeds=(0, 1), n_frames=120, with_jf=False).combined
    assert 0.6 < row["Recall"] < 0.8  # 30 % misses (a few more matches fail on mask noise)
    assert row["IDSW"] == 0 and row["IDP"] > 0.9
    assert np.isnan(row["J&F"])


class FreshIdsEveryFrame:
    """Scripted test double of a live tracker: reports each detection under a brand-new id, so
    every object changes identity on every frame it is detected."""

    def __init__(self) -> None:
        self._next = 1
        self._current: FrameInstances | None = None

    def step(self, image: np.ndarray, stamp_ns: int) -> FrameInstances:
        self._current = FrameInstances(stamp_ns, image.shape[0], image.shape[1])
        return self._current

    def add_detections(self, stamp_ns: int, instances) -> None:
        tracked = []
        for inst in instances:
            tracked.append(inst.with_track(self._next, InstanceStatus.CONFIRMED))
            self._next += 1
        self._current = replace(self._current, instances=tuple(tracked))

    def current(self) -> FrameInstances | None:
        return self._current


def test_a_plugged_in_tracker_is_scored_and_identity_loss_shows():
    register_runner("fresh-ids", online_runner(FreshIdsEveryFrame))
    try:
        report = evaluate_sim("fresh-ids", "crossing", seeds=(0,), noise="perfect", n_frames=30, with_jf=False)
    finally:
        del RUNNERS["fresh-ids"]
    row = report.combined
    assert row["DetA"] > 0.9  # detection is fine ...
    assert row["IDF1"] < 0.2 and row["IDSW"] > 50  # ... identity is not


def test_latency_delays_detections():
    class Recorder(FreshIdsEveryFrame):
        seen: list[int] = []

        def add_detections(self, stamp_ns, instances):
            Recorder.seen.append(stamp_ns)
            super().add_detections(stamp_ns, instances)

    runner = online_runner(Recorder, latency=3)
    from sam2auto_ros.sim import NoisyDetector, make_scene

    scene = make_scene("crossing", n_frames=10)
    frames = runner(scene, NoisyDetector())
    stamps = [f.stamp_ns for f in scene.frames()]
    assert Recorder.seen == stamps[:7]  # the last 3 frames' detections never arrived
    assert len(frames) == 10 and len(frames[2]) == 0 and len(frames[3]) > 0


def test_unknown_tracker_and_bad_latency():
    with pytest.raises(EvalError, match="flash"):
        evaluate_sim("nope")
    with pytest.raises(ValueError, match="latency"):
        online_runner(FreshIdsEveryFrame, latency=-1)


def test_flash_runner_produces_scored_tracks():
    # deterministic (seeded scene, noise and flow): measured DetA 0.823, IDF1 0.985, no id switch
    row = evaluate_sim("flash", "crossing", seeds=(0,), noise="mild", n_frames=25, with_jf=False).combined
    assert row["DetA"] > 0.75 and row["IDF1"] > 0.95 and row["IDSW"] == 0

"""Scoring trackers on simulated scenes: render a seeded scene, feed its frames and the noise
model's detections to a tracker, score what it emits against the scene's ground truth.

A *runner* turns one scene and one detector into predicted frames. Runners are looked up by
name in ``RUNNERS``; ``online_runner`` wraps any live tracker (``FlashTracker`` or a baseline:
anything with ``step(image, stamp_ns)``, ``add_detections(stamp_ns, instances)`` and
``current()``), built fresh per scene by a factory, so new trackers plug in without touching
this module (``register_runner``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.eval.metrics import EvalReport, evaluate
from sam2auto_ros.eval.sequences import EvalError
from sam2auto_ros.sim import DetectorNoise, NoisyDetector, Scene, noise_preset, scene_config


class OnlineTracker(Protocol):
    """What ``online_runner`` drives: the live tracker's interface."""

    def step(self, image: np.ndarray, stamp_ns: int) -> FrameInstances: ...

    def add_detections(self, stamp_ns: int, instances: Iterable[Instance]) -> object: ...

    def current(self) -> FrameInstances | None: ...


Runner = Callable[[Scene, NoisyDetector], list[FrameInstances]]
TrackerFactory = Callable[[], OnlineTracker]

#: ids given to false-positive detections by the oracle runner: never a ground-truth id
_FALSE_POSITIVE_IDS = 1_000_000


def ground_truth_runner(scene: Scene, detector: NoisyDetector) -> list[FrameInstances]:
    """The truth itself (the harness's own sanity check: every score is perfect)."""
    return [frame.gt for frame in scene.frames()]


def oracle_detection_runner(scene: Scene, detector: NoisyDetector) -> list[FrameInstances]:
    """The noisy detections with their true identities: what a perfect identity layer with no
    propagation could reach (misses stay misses; each false positive is a one-frame track)."""
    detected = [detector.detect_with_truth(frame.gt) for frame in scene.frames()]
    return oracle_tracks([d for d, _ in detected], [s for _, s in detected])


def oracle_tracks(detections: Sequence[FrameInstances], sources: Sequence[Sequence[int]]) -> list[FrameInstances]:
    """Detections given the ids of the objects they came from (``sources``, 0 for a false positive,
    which becomes a one-frame track), each with the box of its mask, as a tracker echoing the
    detections would publish it: the ceiling for any tracker that only echoes detections."""
    out, fresh = [], _FALSE_POSITIVE_IDS
    for frame, frame_sources in zip(detections, sources):
        instances = []
        for inst, source in zip(frame.instances, frame_sources):
            if not source:
                fresh += 1
            box = inst.mask.box_xyxy() if inst.mask is not None else inst.box
            instances.append(replace(inst, box=box, track_id=source or fresh, status=InstanceStatus.CONFIRMED))
        out.append(replace(frame, instances=tuple(instances)))
    return out


def online_runner(factory: TrackerFactory, latency: int = 0) -> Runner:
    """Drive a fresh live tracker per scene; detections of frame ``t`` arrive after frame ``t + latency``.

    The prediction for frame ``t`` is what the tracker reports right after handling frame ``t``
    (and any detections that arrived by then), as a live consumer would see it.
    """
    if latency < 0:
        raise ValueError(f"latency must be >= 0 frames, got {latency}")

    def run(scene: Scene, detector: NoisyDetector) -> list[FrameInstances]:
        tracker = factory()
        pending: list[tuple[int, FrameInstances]] = []
        out = []
        for frame in scene.frames():
            tracker.step(frame.image, frame.stamp_ns)
            pending.append((frame.index, detector.detect(frame.gt)))
            while pending and pending[0][0] <= frame.index - latency:
                _, detections = pending.pop(0)
                tracker.add_detections(detections.stamp_ns, detections.instances)
            current = tracker.current()
            if current is None:
                raise EvalError(f"tracker reported no frame after step {frame.index}")
            out.append(replace(current, frame_index=frame.index))
        return out

    return run


def _flash_factory() -> OnlineTracker:
    from sam2auto_ros.fallback import OpticalFlowPropagator
    from sam2auto_ros.flash.tracker import FlashTracker

    return FlashTracker(OpticalFlowPropagator())


RUNNERS: dict[str, Runner] = {
    "gt": ground_truth_runner,
    "oracle-detections": oracle_detection_runner,
    "flash": online_runner(_flash_factory),
}


def register_runner(name: str, runner: Runner) -> None:
    """Make ``runner`` available to ``evaluate_sim`` and ``sam2auto eval sim --tracker name``."""
    RUNNERS[name] = runner


def evaluate_sim(
    runner: str | Runner,
    preset: str = "mixed",
    seeds: Sequence[int] = (0,),
    noise: str | DetectorNoise = "benchmark",
    with_jf: bool = True,
    class_agnostic_ap: bool = False,
    **scene_overrides,
) -> EvalReport:
    """Score ``runner`` on the scenes ``preset`` x ``seeds`` (mask similarity, J&F and mask AP)."""
    sequences = sim_sequences(runner, preset, seeds, noise, **scene_overrides)
    return evaluate(sequences, similarity="mask", class_agnostic_ap=class_agnostic_ap, with_jf=with_jf)


def sim_sequences(
    runner: str | Runner, preset: str = "mixed", seeds: Sequence[int] = (0,), noise: str | DetectorNoise = "benchmark",
    **scene_overrides,
) -> dict[str, tuple[list[FrameInstances], list[FrameInstances]]]:
    """``{"<preset>-s<seed>": (ground truth, what runner tracked)}`` for the scenes ``preset`` x ``seeds``."""
    if isinstance(runner, str):
        try:
            runner = RUNNERS[runner]
        except KeyError:
            raise EvalError(f"unknown tracker {runner!r}; known: {', '.join(RUNNERS)}") from None
    noise = noise_preset(noise) if isinstance(noise, str) else noise
    sequences = {}
    for seed in seeds:
        scene = Scene(scene_config(preset, seed=seed, **scene_overrides))
        predicted = runner(scene, NoisyDetector(noise, sequence_seed=seed))
        sequences[f"{preset}-s{seed}"] = ([f.gt for f in scene.frames()], predicted)
    return sequences

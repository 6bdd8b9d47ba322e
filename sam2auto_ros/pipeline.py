"""The one offline pipeline object: frames -> SMART-OD detections -> FLASH tracks.

The bag annotator, the demo and the benchmarks all run this, so what is measured offline is what
is shipped. Two pieces are pluggable:

* the **detector** (anything with ``detect(image, stamp_ns, truth) -> FrameInstances``):
  SMART-OD when its weights are present, otherwise the simulator's detector noise model applied
  to the ground truth that simulated recordings carry (``SimDetector``);
* the **propagator** FLASH runs on: the SAM 2 engine when a checkpoint resolves, otherwise the
  weight-free optical-flow fallback.

``Pipeline.create`` picks them ("auto": the real models when present, the embedded default when
not) and says which it picked in ``describe()`` (written into bag metadata). Time spent inside the
detector and the propagator is "model time"; ``PipelineTiming`` keeps it apart from the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.propagation import ObjectPrediction, Prompt, Propagator
from sam2auto_ros.core.validation import ValidationError, check_class_names
from sam2auto_ros.flash.config import FlashConfig
from sam2auto_ros.flash.offline import run_offline
from sam2auto_ros.flash.tracker import FlashTracker

log = logging.getLogger(__name__)

BACKENDS = ("auto", "sam2", "fallback")
DETECTORS = ("auto", "smart-od", "sim")
DEFAULT_MODEL = "sam2.1_hiera_tiny"


class PipelineError(RuntimeError):
    """The pipeline cannot run as asked (no detector for this input, unknown backend...)."""


def _checked_classes(classes: Sequence[str]) -> tuple[str, ...]:
    """The label map by the one class-name rule (an empty or repeated name would make every
    dataset exported from the labelled bag refuse it)."""
    try:
        return tuple(check_class_names(list(classes), "classes"))
    except ValidationError as exc:
        raise PipelineError(str(exc)) from exc


class Detector(Protocol):
    """What the pipeline needs of a detector. ``truth`` is the frame's ground truth when known."""

    name: str
    needs_truth: bool

    def detect(self, image: np.ndarray, stamp_ns: int, truth: FrameInstances | None = None) -> FrameInstances: ...

    def reset(self) -> None:
        """A new sequence: forget per-sequence state (score statistics, noise draws)."""


class SimDetector:
    """The weight-free detector: the simulator's noise model applied to the frame's ground truth.

    It only works on simulated recordings (they carry the ground truth); it stands in for
    SMART-OD where no detector weights exist, so the rest of the pipeline runs for real.
    """

    name = "sim-noise-model"
    needs_truth = True

    def __init__(self, classes: Sequence[str] | None = None, noise: str = "mild", seed: int = 0) -> None:
        from sam2auto_ros.sim import NoisyDetector, noise_preset

        self.classes = tuple(classes) if classes else None
        self._detector = NoisyDetector(noise_preset(noise), sequence_seed=seed)

    def detect(self, image: np.ndarray, stamp_ns: int, truth: FrameInstances | None = None) -> FrameInstances:
        if truth is None:
            raise PipelineError(
                "the weight-free detector (sim noise model) needs ground truth, which this input does not carry; "
                "install detector weights for SMART-OD or annotate a simulated recording"
            )
        frame = self._detector.detect(truth)
        if self.classes is not None:
            frame = FrameInstances(frame.stamp_ns, frame.height, frame.width,
                                   tuple(i for i in frame.instances if i.label in self.classes), frame.frame_id, frame.frame_index)
        return FrameInstances(int(stamp_ns), frame.height, frame.width, frame.instances, frame.frame_id, frame.frame_index)

    def reset(self) -> None:
        """A new sequence: the noise model's draws (and its detection gaps) start over, as for a fresh detector."""
        self._detector.reset()


class TimedPropagator:
    """A ``Propagator`` that adds up the wall time spent in the wrapped one (model time)."""

    def __init__(self, inner: Propagator) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0

    def _timed(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def step(self, image: np.ndarray) -> dict[int, ObjectPrediction]:
        return self._timed(self.inner.step, image)

    def add_object(self, obj_id: int, prompt: Prompt, frame_index: int | None = None) -> ObjectPrediction:
        return self._timed(self.inner.add_object, obj_id, prompt, frame_index)

    def remove_object(self, obj_id: int) -> None:
        self.inner.remove_object(obj_id)

    @property
    def object_ids(self) -> list[int]:
        return self.inner.object_ids

    @property
    def frame_index(self) -> int:
        return self.inner.frame_index

    @property
    def oldest_promptable_frame(self) -> int:
        return self.inner.oldest_promptable_frame

    def reset(self) -> None:
        self.inner.reset()


@dataclass
class PipelineTiming:
    """Seconds spent, cumulative over ``run``/``detect``/``track`` calls."""

    frames: int = 0
    detector_s: float = 0.0
    propagator_s: float = 0.0
    tracking_s: float = 0.0  # FLASH as a whole, propagator included

    @property
    def model_s(self) -> float:
        return self.detector_s + self.propagator_s


@dataclass(frozen=True)
class PipelineFrame:
    """One input frame: RGB pixels, its stamp, and (simulated inputs only) its ground truth."""

    image: np.ndarray
    stamp_ns: int
    truth: FrameInstances | None = None
    frame_id: str = ""


@dataclass
class PipelineOutput:
    detections: list[FrameInstances]
    tracks: list[FrameInstances]
    timing: PipelineTiming
    info: dict[str, Any] = field(default_factory=dict)


class Pipeline:
    """SMART-OD + FLASH over one video; ``run`` for a whole sequence, ``detect`` + ``track`` in parts."""

    def __init__(
        self,
        detector: Detector,
        propagator: Propagator,
        classes: Sequence[str] = (),
        flash_config: FlashConfig | None = None,
        model: str = "",
        detect_every: int = 1,
    ) -> None:
        if detect_every < 1:
            raise PipelineError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self.propagator = TimedPropagator(propagator)
        self.classes = _checked_classes(classes)
        self.flash_config = flash_config or FlashConfig()
        self.model = model
        self.detect_every = detect_every
        self.timing = PipelineTiming()

    @classmethod
    def create(
        cls,
        classes: Sequence[str] = (),
        backend: str = "auto",
        detector: str = "auto",
        model: str = DEFAULT_MODEL,
        models_dir: str | None = None,
        checkpoint: str | None = None,
        image_size: int | None = None,
        device: str = "cpu",
        seed: int = 0,
        flash_config: FlashConfig | None = None,
        detect_every: int = 1,
        smart_od_config: str | None = None,
    ) -> Pipeline:
        """The real models where their weights are present, the embedded default where not.

        ``smart_od_config`` is SMART-OD's parameter file (config/smart_od.yaml layout); it names
        the open-vocabulary detector's model, without which "auto" uses the sim noise model. A file
        given that cannot build SMART-OD is an error, never a silent switch to the noise model.
        """
        _checked_classes(classes)  # before any model is loaded
        if backend not in BACKENDS:
            raise PipelineError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if detector not in DETECTORS:
            raise PipelineError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
        propagator, model_name = _make_propagator(backend, model, models_dir, checkpoint, image_size, device)
        sam2_params = {"model": model, "checkpoint": checkpoint or "", "models_dir": models_dir or "", "device": device,
                       "image_size": image_size or 0, "torch_threads": 0}
        det = _make_detector(detector, classes, seed, {**sam2_params, "smart_od_config": smart_od_config or ""})
        return cls(det, propagator, classes, flash_config, model_name, detect_every)

    def describe(self) -> dict[str, Any]:
        """What ran, for bag metadata and reports."""
        return {
            "detector": self.detector.name,
            "backend": self.propagator.name,
            "model": self.model,
            "classes": list(self.classes),
            "detect_every": self.detect_every,
            "flash": self.flash_config.to_dict(),
        }

    @property
    def needs_truth(self) -> bool:
        return bool(getattr(self.detector, "needs_truth", False))

    def reset(self) -> None:
        """Start a new sequence (another camera, another recording) with the same loaded models.

        The detector forgets its per-sequence state (SMART-OD's score window, the noise model's
        draws). FLASH needs nothing here: every ``track`` call starts a fresh tracker (new track
        ids) and resets the propagator.
        """
        self.detector.reset()

    # -- the stages ---------------------------------------------------------------------------
    def detect(self, image: np.ndarray, stamp_ns: int, truth: FrameInstances | None = None, frame_id: str = "") -> FrameInstances:
        start = time.perf_counter()
        frame = self.detector.detect(image, stamp_ns, truth)
        self.timing.detector_s += time.perf_counter() - start
        return FrameInstances(frame.stamp_ns, frame.height, frame.width, frame.instances, frame_id or frame.frame_id, frame.frame_index)

    def wants_detection(self, index: int) -> bool:
        return index % self.detect_every == 0

    def track(
        self,
        images: Sequence[np.ndarray],
        stamps: Sequence[int],
        detections: Sequence[Sequence[Instance] | None],
        offline: bool = True,
        frame_id: str = "",
    ) -> list[FrameInstances]:
        """FLASH over a whole sequence. ``offline`` adds hindsight (short-track removal, backfill).

        ``images`` is indexed more than once in offline mode; a lazy sequence (e.g. a memmap of
        decoded frames) keeps memory flat for long recordings.
        """
        before = self.propagator.seconds
        start = time.perf_counter()
        if offline:
            frames = run_offline(self.propagator, images, stamps, detections, self.flash_config, frame_id).frames
        else:
            tracker = FlashTracker(self.propagator, self.flash_config, frame_id)
            tracker.reset()
            frames = []
            for image, stamp, dets in zip(images, stamps, detections):
                tracker.step(image, stamp, render=False)  # rendered once, by current()
                if dets is not None:
                    tracker.add_detections(stamp, dets)
                frames.append(tracker.current())
        self.timing.tracking_s += time.perf_counter() - start
        self.timing.propagator_s += self.propagator.seconds - before
        self.timing.frames += len(frames)
        return [FrameInstances(f.stamp_ns, f.height, f.width, f.instances, frame_id, i) for i, f in enumerate(frames)]

    def run(self, frames: Iterable[PipelineFrame], offline: bool = True) -> PipelineOutput:
        """Detect on every ``detect_every``-th frame, then track the whole sequence."""
        images, stamps, dets, det_frames = [], [], [], []
        frame_id = ""
        for i, frame in enumerate(frames):
            images.append(frame.image)
            stamps.append(int(frame.stamp_ns))
            frame_id = frame.frame_id
            if self.wants_detection(i):
                found = self.detect(frame.image, frame.stamp_ns, frame.truth, frame.frame_id)
                dets.append(found.instances)
                det_frames.append(found)
            else:
                dets.append(None)
        if not images:
            raise PipelineError("no frames to process")
        tracks = self.track(images, stamps, dets, offline, frame_id)
        return PipelineOutput(det_frames, tracks, self.timing, self.describe())


def _make_propagator(
    backend: str, model: str, models_dir: str | None, checkpoint: str | None, image_size: int | None, device: str
) -> tuple[Propagator, str]:
    if backend in ("auto", "sam2"):
        from sam2auto_ros.sam2.registry import CheckpointError, resolve_checkpoint

        try:
            resolve_checkpoint(model, checkpoint, models_dir)
        except CheckpointError as exc:
            if backend == "sam2":
                raise PipelineError(str(exc)) from exc
            log.info("no SAM 2 checkpoint (%s); using the weight-free optical-flow fallback", exc)
        else:
            from sam2auto_ros.sam2.engine import Sam2StreamEngine

            return Sam2StreamEngine.from_checkpoint(model, checkpoint, models_dir, device=device, image_size=image_size), model
    from sam2auto_ros.fallback import OpticalFlowPropagator

    return OpticalFlowPropagator(), ""


def _make_detector(kind: str, classes: Sequence[str], seed: int, params: dict[str, Any]) -> Detector:
    if kind in ("auto", "smart-od"):
        try:
            return SmartOdDetector.build(classes, params)
        except PipelineError as exc:
            if kind == "smart-od" or params.get("smart_od_config"):  # asked for by name or by its file
                raise
            log.info("%s; using the simulator's detector noise model on ground truth", exc)
    return SimDetector(classes, seed=seed)


class SmartOdDetector:
    """SMART-OD (SAM 2 mask generation + open-vocabulary detection + robust thresholds) as a Detector."""

    needs_truth = False

    def __init__(self, smart_od: Any, classes: Sequence[str]) -> None:
        self.smart_od = smart_od
        self.name = "smart-od"
        if classes:
            smart_od.set_classes(list(classes))

    @classmethod
    def build(cls, classes: Sequence[str], params: dict[str, Any]) -> SmartOdDetector:
        """SMART-OD with its weights, or ``PipelineError`` saying why it cannot be built here."""
        try:
            from sam2auto_ros.smart_od.pipeline import SmartOD  # type: ignore[import-not-found]
        except ImportError as exc:
            raise PipelineError(f"SMART-OD is not available in this installation ({exc})") from None
        try:
            smart_od = SmartOD.from_params({"classes": list(classes), **params})
        except (OSError, ValueError, RuntimeError) as exc:
            raise PipelineError(f"SMART-OD cannot be built (no detector weights?): {exc}") from None
        return cls(smart_od, classes)

    def detect(self, image: np.ndarray, stamp_ns: int, truth: FrameInstances | None = None) -> FrameInstances:
        found = self.smart_od.detect(image)
        height, width = image.shape[:2]
        return FrameInstances(int(stamp_ns), height, width, tuple(found.instances))

    def reset(self) -> None:
        """A new sequence: SMART-OD forgets the pooled scores of earlier frames (its ScoreWindow)."""
        self.smart_od.reset()

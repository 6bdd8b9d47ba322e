"""``smart_od_node``: detection as a ROS 2 node (glue around SMART-OD or the simulated detector).

Subscribes ``image`` (latest-frame policy: a slow detector skips frames, it never queues them)
and publishes ``detections`` (InstanceMaskArray, track_id -1) stamped with the source frame, so
the tracker can apply them to that frame however late they arrive.

Backends (``detector``):
- ``smart-od``: the SMART-OD pipeline (SAM 2 mask generation + open-vocabulary detector +
  robust thresholding), parameters as in ``config/smart_od.yaml``;
- ``sim-noise``: no weights; takes the simulator's ``ground_truth`` for each frame (matched by
  stamp) through the simulator's detector noise model (misses in bursts, false positives, noisy
  masks). ``sim_latency`` adds model time, so the graph sees late and skipped detections as it
  would with a real, slow detector.
``classes`` (the vocabulary) can change at run time; detections of other classes are dropped.
With ``cameras: [front, rear]`` each camera reads ``<camera>/image`` (and, for sim-noise,
``<camera>/ground_truth``) and writes ``<camera>/detections``; the detector and SAM 2 are loaded
once and each camera keeps its own score statistics.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict, defaultdict
from typing import Any

from rclpy.qos import QoSProfile, ReliabilityPolicy

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.core.validation import check_class_names
from sam2auto_ros.io.camera_topics import camera_topic
from sam2auto_ros.ros.backends import PROPAGATOR_PARAMS, set_torch_threads
from sam2auto_ros.ros.image_pipeline_node import IMAGE_PARAMS, NS_PER_MS, ImagePipelineNode
from sam2auto_ros.ros.managed_node import OUTPUT_QOS, ConfigureError, run_node
from sam2auto_ros.ros.messages import InstanceMaskArray, frame_from_msg, frames_msg, stamp_to_ns
from sam2auto_ros.ros.params import RUNTIME, ParamSpec
from sam2auto_ros.sim import CLASS_NAMES, NOISE_PRESETS, NoisyDetector, noise_preset

DETECTORS = ("smart-od", "sim-noise")
GT_WAIT_S = 0.5  # how long a frame waits for its ground truth (published at the same instant)

# SAM 2 (for SMART-OD's mask generation) is chosen like the tracker's propagator, minus `propagator`.
SAM2_PARAMS = tuple(p for p in PROPAGATOR_PARAMS if p.name != "propagator")


class SmartOdNode(ImagePipelineNode):
    PARAMS = (
        *IMAGE_PARAMS,
        ParamSpec("detector", "sim-noise", "Detection backend.", choices=DETECTORS),
        ParamSpec("classes", list(CLASS_NAMES), "Class names to detect (the open vocabulary); none empty, none twice.",
                  when=RUNTIME, rule=check_class_names),
        ParamSpec("smart_od_config", "", "SMART-OD parameter file (config/smart_od.yaml: `smart_od_node: "
                  "ros__parameters:` with its amg/detector/threshold/roi/slicing/pairing sections); empty: defaults."),
        *SAM2_PARAMS,
        ParamSpec("sim_noise", "mild", "sim-noise: detector noise preset.", choices=tuple(NOISE_PRESETS)),
        ParamSpec("sim_seed", 0, "sim-noise: seed of the noise draws.", low=0, high=2**31 - 1),
        ParamSpec("sim_latency", 0.0, "sim-noise: seconds of simulated model time per frame.", low=0.0, high=60.0),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("smart_od_node", **kwargs)
        self.detectors: dict[str, Any] = {}  # per camera
        self.model_text = ""
        self._pubs: dict[str, Any] = {}
        self._classes: tuple[str, ...] = tuple(self.param("classes"))
        self._gt: defaultdict[str, OrderedDict[int, Any]] = defaultdict(OrderedDict)  # per camera, by stamp
        self._gt_cond = threading.Condition()

    # -- lifecycle ----------------------------------------------------------------------------
    def build(self, params: dict[str, Any]) -> None:
        self._classes = tuple(params["classes"])
        if params["detector"] == "sim-noise":
            noise = noise_preset(params["sim_noise"], seed=params["sim_seed"])
            self.detectors = {c: NoisyDetector(noise, sequence_seed=i) for i, c in enumerate(self.cameras)}
            self.model_text = f"simulated detector, noise {params['sim_noise']}, latency {params['sim_latency']} s"
        else:
            first, self.model_text = _build_smart_od(params)
            self.detectors = {c: first if i == 0 else first.for_another_camera() for i, c in enumerate(self.cameras)}
        self._pubs = {c: self.create_lifecycle_publisher(InstanceMaskArray, camera_topic(c, "detections"), OUTPUT_QOS)
                      for c in self.cameras}

    def describe(self) -> str:
        cameras = f"; cameras {list(self.cameras)}" if len(self.cameras) > 1 else ""
        return f"detector {self.param('detector')}: {self.model_text}; classes {list(self._classes)}{cameras}"

    def wire_extra(self, camera: str) -> None:
        if self.param("detector") == "sim-noise":
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
            self._subs.append(self.create_subscription(InstanceMaskArray, camera_topic(camera, "ground_truth"),
                                                       lambda msg: self._on_gt(camera, msg), qos))

    def free(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs, self.detectors = {}, {}
        with self._gt_cond:
            self._gt.clear()

    def new_sequence(self, camera: str) -> None:
        detector = self.detectors.get(camera)
        if detector is not None:
            detector.reset()

    def check_parameter(self, name: str, value: Any) -> str | None:
        if name == "classes" and not value:
            return "classes must name at least one class"
        return None

    def on_runtime_parameter(self, name: str, value: Any) -> None:
        if name == "classes":
            self._classes = tuple(value)  # read by the worker on its next frame
            self.get_logger().info(f"classes now {list(value)}")

    # -- sim ground truth ---------------------------------------------------------------------
    def _on_gt(self, camera: str, msg: Any) -> None:
        with self._gt_cond:
            buffer = self._gt[camera]
            buffer[stamp_to_ns(msg.header.stamp)] = msg
            while len(buffer) > 64:
                buffer.popitem(last=False)
            self._gt_cond.notify_all()

    def _ground_truth(self, camera: str, stamp_ns: int) -> FrameInstances | None:
        with self._gt_cond:
            buffer = self._gt[camera]
            self._gt_cond.wait_for(lambda: stamp_ns in buffer or not self.active, GT_WAIT_S)
            msg = buffer.pop(stamp_ns, None)
        return frame_from_msg(msg) if msg is not None else None

    # -- frames -------------------------------------------------------------------------------
    def process(self, camera: str, rgb: Any, stamp_ns: int, frame_id: str, timings: dict[str, float]) -> None:
        classes = self._classes
        detector = self.detectors[camera]
        t0 = time.time_ns()
        if isinstance(detector, NoisyDetector):
            try:
                gt = self._ground_truth(camera, stamp_ns)
            except MaskCodecError as exc:
                self.reject("bad_ground_truth", f"ground truth at {stamp_ns} unreadable: {exc}")
                return
            if gt is None:
                self.reject("no_ground_truth", f"no ground truth stamped {stamp_ns} within {GT_WAIT_S} s (sim-noise "
                            "needs sim_camera_node's ground_truth topic)")
                return
            if gt.height != rgb.shape[0] or gt.width != rgb.shape[1]:
                self.reject("bad_ground_truth", "ground truth size differs from the image")
                return
            t0 = time.time_ns()  # waiting for the ground truth is not model time
            instances = detector.detect(gt).instances
            time.sleep(self.param("sim_latency"))
        else:
            instances = detector.detect(rgb, classes)
        kept = tuple(inst for inst in instances if inst.label in classes)
        t1 = time.time_ns()
        out = FrameInstances(stamp_ns, rgb.shape[0], rgb.shape[1], kept, frame_id)
        self._pubs[camera].publish(frames_msg(out))
        t2 = time.time_ns()
        timings["model"] = (t1 - t0) / NS_PER_MS
        timings["publish"] = (t2 - t1) / NS_PER_MS
        self.finish_frame(stamp_ns, timings)

    def status_values(self) -> dict[str, Any]:
        values = super().status_values()
        values["backend"] = self.param("detector")
        values["model"] = self.model_text
        values["classes"] = ",".join(self._classes)
        shared = next((d for d in self.detectors.values() if isinstance(d, _SmartOdAdapter)), None)
        if shared is not None:  # one detector serves every camera: its text-embedding cache once
            values.update(shared.detector_values())
        return values


class _SmartOdAdapter:
    """SMART-OD behind the one call the node makes: ``detect(rgb, classes) -> instances``."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.classes: tuple[str, ...] = tuple(pipeline.class_names)

    def detect(self, rgb: Any, classes: tuple[str, ...]) -> tuple:
        if classes != self.classes:
            self.pipeline.set_classes(list(classes))
            self.classes = classes
        return tuple(self.pipeline.detect(rgb).instances)

    def reset(self) -> None:
        self.pipeline.reset()

    def detector_values(self) -> dict[str, int]:
        """The open-vocabulary detector's text-embedding cache counters, where it keeps one."""
        stats = getattr(self.pipeline.detector, "cache_stats", None)
        return stats().as_dict() if stats is not None else {}

    def for_another_camera(self) -> _SmartOdAdapter:
        """The same detector and SAM 2 model (loaded once), with this camera's own score statistics."""
        p = self.pipeline
        return _SmartOdAdapter(type(p)(copy.deepcopy(p.config), p.detector, sam_model=p.sam_model, encoder=p.encoder))


def _build_smart_od(params: dict[str, Any]) -> tuple[Any, str]:
    set_torch_threads(params["torch_threads"])
    from sam2auto_ros.smart_od.pipeline import SmartOD

    try:
        pipeline = SmartOD.from_params(params)
    except (ImportError, OSError, ValueError, RuntimeError) as exc:
        raise ConfigureError(f"SMART-OD not built: {exc}") from None
    config = params["smart_od_config"] or "built-in defaults"
    return _SmartOdAdapter(pipeline), f"SMART-OD ({config}) with SAM 2 {params['model']}"


def main(args: list[str] | None = None) -> int:
    return run_node(SmartOdNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

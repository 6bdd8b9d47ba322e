"""``flash_node``: the FLASH tracker as a ROS 2 node (glue around ``FlashTracker``).

Subscribes ``image`` (latest-frame policy) and ``detections``; publishes ``tracks``
(InstanceMaskArray stamped with the source frame), ``overlay`` and ``tracks_annotations``
(Foxglove ImageAnnotations: mask outlines and "id label score" texts drawn over the camera; each
only while someone listens) and, where vision_msgs is installed, ``tracks_2d`` (Detection2DArray,
track id in ``id``).

It never waits for the detector: each frame is propagated and published at once. Detections are
queued (bounded) and handed to FLASH with the stamp of the frame they came from; FLASH applies
them to that frame in its ring and carries the result forward. Detections for a frame this node
has not processed yet wait for it; detections for frames it never saw (dropped, too old) are
refused by FLASH, logged and counted.

With ``cameras: [front, rear]`` each camera has its own tracker (ids, memory banks) on the one
loaded model, reads ``<camera>/image`` and ``<camera>/detections`` and writes ``<camera>/tracks``,
``<camera>/overlay``, ``<camera>/tracks_annotations`` and ``<camera>/tracks_2d``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.flash import FlashConfig, FlashConfigError, FlashTracker
from sam2auto_ros.io.camera_topics import camera_topic
from sam2auto_ros.io.image_annotations import AnnotationStyle, build_annotations
from sam2auto_ros.io.overlay import render_overlay
from sam2auto_ros.ros import vision
from sam2auto_ros.ros.backends import PROPAGATOR_PARAMS, make_propagators
from sam2auto_ros.ros.image_pipeline_node import IMAGE_PARAMS, NS_PER_MS, ImagePipelineNode
from sam2auto_ros.ros.managed_node import OUTPUT_QOS, ConfigureError, run_node
from sam2auto_ros.ros.messages import (
    ImageAnnotations,
    InstanceMaskArray,
    annotations_msg,
    frame_from_msg,
    frames_msg,
    header,
    image_msg,
    stamp_to_ns,
)
from sam2auto_ros.ros.params import RUNTIME, ParamSpec, dataclass_specs, to_config_value

FLASH_SPECS = dataclass_specs(FlashConfig)
DETECTIONS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class _CameraTracks:
    """One camera's tracker, its publishers and its detection batches waiting for their frame."""

    tracker: FlashTracker
    pubs: dict[str, Any]
    pending: deque = field(default_factory=deque)


class FlashNode(ImagePipelineNode):
    PARAMS = (
        *IMAGE_PARAMS,
        *PROPAGATOR_PARAMS,
        ParamSpec("publish_masks", True, "Put masks in `tracks`; false = boxes, labels, scores and ids only "
                  "(for planners).", when=RUNTIME),
        ParamSpec("publish_overlay", True, "Render `overlay` while it has subscribers.", when=RUNTIME),
        ParamSpec("publish_annotations", True, "Publish `tracks_annotations` (Foxglove ImageAnnotations) while it "
                  "has subscribers.", when=RUNTIME),
        ParamSpec("annotation_tolerance_px", AnnotationStyle.tolerance_px, "How far a simplified mask outline in "
                  "`tracks_annotations` may stray from the mask's pixel boundary (px).", low=0.0, high=100.0),
        ParamSpec("annotation_max_points", AnnotationStyle.max_points, "Most points per outline in "
                  "`tracks_annotations` (the tolerance grows until it fits).", low=3, high=10000),
        ParamSpec("max_pending_detections", 16, "Detection batches held for frames not processed yet; beyond "
                  "this the oldest are dropped (counted).", low=1, high=1000),
        *FLASH_SPECS,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("flash_node", **kwargs)
        self.streams: dict[str, _CameraTracks] = {}
        self.model_text = ""
        self._pending_lock = threading.Lock()
        self.detections_dropped = 0
        self.detections_applied = 0
        self._publish = {name: self.param(name) for name in ("publish_masks", "publish_overlay", "publish_annotations")}
        self._style = AnnotationStyle()

    # -- lifecycle ----------------------------------------------------------------------------
    def build(self, params: dict[str, Any]) -> None:
        try:
            config = FlashConfig.from_dict({s.name: to_config_value(params[s.name], s.default) for s in FLASH_SPECS})
        except FlashConfigError as exc:
            raise ConfigureError(f"bad FLASH parameter: {exc}") from None
        try:
            self._style = AnnotationStyle(tolerance_px=params["annotation_tolerance_px"],
                                          max_points=params["annotation_max_points"])
        except ValueError as exc:
            raise ConfigureError(str(exc)) from None
        propagators, self.model_text = make_propagators(params, len(self.cameras))
        for camera, propagator in zip(self.cameras, propagators):
            pubs = {
                "tracks": self.create_lifecycle_publisher(InstanceMaskArray, camera_topic(camera, "tracks"), OUTPUT_QOS),
                "overlay": self.create_lifecycle_publisher(Image, camera_topic(camera, "overlay"),
                                                           QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)),
                "annotations": self.create_lifecycle_publisher(ImageAnnotations,
                                                               camera_topic(camera, "tracks_annotations"), OUTPUT_QOS),
            }
            if vision.AVAILABLE:
                pubs["tracks_2d"] = self.create_lifecycle_publisher(vision.Detection2DArray,
                                                                    camera_topic(camera, "tracks_2d"), OUTPUT_QOS)
            self.streams[camera] = _CameraTracks(FlashTracker(propagator, config), pubs)

    def describe(self) -> str:
        cameras = f"; cameras {list(self.cameras)}" if len(self.cameras) > 1 else ""
        return f"propagator {self.param('propagator')}: {self.model_text}{cameras}"

    def wire_extra(self, camera: str) -> None:
        stream = self.streams[camera]
        self._subs.append(self.create_subscription(InstanceMaskArray, camera_topic(camera, "detections"),
                                                   lambda msg: self._on_detections(stream, msg), DETECTIONS_QOS))

    def unwire(self) -> None:
        super().unwire()
        with self._pending_lock:
            for stream in self.streams.values():
                stream.pending.clear()

    def free(self) -> None:
        for stream in self.streams.values():
            for pub in stream.pubs.values():
                self.destroy_lifecycle_publisher(pub)
        self.streams = {}

    def on_runtime_parameter(self, name: str, value: Any) -> None:
        self._publish[name] = bool(value)  # read by the worker on its next frame

    def new_sequence(self, camera: str) -> None:
        stream = self.streams.get(camera)
        if stream is not None:
            stream.tracker.reset()
            with self._pending_lock:
                stream.pending.clear()

    # -- detections ---------------------------------------------------------------------------
    def _on_detections(self, stream: _CameraTracks, msg: Any) -> None:
        with self._pending_lock:
            if len(stream.pending) >= self.param("max_pending_detections"):
                stream.pending.popleft()
                self.detections_dropped += 1
            stream.pending.append(msg)

    def _apply_detections(self, stream: _CameraTracks, newest_stamp_ns: int) -> None:
        """Hand FLASH every queued batch whose frame has been processed (older or equal stamps)."""
        with self._pending_lock:
            ready = [m for m in stream.pending if stamp_to_ns(m.header.stamp) <= newest_stamp_ns]
            for m in ready:
                stream.pending.remove(m)
        for msg in ready:
            stamp_ns = stamp_to_ns(msg.header.stamp)
            try:
                frame = frame_from_msg(msg)
                outcome = stream.tracker.add_detections(stamp_ns, frame.instances)
            except (MaskCodecError, ValueError) as exc:
                self.reject("bad_detections", f"detections stamped {stamp_ns} refused: {exc}")
                continue
            if outcome.accepted:
                self.detections_applied += 1
            else:
                self.reject(f"detections_{outcome.reason}", f"detections stamped {stamp_ns} refused: {outcome.reason} "
                            "(no processed frame with that stamp in FLASH's ring)")

    def idle(self) -> None:
        for camera, stream in list(self.streams.items()):
            if camera in self._last_stamp_ns:
                self._apply_detections(stream, self._last_stamp_ns[camera])

    # -- frames -------------------------------------------------------------------------------
    def process(self, camera: str, rgb: Any, stamp_ns: int, frame_id: str, timings: dict[str, float]) -> None:
        stream = self.streams[camera]
        t0 = time.time_ns()
        stream.tracker.step(rgb, stamp_ns, render=False)  # published via current() below
        self._apply_detections(stream, stamp_ns)
        tracks = dataclasses.replace(stream.tracker.current(), frame_id=frame_id)
        t1 = time.time_ns()
        hdr = header(stamp_ns, frame_id)
        stream.pubs["tracks"].publish(frames_msg(tracks, with_masks=self._publish["publish_masks"]))
        if "tracks_2d" in stream.pubs:
            stream.pubs["tracks_2d"].publish(vision.detection2d_array(tracks, hdr))
        t2 = time.time_ns()
        overlay = stream.pubs["overlay"]
        if self._publish["publish_overlay"] and overlay.get_subscription_count() > 0:
            overlay.publish(image_msg(render_overlay(rgb, tracks), stamp_ns, frame_id))
        annotations = stream.pubs["annotations"]
        if self._publish["publish_annotations"] and annotations.get_subscription_count() > 0:
            annotations.publish(annotations_msg(build_annotations(tracks, self._style), self._style))
        timings["model"] = (t1 - t0) / NS_PER_MS
        timings["publish"] = (t2 - t1) / NS_PER_MS
        self.finish_frame(stamp_ns, timings)

    def status_values(self) -> dict[str, Any]:
        values = super().status_values()
        values["backend"] = self.param("propagator")
        values["model"] = self.model_text
        streams = list(self.streams.values())
        with self._pending_lock:
            values["detections_pending"] = sum(len(s.pending) for s in streams)
        values["detections_applied"] = self.detections_applied
        values["detections_dropped"] = self.detections_dropped
        if streams:  # summed over cameras
            for key in ("live_tracks", "live_confirmed", "live_tentative", "live_occluded"):
                values[key] = sum(getattr(s.tracker.stats, key) for s in streams)
        return values


def main(args: list[str] | None = None) -> int:
    return run_node(FlashNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

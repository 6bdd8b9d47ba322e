"""``recorder_node``: records the camera frames, detections and tracks to a rosbag2 as they arrive.

Glue only: raw (``raw=True``) subscriptions hand each message's serialized bytes, unchanged, to
:class:`sam2auto_ros.io.recorder.BagRecorder`, which splits, flushes and survives ``kill -9``
(see its docstring for the crash window). The bag is opened at configure and finished at
cleanup / shutdown; the label map, model, backend and parameters go into its metadata.
Messages are stamped with their receive time on the node's clock (``use_sim_time`` honoured),
like ``ros2 bag record``.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image

from sam2auto_ros.core.validation import check_ros_name
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import STORAGES, BagError
from sam2auto_ros.io.camera_topics import camera_topic
from sam2auto_ros.io.recorder import BagRecorder
from sam2auto_ros.msg import InstanceMaskArray
from sam2auto_ros.ros.image_pipeline_node import camera_names
from sam2auto_ros.ros.managed_node import ConfigureError, ManagedNode, run_node
from sam2auto_ros.ros.params import ParamSpec

MSGTYPES = {
    Image: "sensor_msgs/msg/Image",
    CompressedImage: "sensor_msgs/msg/CompressedImage",
    InstanceMaskArray: "sam2auto_ros/msg/InstanceMaskArray",
}


def _topic_or_empty(value: str, name: str) -> str:
    """A topic name by ROS's rules, or '' (not recorded)."""
    return value if value == "" else check_ros_name(value, name)


class RecorderNode(ManagedNode):
    PARAMS = (
        ParamSpec("bag_path", "", "Output bag directory (must not exist); empty: recordings/sam2auto_<UTC time>."),
        ParamSpec("storage", "mcap", "rosbag2 storage.", choices=tuple(STORAGES)),
        ParamSpec("cameras", [""], "As the pipeline nodes' `cameras`: the image, detections, tracks and overlay "
                  "topics are recorded under each `<camera>/`. [''] (default): one camera."),
        ParamSpec("image_topic", "image", "Camera topic to record.", rule=_topic_or_empty),
        ParamSpec("compressed", False, "The camera topic carries sensor_msgs/CompressedImage instead of Image."),
        ParamSpec("detections_topic", "detections", "SMART-OD detections (InstanceMaskArray); empty: not recorded.",
                  rule=_topic_or_empty),
        ParamSpec("tracks_topic", "tracks", "FLASH tracks (InstanceMaskArray); empty: not recorded.", rule=_topic_or_empty),
        ParamSpec("overlay_topic", "", "Overlay image topic; empty (default): not recorded.", rule=_topic_or_empty),
        ParamSpec("extra_topics", [""], "More topics to record, each `name:package/msg/Type` "
                  "(e.g. `camera_info:sensor_msgs/msg/CameraInfo`, `ground_truth:sam2auto_ros/msg/InstanceMaskArray`)."),
        ParamSpec("split_size_mb", 0.0, "Start a new bag file after this many MB; 0: never.", low=0.0, high=1e6),
        ParamSpec("split_duration_s", 0.0, "Start a new bag file after this many seconds; 0: never.", low=0.0, high=1e7),
        ParamSpec("flush_period_s", 1.0, "Seconds between flushes: the most a killed recorder loses.", low=0.05, high=600.0),
        ParamSpec("queue_depth", 100, "Subscription queue depth (reliable): frames held while the disk is busy.", low=1, high=10000),
        ParamSpec("labels", [""], "Label map written to the bag metadata (the detector's class names)."),
        ParamSpec("model", "", "Model name written to the bag metadata."),
        ParamSpec("backend", "", "Backend (torch, onnxruntime, fallback) written to the bag metadata."),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("recorder_node", **kwargs)
        self.recorder: BagRecorder | None = None
        self._subs: list = []
        self._flush_timer: Timer | None = None
        self._extra: list[tuple[str, type, str]] = []
        self.cameras: tuple[str, ...] = ("",)
        self.write_errors = 0
        self.recorded: Counter[str] = Counter()  # messages written per topic, for /diagnostics

    def build(self, params: dict[str, Any]) -> None:
        self._extra = [_parse_extra(item) for item in params["extra_topics"] if item]
        self.cameras = camera_names(params["cameras"])
        absolute = [params[k] for k in ("image_topic", "detections_topic", "tracks_topic", "overlay_topic")
                    if params[k].startswith("/")]
        if self.cameras != ("",) and absolute:
            raise ConfigureError(f"{absolute} are absolute topic names, which cannot be recorded per camera; "
                                 "give them relative to the camera (e.g. image_topic: image)")
        self.recorded.clear()  # counts belong to one bag
        path = params["bag_path"] or f"recordings/sam2auto_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
        if Path(path).exists():
            raise ConfigureError(f"bag_path {path} already exists; choose a new path (a bag is never overwritten)")
        custom = {
            "labels": [label for label in params["labels"] if label],
            "model": params["model"],
            "backend": params["backend"],
            "recorder_parameters": {k: v for k, v in params.items() if k not in ("labels", "model", "backend")},
        }
        self.recorder = BagRecorder(
            path,
            params["storage"],
            split_bytes=int(params["split_size_mb"] * 1e6) or None,
            split_seconds=params["split_duration_s"] or None,
            flush_seconds=params["flush_period_s"],
            custom_data=custom,
        )
        # A flush at least every flush_period_s even when no message arrives to trigger one.
        self._flush_timer = self.create_timer(params["flush_period_s"], self._flush)

    def describe(self) -> str:
        return f"recording to {self.recorder.path} ({self.recorder.storage})" if self.recorder else ""

    def wire(self) -> None:
        p = self.params()
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=p["queue_depth"], reliability=ReliabilityPolicy.RELIABLE)
        per_camera = [(p["image_topic"], CompressedImage if p["compressed"] else Image)]
        per_camera += [(p[name], InstanceMaskArray) for name in ("detections_topic", "tracks_topic") if p[name]]
        if p["overlay_topic"]:
            per_camera.append((p["overlay_topic"], Image))
        topics = [(camera_topic(camera, topic), cls) for camera in self.cameras for topic, cls in per_camera]
        typed = [(topic, cls, MSGTYPES[cls]) for topic, cls in topics] + self._extra
        for topic, cls, msgtype in typed:
            name = self.resolve_topic_name(topic)
            self._subs.append(self.create_subscription(cls, name, self._callback_for(name, msgtype), qos, raw=True))
            self.get_logger().info(f"recording {name} ({msgtype})")

    def _callback_for(self, topic: str, msgtype: str):
        def record(raw: bytes) -> None:
            if self.recorder is None:
                return
            try:
                self.recorder.write_raw(topic, msgtype, raw, self.get_clock().now().nanoseconds)
                self.recorded[topic] += 1
            except (OSError, BagError) as exc:  # disk full, storage error: keep the node up, say so
                self.write_errors += 1
                self.last_error = f"cannot write to {self.recorder.path}: {exc}"
                self.get_logger().error(self.last_error, throttle_duration_sec=5.0)

        return record

    def _flush(self) -> None:
        if self.recorder is not None:
            self.recorder.flush()

    def unwire(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs.clear()
        if self.recorder is not None:
            self.recorder.flush()

    def free(self) -> None:
        if self._flush_timer is not None:
            self.destroy_timer(self._flush_timer)
            self._flush_timer = None
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            recorder.close()
            self.get_logger().info(f"bag finished: {recorder.path} ({recorder.message_count} messages)")

    def status_values(self) -> dict[str, Any]:
        rec = self.recorder
        if rec is None:
            return {}
        # per topic too: a topic that stays at 0 names a subscription that never matched its publisher
        per_topic = {f"{topic}.messages": count for topic, count in sorted(self.recorded.items())}
        return {"bag": str(rec.path), "messages": rec.message_count, "files": len(rec.files) + 1, "flushes": rec.flush_count,
                "write_errors": self.write_errors, **per_topic}


def _parse_extra(item: str) -> tuple[str, type, str]:
    """``name:package/msg/Type`` -> (topic, message class, type name); ConfigureError when unusable."""
    topic, sep, msgtype = item.rpartition(":")
    parts = msgtype.split("/")
    if not sep or not topic or len(parts) != 3 or parts[1] != "msg":
        raise ConfigureError(f"extra_topics entry {item!r} is not `name:package/msg/Type`")
    if msgtype not in msg_types.typestore().types:
        raise ConfigureError(f"extra_topics: {msgtype} is not a message type the bag writer knows")
    try:
        cls = getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as exc:
        raise ConfigureError(f"extra_topics: cannot import {msgtype} in this ROS installation ({exc})") from None
    return topic, cls, msgtype


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

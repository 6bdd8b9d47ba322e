"""The image-driven half of a pipeline node: camera input, latest-frame policy, bad-input checks.

QoS (why): the image subscription is RELIABLE, depth 1 by default. Camera drivers publish with
the default profile (reliable) unless told otherwise, a reliable subscriber matches them, and
reliable delivery is what keeps large frames arriving (measured in ENVIRONMENT.md: best effort
delivered 1-2 of 150 720p frames at 30 Hz, reliable all). A reliable subscriber does NOT match a
best-effort (sensor-data) publisher: set ``image_reliability:=best_effort`` for those drivers;
the node logs exactly this advice when it sees an incompatible publisher. Depth 1 + the mailbox
below = latest-frame policy: when processing is slower than the camera, unread frames are
replaced and counted as dropped, never queued.

One node can serve several cameras (``cameras: [front, rear]``): each reads ``<camera>/image`` and
writes its outputs under ``<camera>/``, with its own sequence state, while the model is loaded
once and one worker takes the camera that has waited longest (ANCHORS: "one instance serving
several cameras"). The default, ``[""]``, is one camera on the node's own ``image`` topic.

The worker thread turns each frame into RGB pixels and checks it (encoding, corrupt compressed
data, size change, stamps going backwards); a bad frame is logged, counted and skipped, and the
node keeps running. Frames with a zero stamp (drivers that never set it) are stamped on arrival
by default, since stamps are how detections find their frame.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Sequence
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from sam2auto_ros.io.camera_topics import camera_topic, check_camera_names
from sam2auto_ros.io.images import ImageError
from sam2auto_ros.ros.mailbox import LatestMailbox
from sam2auto_ros.ros.managed_node import ConfigureError, ManagedNode
from sam2auto_ros.ros.messages import rgb_of, stamp_to_ns
from sam2auto_ros.ros.node_stats import NodeStats
from sam2auto_ros.ros.params import ParamSpec

NS_PER_MS = 1e6


IMAGE_PARAMS = (
    ParamSpec("cameras", [""], "Cameras this node serves with one model: each name reads `<name>/image` and "
              "writes its outputs under `<name>/` (relative to the node's namespace), with its own tracks and "
              "sequence state. [''] (default): one camera on `image`."),
    ParamSpec("image_reliability", "reliable", "QoS reliability of the image subscription: reliable matches default "
              "camera drivers and keeps large frames; best_effort also matches sensor-data publishers but loses "
              "large frames.", choices=("reliable", "best_effort")),
    ParamSpec("compressed_input", False, "Subscribe to `image/compressed` (sensor_msgs/CompressedImage) instead of `image`."),
    ParamSpec("unstamped_frames", "receive_time", "Frames whose header.stamp is zero (drivers that never set it): "
              "receive_time stamps them with this node's receive time, and the outputs carry that stamp (each node "
              "restamps on its own; FLASH's stamp_tolerance_ns absorbs the transport difference); reject drops them.",
              choices=("receive_time", "reject")),
    ParamSpec("time_jump_reset", 1.0, "A frame stamped this many seconds before the newest one starts a new "
              "sequence (bag loop, camera restart); smaller steps back are dropped as out of order.", low=0.0, high=3600.0),
)


def camera_names(value: Sequence[str]) -> tuple[str, ...]:
    """The ``cameras`` parameter checked (``check_camera_names``), refused as a configure error."""
    try:
        return check_camera_names(value)
    except ValueError as exc:
        raise ConfigureError(str(exc)) from None


def image_qos(reliability: str) -> QoSProfile:
    policy = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=policy)


class ImagePipelineNode(ManagedNode):
    """Subscribes to frames and hands the newest valid one to ``process`` on a worker thread.

    Subclasses list ``PARAMS = (*IMAGE_PARAMS, ...their own)``.
    """

    LOG_FIRST, LOG_EVERY = 5, 100  # each rejection reason: its first 5 occurrences logged, then every 100th

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.mailbox: LatestMailbox[tuple[Any, int, int]] = LatestMailbox()
        self.stats = NodeStats()
        self.cameras: tuple[str, ...] = ("",)
        self.frames_lost_dds = 0
        self.frames_restamped = 0
        self.frames_handled = 0  # taken from the mailbox and finished: tracked, or rejected with a reason
        self._subs: list[Any] = []
        self._worker: threading.Thread | None = None
        self._last_stamp_ns: dict[str, int] = {}  # per camera
        self._last_size: dict[str, tuple[int, int]] = {}

    def on_configure(self, state: Any) -> Any:
        self._last_stamp_ns.clear()  # fresh core objects start fresh sequences
        self._last_size.clear()
        try:
            self.cameras = camera_names(self.param("cameras"))
        except ConfigureError as exc:
            return self._configure_failed(str(exc))
        return super().on_configure(state)

    # -- wiring -------------------------------------------------------------------------------
    def wire(self) -> None:
        self.mailbox.reopen()
        qos = image_qos(self.param("image_reliability"))
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos, message_lost=self._on_lost)
        topic, cls = ("image/compressed", CompressedImage) if self.param("compressed_input") else ("image", Image)
        for camera in self.cameras:
            self._subs.append(self.create_subscription(cls, camera_topic(camera, topic), self._image_callback(camera),
                                                       qos, event_callbacks=events))
            self.wire_extra(camera)
        self._worker = threading.Thread(target=self._work, name=f"{self.get_name()}-worker", daemon=True)
        self._worker.start()

    def unwire(self) -> None:
        self.mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=30)
            self._worker = None
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs.clear()

    def wire_extra(self, camera: str) -> None:
        """More subscriptions for ``camera`` (e.g. its detections); created with its image subscription."""

    def _on_incompatible_qos(self, info: Any) -> None:
        self.stats.reject("incompatible_qos")
        self.get_logger().error(
            "a publisher on the image topic has incompatible QoS (policy id "
            f"{info.last_policy_kind}); if your camera publishes best effort (sensor data QoS), "
            "set image_reliability:=best_effort"
        )

    def _on_lost(self, info: Any) -> None:
        self.frames_lost_dds = int(info.total_count)

    def _image_callback(self, camera: str) -> Any:
        def on_image(msg: Any) -> None:
            self.mailbox.put(camera, (msg, time.time_ns(), self.ros_now_ns()))

        return on_image

    def ros_now_ns(self) -> int:
        """The node's clock (simulation time under use_sim_time), for latencies measured from stamps."""
        return self.get_clock().now().nanoseconds

    # -- worker -------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            got = self.mailbox.get(timeout=0.5)
            if got is None:
                if not self.active:
                    return
                self.idle()
                continue
            camera, item = got
            try:
                self._handle(camera, *item)
            except Exception as exc:  # keep the node alive; the error is logged and counted
                self.reject("processing_error", f"{type(exc).__name__}: {exc}")
                self.get_logger().error(traceback.format_exc())
            finally:
                self.frames_handled += 1

    def idle(self) -> None:
        """Called by the worker when no frame arrived for a while."""

    def _handle(self, camera: str, msg: Any, recv_ns: int, recv_ros_ns: int) -> None:
        t_take = time.time_ns()
        stamp_ns = stamp_to_ns(msg.header.stamp)
        if stamp_ns == 0:
            if self.param("unstamped_frames") == "reject":
                self.reject("unstamped", "frame with a zero header.stamp dropped (unstamped_frames:=receive_time "
                            "stamps such frames on arrival)")
                return
            stamp_ns = recv_ros_ns
            self.frames_restamped += 1
            if self.frames_restamped == 1:
                self.get_logger().warning("frames arrive with a zero header.stamp; stamping them on arrival "
                                          "(unstamped_frames:=reject drops them instead)")
        try:
            rgb = rgb_of(msg)
        except ImageError as exc:
            kind = "corrupt_compressed" if isinstance(msg, CompressedImage) else "bad_image"
            self.reject(kind, f"frame at stamp {stamp_ns} skipped: {exc}")
            return
        size, last_size, last_stamp = rgb.shape[:2], self._last_size.get(camera), self._last_stamp_ns.get(camera)
        where = f"camera {camera}: " if camera else ""
        if last_size is not None and size != last_size:
            self.reject("size_change", f"{where}image size changed from {last_size[1]}x{last_size[0]} to "
                        f"{size[1]}x{size[0]}: starting a new sequence")
            self.new_sequence(camera)
        elif last_stamp is not None and stamp_ns <= last_stamp:
            back_s = (last_stamp - stamp_ns) / 1e9
            if back_s >= self.param("time_jump_reset"):
                self.reject("time_jump_back", f"{where}stamps jumped {back_s:.3f} s back: starting a new sequence")
                self.new_sequence(camera)
            else:
                self.reject("stamp_not_increasing", f"{where}frame stamped {back_s * 1e3:.1f} ms at/before the newest "
                            "one dropped (out of order or duplicate)")
                return
        self._last_size[camera], self._last_stamp_ns[camera] = size, stamp_ns
        t_decoded = time.time_ns()
        timings = {
            "transport": (recv_ros_ns - stamp_ns) / NS_PER_MS,
            "queue": (t_take - recv_ns) / NS_PER_MS,
            "decode": (t_decoded - t_take) / NS_PER_MS,
        }
        self.process(camera, rgb, stamp_ns, msg.header.frame_id, timings)

    def finish_frame(self, stamp_ns: int, timings: dict[str, float]) -> None:
        """Record a processed frame; ``timings`` must hold ``model`` and ``publish`` already."""
        timings["total"] = (self.ros_now_ns() - stamp_ns) / NS_PER_MS
        self.stats.frame_done(timings)

    def reject(self, reason: str, message: str) -> None:
        count = self.stats.reject(reason)
        if count <= self.LOG_FIRST or count % self.LOG_EVERY == 0:
            self.get_logger().warning(f"[{reason} x{count}] {message}")

    # -- hooks --------------------------------------------------------------------------------
    def process(self, camera: str, rgb: Any, stamp_ns: int, frame_id: str, timings: dict[str, float]) -> None:
        raise NotImplementedError

    def new_sequence(self, camera: str) -> None:
        """``camera``'s stream restarted (size change or a jump back in time): reset its sequence state."""

    # -- status -------------------------------------------------------------------------------
    def status_values(self) -> dict[str, Any]:
        s = self.stats
        values: dict[str, Any] = {
            "frame_rate_hz": s.rate_hz(),
            "latency_ms": s.median_ms("total"),
            "latency_p95_ms": s.p95_ms("total"),
            **{f"{stage}_ms": s.median_ms(stage) for stage in ("transport", "queue", "decode", "model", "publish")},
            "queue_depth": self.mailbox.depth,
            "frames_received": self.mailbox.received,
            "frames_processed": s.frames_processed,
            "frames_handled": self.frames_handled,
            "frames_dropped": self.mailbox.dropped,
            "frames_lost_dds": self.frames_lost_dds,
            "frames_restamped": self.frames_restamped,
        }
        values.update({f"rejected_{k}": v for k, v in sorted(s.rejected.items())})
        if len(self.cameras) > 1:
            values["cameras"] = ",".join(self.cameras)
            for camera in self.cameras:
                values[f"{camera}.frames_received"] = self.mailbox.received_by[camera]
                values[f"{camera}.frames_dropped"] = self.mailbox.dropped_by[camera]
        return values

    def status_level(self, values: dict[str, Any]) -> tuple[bytes, str]:
        from diagnostic_msgs.msg import DiagnosticStatus

        if self.stats.rejected:
            worst = max(self.stats.rejected.items(), key=lambda kv: kv[1])
            return DiagnosticStatus.WARN, f"{values['state']}; rejected input ({worst[0]} x{worst[1]})"
        return DiagnosticStatus.OK, values["state"]

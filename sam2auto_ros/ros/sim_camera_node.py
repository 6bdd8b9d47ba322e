"""``sim_camera_node``: a seeded simulated camera for tests, demos and benchmarks.

Publishes, at ``fps`` (or in lockstep with a consumer: ``pace_topic``): ``image`` (sensor_msgs/Image, and ``image/compressed`` on request),
``camera_info``, and ``ground_truth`` (InstanceMaskArray, track_id = ground-truth id) with the
frame's stamp. With ``publish_clock`` it also drives ``/clock`` (stamps are then simulation
time, starting at the scene's start), so other nodes can run with ``use_sim_time``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from sam2auto_ros.io.images import encode_compressed
from sam2auto_ros.io.instance_msgs import ns_to_stamp
from sam2auto_ros.ros.managed_node import OUTPUT_QOS, ConfigureError, ManagedNode, run_node
from sam2auto_ros.ros.messages import InstanceMaskArray, frames_msg, header, image_msg
from sam2auto_ros.ros.params import RUNTIME, ParamSpec
from sam2auto_ros.sim import SCENE_PRESETS, Scene, SceneConfig, scene_config

CAMERA_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
SUBSCRIBER_SETTLE_S = 0.5  # with wait_for_subscribers: hold the first frame this long after the match
"""What a default camera driver offers: reliable, keep last."""


class SimCameraNode(ManagedNode):
    PARAMS = (
        ParamSpec("scene", "mixed", "Scene preset, or `default` for SceneConfig's defaults.",
                  choices=("default", *SCENE_PRESETS)),
        ParamSpec("seed", 0, "Scene seed: the same seed always renders the same video.", low=0, high=2**31 - 1),
        ParamSpec("width", 256, "Frame width in pixels.", low=32, high=8192),
        ParamSpec("height", 256, "Frame height in pixels.", low=32, high=8192),
        ParamSpec("n_frames", 300, "Frames in the scene.", low=1, high=10_000_000),
        ParamSpec("fps", 30.0, "Publishing rate (and the scene's frame rate).", low=0.1, high=1000.0),
        ParamSpec("loop", False, "Start the scene over after its last frame (stamps keep increasing).", when=RUNTIME),
        ParamSpec("publish_clock", False, "Publish /clock; stamps are then simulation time (for use_sim_time)."),
        ParamSpec("publish_compressed", False, "Also publish `image/compressed` (jpeg)."),
        ParamSpec("encoding", "rgb8", "Image encoding.", choices=("rgb8", "bgr8")),
        ParamSpec("frame_id", "sim_camera", "header.frame_id of everything published."),
        ParamSpec("cache_frames", False, "Render the whole scene at configure (for high rates / large frames)."),
        ParamSpec("wait_for_subscribers", 0, "Hold the first frame until this many subscribers match `image`.",
                  low=0, high=1000),
        ParamSpec("pace_topic", "", "Lockstep: publish the next frame only once a message stamped with the last one "
                  "arrived here (e.g. `tracks`), so a simulation runs alike on a fast and a loaded machine; `fps` is "
                  "then the highest rate. Empty: free-running at `fps`."),
        ParamSpec("pace_timeout_s", 10.0, "With pace_topic: publish anyway after this long without the answer (a frame "
                  "the consumer refused), counted as frames_unpaced.", low=0.1, high=3600.0),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_camera_node", **kwargs)
        self.scene: Scene | None = None
        self._cache: list | None = None
        self._pubs: dict[str, Any] = {}
        self._timer: Timer | None = None
        self.published = 0
        self.frames_unpaced = 0
        self._matched_at: float | None = None
        self._pace_sub: Subscription | None = None
        self._answered_ns = 0  # newest stamp seen on pace_topic
        self._published_at = 0.0

    def build(self, params: dict[str, Any]) -> None:
        fields = {"seed": params["seed"], "height": params["height"], "width": params["width"],
                  "n_frames": params["n_frames"], "fps": params["fps"]}
        try:
            config = SceneConfig(**fields) if params["scene"] == "default" else scene_config(params["scene"], **fields)
            scene = self.scene = Scene(config)
        except ValueError as exc:
            raise ConfigureError(str(exc)) from None
        self._cache = [scene.frame(i) for i in range(len(scene))] if params["cache_frames"] else None
        self._p = params
        self._pubs = {
            "image": self.create_lifecycle_publisher(Image, "image", CAMERA_QOS),
            "info": self.create_lifecycle_publisher(CameraInfo, "camera_info", CAMERA_QOS),
            "gt": self.create_lifecycle_publisher(InstanceMaskArray, "ground_truth", QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)),
        }
        if params["publish_compressed"]:
            self._pubs["compressed"] = self.create_lifecycle_publisher(CompressedImage, "image/compressed", CAMERA_QOS)
        if params["publish_clock"]:
            self._pubs["clock"] = self.create_lifecycle_publisher(Clock, "/clock", OUTPUT_QOS)
        self.published = self.frames_unpaced = self._answered_ns = 0
        self._last_stamp = 0

    @property
    def _scene(self) -> Scene:
        """The configured scene (a node that is not configured never ticks)."""
        assert self.scene is not None, "sim_camera_node used before configure"
        return self.scene

    def describe(self) -> str:
        cfg = self._scene.config
        return f"scene {self._p['scene']} seed {cfg.seed}, {cfg.width}x{cfg.height}, {cfg.n_frames} frames at {cfg.fps} Hz"

    def wire(self) -> None:
        if self._p["pace_topic"]:
            self._pace_sub = self.create_subscription(InstanceMaskArray, self._p["pace_topic"], self._on_answer,
                                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._timer = self.create_timer(1.0 / self._p["fps"], self._tick)

    def unwire(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer: Timer | None = None
        if self._pace_sub is not None:
            self.destroy_subscription(self._pace_sub)
            self._pace_sub = None

    def _on_answer(self, msg: Any) -> None:
        self._answered_ns = max(self._answered_ns, msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

    def _waiting_for_answer(self) -> bool:
        """With pace_topic: the last frame is not answered yet and its time-out has not run out."""
        if self._pace_sub is None or self.published == 0 or self._answered_ns >= self._last_stamp:
            return False
        if time.monotonic() - self._published_at < self._p["pace_timeout_s"]:
            return True
        self.frames_unpaced += 1
        self.get_logger().warning(f"no answer on {self._p['pace_topic']} for the frame stamped {self._last_stamp} "
                                  f"within {self._p['pace_timeout_s']} s; publishing the next one")
        return False

    def free(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs, self.scene, self._cache = {}, None, None

    def _tick(self) -> None:
        if self.published == 0 and self._p["wait_for_subscribers"] > 0:
            if self._pubs["image"].get_subscription_count() < self._p["wait_for_subscribers"]:
                self._matched_at = None
                return
            # DDS discovery is not symmetric: the writer can see a reader before the reader has
            # matched the writer, and a reliable reader drops what it receives before that (a CI run
            # recorded 29 of 30 frames). A short settle after the match closes the gap.
            now = time.monotonic()
            self._matched_at = self._matched_at or now
            if now - self._matched_at < SUBSCRIBER_SETTLE_S:
                return
        n = len(self._scene)
        if (self.published >= n and not self.param("loop")) or self._waiting_for_answer():
            return
        index = self.published % n
        frame = self._cache[index] if self._cache is not None else self._scene.frame(index)
        if self._p["publish_clock"]:
            # simulation time: the scene's own stamps, shifted on each loop so they keep increasing
            stamp_ns = frame.stamp_ns + (self.published // n) * int(round(n * 1e9 / self._p["fps"]))
            self._pubs["clock"].publish(Clock(clock=ns_to_stamp(stamp_ns, Time)))
        else:
            stamp_ns = max(time.time_ns(), self._last_stamp + 1)
        self._last_stamp = stamp_ns
        frame_id = self._p["frame_id"]
        pixels = frame.image if self._p["encoding"] == "rgb8" else frame.image[..., ::-1]
        self._pubs["image"].publish(image_msg(pixels, stamp_ns, frame_id, self._p["encoding"]))
        if "compressed" in self._pubs:
            fmt, data = encode_compressed(frame.image)
            self._pubs["compressed"].publish(CompressedImage(header=header(stamp_ns, frame_id), format=fmt, data=data.tobytes()))
        self._pubs["info"].publish(self._camera_info(stamp_ns, frame_id))
        gt = dataclasses.replace(frame.gt, stamp_ns=stamp_ns, frame_id=frame_id)
        self._pubs["gt"].publish(frames_msg(gt))
        self.published += 1
        self._published_at = time.monotonic()
        if self.published == n and not self.param("loop"):
            self.get_logger().info(f"published all {n} frames of the scene")  # tests and scripts wait for this line

    def _camera_info(self, stamp_ns: int, frame_id: str) -> CameraInfo:
        cfg = self._scene.config
        f = float(max(cfg.width, cfg.height))  # a plain pinhole, ~53 degree field of view
        cx, cy = cfg.width / 2.0, cfg.height / 2.0
        return CameraInfo(
            header=header(stamp_ns, frame_id), width=cfg.width, height=cfg.height, distortion_model="plumb_bob",
            d=[0.0] * 5, k=[f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0], r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p=[f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
        )

    def status_values(self) -> dict[str, Any]:
        return {"frames_published": self.published, "frames_unpaced": self.frames_unpaced, "backend": "simulator",
                "model": self.describe() if self.scene is not None else ""}


def main(args: list[str] | None = None) -> int:
    return run_node(SimCameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

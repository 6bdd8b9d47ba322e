"""The live source of ``sam2auto view``: a plain rclpy node that hands a camera topic and its
tracks to the viewer as they arrive (Foxglove pairs annotations with the image of their stamp)."""

from __future__ import annotations

import threading
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from sam2auto_ros.ros.messages import InstanceMaskArray, frame_from_msg, rgb_of, stamp_to_ns
from sam2auto_ros.view.server import Frame, Viewer

QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


def run_live(viewer: Viewer, namespace: str = "/sam2auto", compressed: bool = False,
             stop: threading.Event | None = None) -> None:
    """Show ``<namespace>/image`` (or ``image/compressed``) and ``<namespace>/tracks`` until ``stop``."""
    stop = stop or threading.Event()
    ns = namespace.rstrip("/")
    context = Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("sam2auto_view", context=context)

        def on_image(msg: Any) -> None:
            stamp = stamp_to_ns(msg.header.stamp)
            if isinstance(msg, CompressedImage):
                fmt = "png" if "png" in msg.format.lower() else "jpeg"
                viewer.show_image(Frame(stamp, msg.header.frame_id, data=bytes(msg.data), format=fmt))
            else:
                viewer.show_image(Frame(stamp, msg.header.frame_id, rgb=rgb_of(msg)))

        image_type, image_topic = (CompressedImage, f"{ns}/image/compressed") if compressed else (Image, f"{ns}/image")
        node.create_subscription(image_type, image_topic, on_image, QOS)
        node.create_subscription(InstanceMaskArray, f"{ns}/tracks", lambda m: viewer.show_tracks(frame_from_msg(m)), QOS)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        while not stop.is_set() and context.ok():
            executor.spin_once(timeout_sec=0.1)
        node.destroy_node()
    finally:
        context.try_shutdown()

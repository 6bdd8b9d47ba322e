"""Two processes exchange a 720p Image and an instance-mask array over real Fast DDS."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.images import image_to_array
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg

from test.io.test_bags import assert_same_frame

PEER = Path(__file__).with_name("echo_peer.py")
HEIGHT, WIDTH = 720, 1280


def _frame(seed: int) -> tuple[np.ndarray, FrameInstances]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    instances = []
    for k in range(10):
        cx, cy, r = rng.integers(100, WIDTH - 100), rng.integers(100, HEIGHT - 100), rng.integers(10, 90)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        instances.append(Instance.from_mask_array(mask, label=f"obj{k}", class_id=k, score=float(rng.random()), track_id=100 * seed + k, status=InstanceStatus.CONFIRMED))
    instances.append(Instance(mask=None, box=[0.5, 1.5, 2.5, 3.5], label="", score=0.1))  # unassociated, no mask
    return image, FrameInstances(stamp_ns=1_700_000_000_000_000_000 + seed * 33_000_000, height=HEIGHT, width=WIDTH, instances=tuple(instances), frame_id="camera_optical")


@pytest.mark.ros
def test_image_and_instance_masks_roundtrip_between_processes(rclpy_context, ros_env):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from builtin_interfaces.msg import Time
    from sam2auto_ros.msg import InstanceMask, InstanceMaskArray
    from sam2auto_ros.ros.messages import image_msg
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    classes = MessageClasses.from_modules(InstanceMask, InstanceMaskArray, Header, Time)
    peer = subprocess.Popen([sys.executable, str(PEER)], env=ros_env)
    node = rclpy.create_node("roundtrip_tester", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    received: dict[str, list] = {"image": [], "masks": []}
    pubs = {
        "image": node.create_publisher(Image, "in/image", qos),
        "masks": node.create_publisher(InstanceMaskArray, "in/masks", qos),
    }
    node.create_subscription(Image, "echo/image", received["image"].append, qos)
    node.create_subscription(InstanceMaskArray, "echo/masks", received["masks"].append, qos)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            all(p.get_subscription_count() for p in pubs.values())
            and node.count_publishers("echo/image") and node.count_publishers("echo/masks")
        ):
            assert peer.poll() is None, "echo peer died"
            executor.spin_once(timeout_sec=0.1)
        assert all(p.get_subscription_count() for p in pubs.values()), "peer never matched (DDS discovery on loopback failed)"

        sent = [_frame(s) for s in range(4)]
        for image, frame in sent:
            pubs["image"].publish(image_msg(image, frame.stamp_ns, frame.frame_id))
            pubs["masks"].publish(frame_to_msg(frame, classes))
            for _ in range(5):
                executor.spin_once(timeout_sec=0.02)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(received["image"]) < len(sent) or len(received["masks"]) < len(sent)):
            executor.spin_once(timeout_sec=0.1)

        assert len(received["image"]) == len(received["masks"]) == len(sent)
        for (image, frame), img_msg, mask_msg in zip(sent, received["image"], received["masks"]):
            pixels, encoding = image_to_array(img_msg)
            assert encoding == "rgb8" and np.array_equal(pixels, image)
            assert (img_msg.header.stamp.sec * 1_000_000_000 + img_msg.header.stamp.nanosec) == frame.stamp_ns
            assert img_msg.header.frame_id == frame.frame_id
            assert_same_frame(frame, frame_from_msg(mask_msg))  # masks decode to the exact pixels sent

        info = node.get_publishers_info_by_topic("echo/masks")
        assert str(info[0].topic_type_hash) == msg_types.typestore().hash_rihs01(msg_types.INSTANCE_MASK_ARRAY)
    finally:
        peer.terminate()
        peer.wait(timeout=10)
        node.destroy_node()

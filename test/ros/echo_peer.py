"""A second DDS process for the round-trip tests: republishes every message it receives.

in/image -> echo/image (sensor_msgs/Image), in/masks -> echo/masks (InstanceMaskArray).
"""

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy

from sam2auto_ros.msg import InstanceMaskArray
from sam2auto_ros.ros.dds import require_loopback
from sensor_msgs.msg import Image


def main() -> None:
    require_loopback()
    rclpy.init()
    node = rclpy.create_node("echo_peer")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    keep = []
    for name, cls in (("image", Image), ("masks", InstanceMaskArray)):
        pub = node.create_publisher(cls, f"echo/{name}", qos)
        keep.append(node.create_subscription(cls, f"in/{name}", pub.publish, qos))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()

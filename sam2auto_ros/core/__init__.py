"""Plain-Python core shared by the live nodes, the offline annotator and the tests.

Never imports rclpy: everything here runs without a ROS runtime.
"""

from sam2auto_ros.core.instance import NO_TRACK, FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import MaskCodecError, RleMask, mask_iou_matrix

__all__ = [
    "NO_TRACK",
    "FrameInstances",
    "Instance",
    "InstanceStatus",
    "MaskCodecError",
    "RleMask",
    "mask_iou_matrix",
]

"""``FrameInstances`` <-> ``InstanceMaskArray`` messages.

The same mapping serves rclpy (live nodes) and rosbags (bags without ROS): the caller hands in
the message classes, so this module never imports rclpy.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.io import msg_types

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class MessageClasses:
    """The classes one message library uses, and how it wants a ``uint32[]`` field."""

    instance_mask: type
    instance_mask_array: type
    header: type
    time: type
    uint32_seq: Callable[[np.ndarray], Any]

    @classmethod
    def rosbags(cls) -> MessageClasses:
        types = msg_types.typestore().types
        return cls(
            instance_mask=types[msg_types.INSTANCE_MASK],
            instance_mask_array=types[msg_types.INSTANCE_MASK_ARRAY],
            header=types["std_msgs/msg/Header"],
            time=types["builtin_interfaces/msg/Time"],
            uint32_seq=lambda a: np.asarray(a, dtype=np.uint32),
        )

    @classmethod
    def from_modules(cls, instance_mask: type, instance_mask_array: type, header: type, time: type) -> MessageClasses:
        """For rclpy's generated classes, which want ``array.array('I')`` for ``uint32[]``."""

        def to_array(values: np.ndarray) -> array.array:
            out = array.array("I")
            out.frombytes(np.ascontiguousarray(values, dtype=np.uint32).tobytes())
            return out

        return cls(instance_mask, instance_mask_array, header, time, to_array)


def stamp_to_ns(stamp: Any) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int, time_cls: type) -> Any:
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return time_cls(sec=sec, nanosec=nanosec)


def frame_to_msg(frame: FrameInstances, classes: MessageClasses, with_masks: bool = True) -> Any:
    """An ``InstanceMaskArray`` for ``frame``; ``with_masks=False`` leaves boxes only."""
    empty = classes.uint32_seq(np.zeros(0, dtype=np.uint32))
    instances = []
    for inst in frame.instances:
        box = inst.box
        counts = classes.uint32_seq(inst.mask.to_counts()) if with_masks and inst.mask is not None else empty
        instances.append(
            classes.instance_mask(
                track_id=inst.track_id,
                label=inst.label,
                class_id=inst.class_id,
                score=float(inst.score),
                status=int(inst.status),
                x_min=float(box[0]),
                y_min=float(box[1]),
                x_max=float(box[2]),
                y_max=float(box[3]),
                mask_counts=counts,
            )
        )
    header = classes.header(stamp=ns_to_stamp(frame.stamp_ns, classes.time), frame_id=frame.frame_id)
    return classes.instance_mask_array(header=header, height=frame.height, width=frame.width, instances=instances)


def frame_from_msg(msg: Any) -> FrameInstances:
    """Decode an ``InstanceMaskArray`` (rclpy or rosbags); raises ``MaskCodecError`` on bad RLE."""
    height, width = int(msg.height), int(msg.width)
    instances = []
    for item in msg.instances:
        counts = np.asarray(item.mask_counts, dtype=np.uint32)
        mask = RleMask.from_counts(counts, height, width) if counts.size else None
        instances.append(
            Instance(
                mask=mask,
                box=np.array([item.x_min, item.y_min, item.x_max, item.y_max], dtype=np.float32),
                label=str(item.label),
                score=float(item.score),
                track_id=int(item.track_id),
                class_id=int(item.class_id),
                status=InstanceStatus(int(item.status)),
            )
        )
    return FrameInstances(
        stamp_ns=stamp_to_ns(msg.header.stamp),
        height=height,
        width=width,
        instances=tuple(instances),
        frame_id=str(msg.header.frame_id),
    )

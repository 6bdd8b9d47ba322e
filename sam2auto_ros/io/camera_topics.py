"""Which camera an image topic belongs to, by the naming the live graph and image_transport use.

One rule for the offline annotator (which cameras to label, where their ground truth and
annotations go) and the dataset exporter (which frames a tracks topic was made on): a camera is
the namespace of its image topic, ``/front/image`` and ``/front/image/compressed`` alike.
"""

from __future__ import annotations

from sam2auto_ros.io import msg_types

COMPRESSED_SUFFIX = "/compressed"
OVERLAY_NAME = "overlay"


def camera_base(topic: str, msgtype: str) -> str:
    """An image topic without image_transport's ``/compressed`` suffix (CompressedImage only)."""
    compressed = msgtype == msg_types.COMPRESSED_IMAGE and topic.endswith(COMPRESSED_SUFFIX)
    return topic[: -len(COMPRESSED_SUFFIX)] if compressed else topic


def camera_namespace(topic: str, msgtype: str) -> str:
    """The camera an image topic belongs to: its parent namespace (``""`` at the root)."""
    return camera_base(topic, msgtype).rsplit("/", 1)[0]


def is_overlay(topic: str, msgtype: str) -> bool:
    """A rendered overlay (the annotator's or the live graph's output), not a camera."""
    return camera_base(topic, msgtype).rsplit("/", 1)[-1] == OVERLAY_NAME

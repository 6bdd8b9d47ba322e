"""Cameras and their topics, by the naming the live graph and image_transport use.

One rule for the live nodes and launch files (the ``cameras`` list), the offline annotator (which
cameras to label, where their ground truth and annotations go) and the dataset exporter (which
frames a tracks topic was made on): a camera is the namespace of its image topic,
``/front/image`` and ``/front/image/compressed`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sam2auto_ros.io import msg_types

COMPRESSED_SUFFIX = "/compressed"
OVERLAY_NAME = "overlay"
CAMERA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*")


def check_camera_names(value: Sequence[str]) -> tuple[str, ...]:
    """A ``cameras`` list checked: unique relative ROS names, or ``("",)`` for one unnamed camera.
    Raises ValueError naming the bad entries."""
    names = tuple(str(v).strip().strip("/") for v in value)
    if not any(names):
        return ("",)
    bad = [n for n in names if not CAMERA_NAME.fullmatch(n)]
    if bad:
        raise ValueError(f"cameras: {bad} are not topic names (letters, digits, _ and /, starting with a letter); "
                         "e.g. cameras: [front, rear]")
    if len(set(names)) != len(names):
        raise ValueError(f"cameras: {list(names)} names a camera twice")
    return names


def camera_topic(camera: str, name: str) -> str:
    """``name`` in ``camera``'s namespace (``name`` itself for the single unnamed camera)."""
    return f"{camera}/{name}" if camera else name


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

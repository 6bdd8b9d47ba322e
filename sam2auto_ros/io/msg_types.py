"""The project's message definitions, registered with ``rosbags`` from the same ``.msg`` text
that colcon builds, so bags written without ROS carry the exact types (and type hashes) that
rclpy uses."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from rosbags.typesys.store import Typestore

PACKAGE = "sam2auto_ros"
INSTANCE_MASK = f"{PACKAGE}/msg/InstanceMask"
INSTANCE_MASK_ARRAY = f"{PACKAGE}/msg/InstanceMaskArray"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
MESSAGE_NAMES = ("InstanceMask", "InstanceMaskArray")


def msg_dir() -> Path:
    """Where the ``.msg`` files are: env override, source tree, or an installed share dir."""
    candidates: list[Path] = []
    if override := os.environ.get("SAM2AUTO_MSG_DIR"):
        candidates.append(Path(override))
    candidates.append(Path(__file__).resolve().parents[2] / "msg")
    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
    candidates += [Path(p) / "share" / PACKAGE / "msg" for p in prefixes if p]
    for cand in candidates:
        if all((cand / f"{name}.msg").is_file() for name in MESSAGE_NAMES):
            return cand
    raise FileNotFoundError(
        f"cannot find {PACKAGE}'s .msg files (looked in: {', '.join(map(str, candidates))}); "
        "set SAM2AUTO_MSG_DIR to the package's msg/ directory"
    )


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """A Kilted typestore that also knows the project's messages."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    types = {}
    for name in MESSAGE_NAMES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), f"{PACKAGE}/msg/{name}"))
    store.register(types)
    return store

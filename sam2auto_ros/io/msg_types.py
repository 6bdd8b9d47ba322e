"""The project's message definitions, registered with ``rosbags`` from the same ``.msg`` text
that colcon builds, so bags written without ROS carry the exact types (and type hashes) that
rclpy uses. Two packages: ``sam2auto_ros`` (instance masks) and the ``foxglove_msgs`` subset the
package ships for image annotations."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = "sam2auto_ros"
INSTANCE_MASK = f"{PACKAGE}/msg/InstanceMask"
INSTANCE_MASK_ARRAY = f"{PACKAGE}/msg/InstanceMaskArray"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
MESSAGE_NAMES = ("InstanceMask", "InstanceMaskArray")
FOXGLOVE_PACKAGE = "foxglove_msgs"
IMAGE_ANNOTATIONS = f"{FOXGLOVE_PACKAGE}/msg/ImageAnnotations"
# Dependencies first: rosbags resolves a field's type when the type is registered.
FOXGLOVE_NAMES = ("Color", "Point2", "CircleAnnotation", "PointsAnnotation", "TextAnnotation", "ImageAnnotations")
# Jazzy and Kilted define every type the project writes identically (same RIHS01 hashes; see
# test/io/test_msg_types.py), so one store serves bags for both.
STORE = Stores.ROS2_JAZZY


def msg_dir(package: str = PACKAGE) -> Path:
    """Where a package's ``.msg`` files are: env override, source tree, or an installed share dir."""
    names = MESSAGE_NAMES if package == PACKAGE else FOXGLOVE_NAMES
    root = Path(__file__).resolve().parents[2]
    candidates: list[Path] = []
    if package == PACKAGE and (override := os.environ.get("SAM2AUTO_MSG_DIR")):
        candidates.append(Path(override))
    candidates.append(root / "msg" if package == PACKAGE else root / package / "msg")
    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
    candidates += [Path(p) / "share" / package / "msg" for p in prefixes if p]
    for cand in candidates:
        if all((cand / f"{name}.msg").is_file() for name in names):
            return cand
    raise FileNotFoundError(
        f"cannot find {package}'s .msg files (looked in: {', '.join(map(str, candidates))}); "
        + ("set SAM2AUTO_MSG_DIR to the package's msg/ directory" if package == PACKAGE
           else f"install the ROS package {package} or run from a sam2auto_ros checkout")
    )


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """A Jazzy typestore that also knows the project's and the Foxglove annotation messages."""
    store = get_typestore(STORE)
    for package, names in ((PACKAGE, MESSAGE_NAMES), (FOXGLOVE_PACKAGE, FOXGLOVE_NAMES)):
        folder = msg_dir(package)
        for name in names:
            store.register(get_types_from_msg((folder / f"{name}.msg").read_text(), f"{package}/msg/{name}"))
    return store

"""The venv holds one ROS 2 distribution's wheels (scripts/setup.sh keeps them apart)."""

from __future__ import annotations

import importlib.metadata
import re

import pytest


@pytest.mark.ros
def test_the_venv_holds_one_ros_distribution():
    held = set()
    for dist in importlib.metadata.distributions():
        if match := re.fullmatch(r"ros-([a-z]+)-rclpy", (dist.metadata["Name"] or "").lower()):
            held.add(match.group(1))
    assert len(held) == 1, f"rclpy of several ROS 2 distributions in one venv: {sorted(held)}"
    import rclpy.serialization  # noqa: F401  (the one there imports)

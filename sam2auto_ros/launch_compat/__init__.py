"""The smallest stand-in for ROS 2 ``launch`` / ``launch_ros``, for pip-only installs.

The project's launch files (``launch/*.launch.py``) are written against the real ``launch`` and
``launch_ros`` APIs, which no Python registry ships. ``sam2auto launch`` runs them here through a
compatibility layer that implements exactly what those files use - ``LaunchDescription``,
``DeclareLaunchArgument``, ``LaunchConfiguration``, ``TextSubstitution``, ``IfCondition`` /
``UnlessCondition``, ``LogInfo`` and ``launch_ros.actions.Node`` (package, executable, name,
namespace, parameters, remappings, arguments, output, condition) - and nothing else: anything
else raises ``LaunchCompatError`` naming it.

It is never used where the real packages exist: ``sam2auto launch`` then hands the file to the
real ``launch.LaunchService`` (and ``ros2 launch sam2auto_ros <file>`` works as usual).
"""

from __future__ import annotations

import importlib
import importlib.util


class LaunchCompatError(RuntimeError):
    """A launch file uses something the compatibility layer does not cover, or a bad argument."""


def real_launch_available() -> bool:
    """True when the real ROS 2 ``launch`` and ``launch_ros`` packages are importable."""
    for name in ("launch", "launch_ros"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
    # PyPI's unrelated `launch` 0.1.3 has no LaunchService: not the ROS package.
    return hasattr(importlib.import_module("launch"), "LaunchService")

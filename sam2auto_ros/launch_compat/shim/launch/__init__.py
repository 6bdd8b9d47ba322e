"""Compatibility stand-in for ROS 2 ``launch`` (see sam2auto_ros.launch_compat); never on sys.path
where the real package exists."""

from sam2auto_ros.launch_compat.model import LaunchContext, LaunchDescription, Substitution

__all__ = ["LaunchContext", "LaunchDescription", "Substitution"]

from sam2auto_ros.launch_compat.model import DeclareLaunchArgument, LogInfo

__all__ = ["DeclareLaunchArgument", "LogInfo"]

from sam2auto_ros.launch_compat.model import DeclareLaunchArgument, LogInfo, OpaqueFunction

__all__ = ["DeclareLaunchArgument", "LogInfo", "OpaqueFunction"]

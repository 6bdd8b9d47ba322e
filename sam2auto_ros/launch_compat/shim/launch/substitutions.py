from sam2auto_ros.launch_compat.model import LaunchConfiguration, TextSubstitution

__all__ = ["LaunchConfiguration", "TextSubstitution"]

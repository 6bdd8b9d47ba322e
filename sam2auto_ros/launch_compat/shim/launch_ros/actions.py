from sam2auto_ros.launch_compat.model import Node

__all__ = ["Node"]

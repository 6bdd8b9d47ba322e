from sam2auto_ros.launch_compat.model import IfCondition, UnlessCondition

__all__ = ["IfCondition", "UnlessCondition"]

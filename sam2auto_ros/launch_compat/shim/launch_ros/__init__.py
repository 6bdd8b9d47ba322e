"""Compatibility stand-in for ``launch_ros`` (see sam2auto_ros.launch_compat)."""

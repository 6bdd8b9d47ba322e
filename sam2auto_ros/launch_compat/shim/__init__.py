"""Import roots ``launch`` and ``launch_ros`` of the compatibility layer (put on sys.path only by
``sam2auto launch`` when the real packages are missing)."""

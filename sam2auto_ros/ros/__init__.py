"""The only part of the package that imports rclpy: message conversion and the nodes.

Submodules import rclpy themselves; importing this package does not.
"""

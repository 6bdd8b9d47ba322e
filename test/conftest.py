"""Shared fixtures. Anything that starts rclpy goes through ``ros_env`` / ``rclpy_context``,
which refuse to run unless DDS discovery is confined to loopback."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from sam2auto_ros.ros.dds import NetworkSafetyError, loopback_env, require_loopback

_domain_ids = itertools.count()


def _next_domain_id() -> int:
    # Spread per-process so concurrent pytest runs on one machine do not share a domain.
    return 1 + (os.getpid() * 13 + next(_domain_ids)) % 200


@pytest.fixture
def ros_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This test's environment for rclpy: loopback-only discovery and its own domain id.

    Returns the environment to hand to node subprocesses.
    """
    try:
        require_loopback()
    except NetworkSafetyError as exc:
        pytest.fail(str(exc))
    env = loopback_env(_next_domain_id())
    for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE"):
        monkeypatch.setenv(key, env[key])
    return env


@pytest.fixture
def rclpy_context(ros_env: dict[str, str]) -> Iterator[object]:
    """An initialised rclpy context of its own, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def fixed_smart_od_config(tmp_path) -> str:
    """A SMART-OD parameter file whose detector is a real ONNX model of the YOLO-World export
    signature with fixed output: a 'ball' box centred at (20, 20) and a 'box' at (44, 40), on any
    64 px frame; boxes only. Lets the pipeline run SMART-OD end to end without weights."""
    import numpy as np
    import yaml

    from test.smart_od.tiny_detectors import export_fixed_detector

    table = np.array([[20, 20, 16, 16, 0.9, 0.05], [44, 40, 14, 18, 0.05, 0.85]], np.float32)  # cx cy w h, scores
    model = export_fixed_detector(tmp_path / "fixed.onnx", table, ["ball", "box"])
    config = tmp_path / "smart_od.yaml"
    config.write_text(yaml.safe_dump({"smart_od_node": {"ros__parameters": {
        "generate_masks": False, "slicing": {"enabled": False},
        "detector": {"backend": "onnx", "model": str(model), "class_names": ["ball", "box"]}}}}))
    return str(config)

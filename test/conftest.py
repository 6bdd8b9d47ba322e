"""Shared fixtures. Anything that starts rclpy goes through ``ros_env`` / ``rclpy_context``,
which refuse to run unless DDS discovery is confined to loopback."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from sam2auto_ros.ros.dds import NetworkSafetyError, loopback_env, require_loopback

_domain_ids = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``heavy``, ``browser`` and ``gpu`` tests are selected explicitly, and skipped visibly everywhere else."""
    heavy = os.environ.get("SAM2AUTO_HEAVY_TESTS") == "1"
    browser = os.environ.get("SAM2AUTO_BROWSER_TESTS") == "1"
    cuda: bool | None = None
    for item in items:
        if "heavy" in item.keywords and not heavy:
            item.add_marker(pytest.mark.skip(reason="heavy (benchmark-sized): run with SAM2AUTO_HEAVY_TESTS=1 bash scripts/test.sh -m heavy"))
        if "browser" in item.keywords and not browser:
            item.add_marker(pytest.mark.skip(reason="opens pages in Debian's chromium (not on a fresh machine): apt-get install "
                                                    "chromium, then SAM2AUTO_BROWSER_TESTS=1 bash scripts/test.sh -m browser "
                                                    "(.ci/run does both)"))
        if "gpu" in item.keywords:
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device; torch sees none on this machine"))


@pytest.fixture(autouse=True)
def _no_models_from_this_machine(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every process it starts) sees an empty models folder and an offline, empty
    Hugging Face cache: a checkpoint downloaded into the checkout's ``models/``, a user's
    ``$SAM2AUTO_MODELS_DIR`` or a cached hub model never changes what a test runs. Tests that want
    a model put one in a folder of their own."""
    root = tmp_path_factory.getbasetemp() / "machine-isolation"
    models, hub = root / "models", root / "huggingface"
    for folder in (models, hub):
        folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("SAM2AUTO_MODELS_DIR", str(models))  # replaces the checkout's models/ (registry.models_home)
    monkeypatch.setenv("HF_HOME", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


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

"""Keeping DDS traffic on this machine for tests, demos and benchmarks.

Fast DDS multicasts discovery on every interface by default. Anything this project starts for
its own purposes (tests, the demo, benchmarks) confines discovery to loopback with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (Kilted silently ignores ``ROS_LOCALHOST_ONLY``)
and a private ``ROS_DOMAIN_ID``. Nodes on a robot run with whatever the user configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DISCOVERY_VAR = "ROS_AUTOMATIC_DISCOVERY_RANGE"
LOOPBACK = "LOCALHOST"


class NetworkSafetyError(RuntimeError):
    """rclpy was about to start with DDS discovery reaching beyond loopback."""


def loopback_env(domain_id: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) with DDS confined to loopback."""
    if not 0 <= domain_id <= 232:
        raise ValueError(f"ROS_DOMAIN_ID must be in 0..232, got {domain_id}")
    env = dict(os.environ if base is None else base)
    env[DISCOVERY_VAR] = LOOPBACK
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env.pop("ROS_LOCALHOST_ONLY", None)
    env.pop("ROS_STATIC_PEERS", None)
    return env


def require_loopback(env: Mapping[str, str] | None = None) -> None:
    """Raise unless ``env`` confines DDS discovery to loopback."""
    env = os.environ if env is None else env
    value = env.get(DISCOVERY_VAR)
    if value != LOOPBACK:
        raise NetworkSafetyError(
            f"refusing to start rclpy with {DISCOVERY_VAR}={value!r}: set {DISCOVERY_VAR}={LOOPBACK} "
            "so DDS discovery stays on loopback (scripts/test.sh does this)"
        )
    if env.get("ROS_STATIC_PEERS"):
        raise NetworkSafetyError("refusing to start rclpy with ROS_STATIC_PEERS set: peers may be remote")

"""The harness never lets rclpy start with DDS discovery beyond loopback."""

import os
import socket

import pytest

from sam2auto_ros.ros.dds import NetworkSafetyError, loopback_env, require_loopback


def test_require_loopback_refuses_other_ranges():
    for env in ({}, {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}, {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT"}):
        with pytest.raises(NetworkSafetyError, match="LOCALHOST"):
            require_loopback(env)
    with pytest.raises(NetworkSafetyError, match="STATIC_PEERS"):
        require_loopback({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_STATIC_PEERS": "10.0.0.2"})
    require_loopback({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"})


def test_loopback_env_overrides_unsafe_settings():
    env = loopback_env(42, {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "ROS_STATIC_PEERS": "x", "PATH": "/bin"})
    assert env == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "42", "PATH": "/bin"}
    with pytest.raises(ValueError):
        loopback_env(300)


def test_ros_env_fixture_gives_each_test_its_own_domain(ros_env):
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ["ROS_DOMAIN_ID"] == ros_env["ROS_DOMAIN_ID"]


def test_suite_runs_in_a_private_network_namespace_when_test_sh_could_make_one():
    """scripts/test.sh marks the namespace; inside it only loopback exists."""
    if not os.environ.get("SAM2AUTO_PRIVATE_NETNS"):
        pytest.skip("not started through scripts/test.sh in a private network namespace")
    interfaces = {name for _, name in socket.if_nameindex()}  # netlink: this namespace, unlike /sys
    assert interfaces == {"lo"}, f"unexpected interfaces in the test namespace: {interfaces}"

"""Fixtures for tests that run the real nodes: the test's own probe node on the test's domain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from test.ros.graph import Probe


@pytest.fixture
def probe(rclpy_context) -> Iterator[Probe]:
    """A Probe already collecting /diagnostics, so tests can wait on node states."""
    from diagnostic_msgs.msg import DiagnosticArray

    p = Probe(rclpy_context)
    p.collect(DiagnosticArray, "/diagnostics", depth=50)
    yield p
    p.destroy()

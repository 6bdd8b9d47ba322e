"""Helpers for tests that run the real nodes as separate processes over real DDS (loopback only).

``NodeProcess`` starts ``python -m sam2auto_ros.ros.<executable> --ros-args ...`` with the test's
loopback environment and keeps its log; ``Probe`` is the test's own rclpy node: it collects
messages, waits for the graph, and drives lifecycle transitions and parameters through the
nodes' real services.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]


def ros_args(params: dict[str, Any] | None = None, remap: dict[str, str] | None = None, namespace: str = "") -> list[str]:
    out = ["--ros-args"]
    if namespace:
        out += ["-r", f"__ns:={namespace}"]
    for key, value in (params or {}).items():
        out += ["-p", f"{key}:={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"]
    for src, dst in (remap or {}).items():
        out += ["-r", f"{src}:={dst}"]
    return out


class NodeProcess:
    """One node executable in its own process; ``log()`` returns what it printed so far."""

    def __init__(self, executable: str, env: dict[str, str], tmp_path: Path, params: dict[str, Any] | None = None,
                 remap: dict[str, str] | None = None, namespace: str = "/sam2auto") -> None:
        self.name = executable
        self._interrupted = False
        self.log_path = tmp_path / f"{executable}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", f"sam2auto_ros.ros.{executable}", *ros_args(params, remap, namespace)]
        self.proc = subprocess.Popen(cmd, env={**env, "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"},
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def interrupt(self) -> None:
        if self.proc.poll() is None and not self._interrupted:
            self.proc.send_signal(2)  # SIGINT, once, as Ctrl-C / launch would
            self._interrupted = True

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.interrupt()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Probe:
    """The test's rclpy node."""

    def __init__(self, context: Any, name: str = "probe") -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.rclpy = rclpy
        self.node = rclpy.create_node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = defaultdict(list)
        self.subscriptions: dict[str, Any] = {}
        self.arrival: dict[str, list] = defaultdict(list)

    def collect(self, cls: type, topic: str, depth: int = 100) -> list:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        def on_msg(msg: Any) -> None:
            self.received[topic].append(msg)
            self.arrival[topic].append(time.time_ns())

        self.subscriptions[topic] = self.node.create_subscription(
            cls, topic, on_msg, QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE))
        return self.received[topic]

    def matched(self, topic: str) -> int:
        """Publishers matched with this probe's subscription to ``topic``."""
        return self.subscriptions[topic].get_publisher_count()

    def spin_until(self, condition: Callable[[], bool], timeout: float, procs: tuple[NodeProcess, ...] = ()) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            for proc in procs:
                assert proc.alive(), f"{proc.name} died:\n{proc.log()[-3000:]}"
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def topics(self) -> set[str]:
        return {name for name, _ in self.node.get_topic_names_and_types()}

    def call(self, srv_type: type, name: str, request: Any, timeout: float = 30.0) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            assert self.spin_until(client.service_is_ready, timeout), f"service {name} never appeared"
            future = client.call_async(request)
            assert self.spin_until(future.done, timeout), f"service {name} did not answer"
            return future.result()
        finally:
            self.node.destroy_client(client)

    def lifecycle(self, node_fqn: str, transition: str) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
               "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}
        request = ChangeState.Request(transition=Transition(id=ids[transition]))
        return bool(self.call(ChangeState, f"{node_fqn}/change_state", request).success)

    def state(self, node_fqn: str) -> str:
        from lifecycle_msgs.srv import GetState

        return str(self.call(GetState, f"{node_fqn}/get_state", GetState.Request()).current_state.label)

    def set_params(self, node_fqn: str, **values: Any) -> list:
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
        return list(self.call(SetParameters, f"{node_fqn}/set_parameters", request).results)

    def status(self, node_fqn: str) -> dict[str, str]:
        """The newest /diagnostics values of ``node_fqn`` (collect('/diagnostics') must be running)."""
        for msg in reversed(self.received["/diagnostics"]):
            for st in msg.status:
                if st.name == node_fqn:
                    return {kv.key: kv.value for kv in st.values} | {"_message": st.message, "_level": st.level}
        return {}

    def destroy(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()

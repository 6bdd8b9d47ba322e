"""Runs a launch file through the compatibility layer: load, evaluate, start nodes, supervise.

Each node is a subprocess of this Python (``python -m sam2auto_ros.ros.<executable>``, the same
``main`` that ``ros2 run`` starts) with its ROS arguments: ``__node``/``__ns`` remaps, parameter
files and a generated file for dict parameters, topic remaps. Output lines are prefixed with the
node's name. Ctrl-C (SIGINT) or SIGTERM is forwarded to every node as SIGINT; if a node exits
while the others run, the rest are stopped and the launch exits non-zero.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from sam2auto_ros.launch_compat import LaunchCompatError
from sam2auto_ros.launch_compat.model import LaunchDescription, NodeCall

SHIM_DIR = Path(__file__).with_name("shim")
PACKAGE = "sam2auto_ros"
STOP_TIMEOUT_S = 15.0


def load(path: str | Path) -> LaunchDescription:
    """Execute the launch file with the compatibility ``launch``/``launch_ros`` importable."""
    path = Path(path)
    if not path.is_file():
        raise LaunchCompatError(f"launch file {path} does not exist")
    for name in ("launch", "launch_ros"):
        module = sys.modules.get(name)
        if module is not None and not str(getattr(module, "__file__", "")).startswith(str(SHIM_DIR)):
            raise LaunchCompatError(f"a different `{name}` module is already imported ({module.__file__}); refusing to shadow it")
    if str(SHIM_DIR) not in sys.path:
        sys.path.insert(0, str(SHIM_DIR))
    spec = importlib.util.spec_from_file_location(f"_launch_{path.stem.replace('.', '_')}", path)
    if spec is None or spec.loader is None:
        raise LaunchCompatError(f"{path} cannot be loaded as a Python launch file")
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)
    if not hasattr(launch_file, "generate_launch_description"):
        raise LaunchCompatError(f"{path} has no generate_launch_description()")
    description = launch_file.generate_launch_description()
    if not isinstance(description, LaunchDescription):
        raise LaunchCompatError(f"{path}: generate_launch_description() returned {type(description).__name__}")
    return description


def command(call: NodeCall, param_dir: Path) -> list[str]:
    """The command line that starts ``call``."""
    if call.package != PACKAGE:
        raise LaunchCompatError(f"node {call.label}: the compatibility layer starts only {PACKAGE} executables, "
                                f"not package {call.package!r}")
    module = f"{PACKAGE}.ros.{call.executable}"
    if importlib.util.find_spec(module) is None:
        raise LaunchCompatError(f"{PACKAGE} has no executable {call.executable!r} (no module {module})")
    cmd = [sys.executable, "-m", module, *call.arguments, "--ros-args"]
    if call.name:
        cmd += ["-r", f"__node:={call.name}"]
    if call.namespace:
        cmd += ["-r", f"__ns:={call.namespace if call.namespace.startswith('/') else '/' + call.namespace}"]
    for i, entry in enumerate(call.parameters):
        if isinstance(entry, dict):
            # unique: nodes of one name in several namespaces (one simulated camera each) share a label
            fd, name = tempfile.mkstemp(prefix=f"{call.label}_{i}_", suffix=".yaml", dir=param_dir)
            os.close(fd)
            file = Path(name)
            file.write_text(yaml.safe_dump({"/**": {"ros__parameters": entry}}, sort_keys=False))
            entry = str(file)
        elif not Path(entry).is_file():
            raise LaunchCompatError(f"node {call.label}: parameter file {entry} does not exist")
        cmd += ["--params-file", entry]
    for src, dst in call.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    cmd += call.ros_arguments
    return cmd


class Supervisor:
    """Starts the node processes and stops them together."""

    def __init__(self, calls: list[NodeCall], env: Mapping[str, str], param_dir: Path, out=None) -> None:
        self.calls = calls
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.param_dir = param_dir
        self.out = out or sys.stdout
        self.procs: list[tuple[str, subprocess.Popen]] = []  # (label in the log, process)
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def _pump(self, label: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            self._say(f"[{label}] {line.rstrip()}")

    def start(self) -> None:
        commands = [(call, command(call, self.param_dir)) for call in self.calls]  # all checked before any starts
        labels = [call.label for call in self.calls]
        for call, cmd in commands:
            # a label several nodes share gets its namespace, as the log must say which one spoke
            label = f"{call.namespace.strip('/')}/{call.label}" if labels.count(call.label) > 1 and call.namespace else call.label
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)  # our own SIGINT forwarding, not the terminal's
            self.procs.append((label, proc))
            threading.Thread(target=self._pump, args=(label, proc), daemon=True).start()
            self._say(f"[launch] started {label} (pid {proc.pid})")

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def wait(self) -> int:
        """Until a stop request (returns 0) or a node exiting on its own (returns 1)."""
        failed: tuple[str, int] | None = None
        while not self._stop.is_set() and failed is None:
            for label, proc in self.procs:
                if proc.poll() is not None:
                    failed = (label, proc.returncode)
                    break
            self._stop.wait(0.2)
        if failed is not None:
            self._say(f"[launch] {failed[0]} exited with code {failed[1]}; stopping the other nodes")
        self.stop_all()
        return 1 if failed is not None else 0

    def stop_all(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for label, proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._say(f"[launch] {label} ignored SIGINT for {STOP_TIMEOUT_S} s; killing it")
                proc.kill()
                proc.wait()


def run(path: str | Path, arguments: Mapping[str, str], env: Mapping[str, str] | None = None) -> int:
    """Launch ``path`` with ``name:=value`` ``arguments``; returns the exit status."""
    description = load(path)
    _, calls, logs = description.evaluate(dict(arguments))
    for message in logs:
        print(f"[launch] {message}", flush=True)
    if not calls:
        print("[launch] nothing to start", flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="sam2auto-launch-") as tmp:
        supervisor = Supervisor(calls, os.environ if env is None else env, Path(tmp))
        previous = {sig: signal.signal(sig, supervisor.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            supervisor.start()
            return supervisor.wait()
        finally:
            supervisor.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def describe_arguments(path: str | Path) -> str:
    """What ``ros2 launch --show-args`` prints: each argument, its description and default."""
    lines = []
    for arg in load(path).arguments:
        default = arg.default_value if isinstance(arg.default_value, str) or arg.default_value is None else "(substitution)"
        lines.append(f"    '{arg.name}':\n        {arg.description}\n        (default: {default!r})")
    return "Arguments (pass arguments as '<name>:=<value>'):\n\n" + "\n\n".join(lines)

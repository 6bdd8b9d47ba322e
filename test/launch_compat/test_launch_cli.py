"""`sam2auto launch` on this pip-only install: the project's launch file starts the real nodes
through the compatibility layer; topics appear, Ctrl-C stops everything cleanly, a dying node
makes the launch exit non-zero."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test.ros.graph import Probe

pytestmark = pytest.mark.ros
CLI = [sys.executable, "-c", "import sys; from sam2auto_ros.cli import main; sys.exit(main())", "launch"]
ROOT = Path(__file__).resolve().parents[2]


def _launch(ros_env, tmp_path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"launch-{time.monotonic_ns()}.log"
    cmd = [*CLI, "--loopback", "--domain-id", ros_env["ROS_DOMAIN_ID"], *args]
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env={**ros_env, "PYTHONUNBUFFERED": "1"}, cwd=tmp_path)
    return proc, log


def _pids(log: Path) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"\[launch\] started (\S+) \(pid (\d+)\)", log.read_text())}


def _gone(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.mark.slow
def test_sim_launch_file_brings_up_the_graph_and_stops_on_sigint(rclpy_context, ros_env, tmp_path):
    from sam2auto_ros.msg import InstanceMaskArray

    bag = tmp_path / "bag"
    proc, log = _launch(ros_env, tmp_path, "sim.launch.py", "record:=true", f"bag:={bag}", "seed:=3")
    probe = Probe(rclpy_context)
    tracks = probe.collect(InstanceMaskArray, "/sam2auto/tracks")
    expected = {"/sam2auto/image", "/sam2auto/camera_info", "/sam2auto/ground_truth", "/sam2auto/detections",
                "/sam2auto/tracks", "/sam2auto/overlay", "/diagnostics"}
    try:
        ok = probe.spin_until(lambda: expected <= probe.topics() and len(tracks) >= 5 or proc.poll() is not None, 90)
        assert ok and proc.poll() is None, log.read_text()[-3000:]
        wanted = {"/sam2auto/sim_camera_node", "/sam2auto/smart_od_node", "/sam2auto/flash_node", "/sam2auto/recorder_node"}

        def nodes() -> set[str]:
            return {f"{ns.rstrip('/')}/{name}" for name, ns in probe.node.get_node_names_and_namespaces()}

        # node names travel by discovery too, and can trail the topics (a CI run missed one)
        assert probe.spin_until(lambda: wanted <= nodes(), 10), nodes()
        pids = _pids(log)
        assert set(pids) == {"sim_camera_node", "smart_od_node", "flash_node", "recorder_node"}
    finally:
        probe.destroy()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert all(_gone(pid) for pid in pids.values())
    assert "[flash_node]" in text and "configured: propagator flow-fallback" in text  # node output, prefixed
    assert bag.is_dir() and any(bag.iterdir()), "record:=true started the recorder, which wrote the bag"


@pytest.mark.slow
def test_sim_launch_with_two_cameras_tracks_and_records_both(rclpy_context, ros_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray

    from sam2auto_ros.io.bags import open_reader
    from sam2auto_ros.msg import InstanceMaskArray

    bag = tmp_path / "bag"
    proc, log = _launch(ros_env, tmp_path, "sim.launch.py", 'cameras:=[front, rear]', "record:=true", f"bag:={bag}")
    probe = Probe(rclpy_context)
    tracks = {camera: probe.collect(InstanceMaskArray, f"/sam2auto/{camera}/tracks") for camera in ("front", "rear")}
    probe.collect(DiagnosticArray, "/diagnostics")
    wanted = [f"/sam2auto/{camera}/{name}" for camera in ("front", "rear") for name in ("image", "tracks")]

    def recording() -> bool:  # the recorder's report: every wanted topic written (its readers match late at times)
        status = probe.status("/sam2auto/recorder_node")
        return all(int(status.get(f"{topic}.messages", 0)) > 0 for topic in wanted)

    try:
        ok = probe.spin_until(lambda: all(len(t) >= 5 for t in tracks.values()) and recording() or proc.poll() is not None, 90)
        assert ok and proc.poll() is None, (probe.status("/sam2auto/recorder_node"), log.read_text()[-3000:])
    finally:
        probe.destroy()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    pids = _pids(log)  # the two cameras' labels carry their namespaces, so none collapses
    assert len(pids) == 5 and all(_gone(pid) for pid in pids.values())  # two cameras, detector, tracker, recorder
    for camera, msgs in tracks.items():  # each camera's tracks are made on its own frames
        assert {m.header.frame_id for m in msgs} == {f"sim_{camera}"}
    reader = open_reader(bag)
    recorded = {c.topic for c in reader.connections if c.msgcount}
    reader.close()
    assert set(wanted) <= recorded


@pytest.mark.slow
def test_a_dying_node_stops_the_launch_with_an_error(rclpy_context, ros_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray

    proc, log = _launch(ros_env, tmp_path, str(ROOT / "launch" / "sim.launch.py"))
    probe = Probe(rclpy_context)
    probe.collect(DiagnosticArray, "/diagnostics")
    try:
        # the graph is up (every node reports itself active) before one of its nodes dies
        up = {f"/sam2auto/{name}" for name in ("sim_camera_node", "smart_od_node", "flash_node")}
        assert probe.spin_until(lambda: all(probe.status(n).get("state") == "active" for n in up) or proc.poll() is not None, 90)
        assert proc.poll() is None, log.read_text()[-3000:]
        pids = _pids(log)
        os.kill(pids["flash_node"], signal.SIGKILL)
        code = proc.wait(60)
    finally:
        probe.destroy()
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 1, text[-3000:]
    assert "flash_node exited with code -9; stopping the other nodes" in text
    assert all(_gone(pid) for pid in pids.values())


def test_bad_launch_arguments_are_refused(ros_env, tmp_path):
    out = subprocess.run([*CLI, "sim.launch.py", "sede:=3"], capture_output=True, text=True, env=ros_env, timeout=60)
    assert out.returncode == 2 and "unknown launch argument(s) ['sede']" in out.stderr
    out = subprocess.run([*CLI, "sim.launch.py", "seed=3"], capture_output=True, text=True, env=ros_env, timeout=60)
    assert out.returncode != 0 and "name:=value" in out.stderr
    out = subprocess.run([*CLI, "nope.launch.py"], capture_output=True, text=True, env=ros_env, timeout=60)
    assert out.returncode != 0 and "not found" in out.stderr


@pytest.mark.slow
def test_annotate_launch_file_tracks_a_camera_topic(rclpy_context, ros_env, tmp_path):
    """annotate.launch.py on a camera published elsewhere (here: the simulator on /cam/image_raw), set up
    through the user's params_file:= (backends, publish_masks) and a launch argument (classes), which
    wins over the file's value."""
    from sam2auto_ros.msg import InstanceMaskArray

    from test.ros.graph import NodeProcess

    params = tmp_path / "robot.yaml"
    params.write_text(
        "/**/smart_od_node:\n  ros__parameters:\n    detector: sim-noise\n    classes: [ball, box, ring, cone]\n"
        "/**/flash_node:\n  ros__parameters:\n    propagator: flow-fallback\n    publish_masks: false\n"
    )
    proc, log = _launch(ros_env, tmp_path, "annotate.launch.py", "image_topic:=/cam/image_raw", f"params_file:={params}",
                        "classes:=[ball, box]")
    camera = NodeProcess("sim_camera_node", ros_env, tmp_path, {"autostart": True, "loop": True, "n_frames": 60},
                         remap={"image": "/cam/image_raw", "ground_truth": "/sam2auto/ground_truth"}, namespace="/cam")
    probe = Probe(rclpy_context)
    tracks = probe.collect(InstanceMaskArray, "/sam2auto/tracks")
    try:
        ok = probe.spin_until(lambda: any(m.instances for m in tracks) or proc.poll() is not None, 90, (camera,))
        assert ok and proc.poll() is None, log.read_text()[-3000:]
        instances = [i for m in tracks for i in m.instances]
        assert {i.label for i in instances} <= {"ball", "box"}       # classes:= reached the detector
        assert all(len(i.mask_counts) == 0 for i in instances)        # the file's publish_masks reached the tracker
    finally:
        probe.destroy()
        camera.stop()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log.read_text()[-3000:]

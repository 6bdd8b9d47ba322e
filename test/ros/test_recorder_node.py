"""recorder_node with real DDS: a publisher process, the node in its own process, a real bag.

Shows the round trip (every message's bytes unchanged, read back with rosbags and with mcap's
own ROS 2 decoder) and crash safety (kill -9 mid-run, then the documented recovery).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from sam2auto_ros.io.bags import read_messages
from sam2auto_ros.io.recovery import recover_bag

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[2]
NS = "/rec_test"
TOPICS = {f"{NS}/image": "sensor_msgs/msg/Image", f"{NS}/detections": "sam2auto_ros/msg/InstanceMaskArray",
          f"{NS}/tracks": "sam2auto_ros/msg/InstanceMaskArray"}

PUBLISHER = textwrap.dedent(
    f"""
    import json, sys, time
    import numpy as np
    import rclpy
    import rclpy.duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
    from sam2auto_ros.msg import InstanceMaskArray
    from sam2auto_ros.ros.messages import frames_msg, image_msg

    count, rate, log_path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    rclpy.init()
    node = rclpy.create_node("rec_test_pub")
    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {{"image": node.create_publisher(Image, "{NS}/image", qos),
            "detections": node.create_publisher(InstanceMaskArray, "{NS}/detections", qos),
            "tracks": node.create_publisher(InstanceMaskArray, "{NS}/tracks", qos)}}
    deadline = time.monotonic() + 30
    while any(p.get_subscription_count() == 0 for p in pubs.values()):
        if time.monotonic() > deadline:
            sys.exit("recorder never subscribed")
        rclpy.spin_once(node, timeout_sec=0.05)
    rng = np.random.default_rng(0)
    with open(log_path, "w") as log:
        for i in range(count):
            stamp = 1_000_000_000 + i * 50_000_000
            pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            mask = np.zeros((48, 64), bool); mask[5:5 + i % 30, 10:20] = True
            inst = Instance.from_mask_array(mask, label="cup", score=0.5 + i / 1000, track_id=i % 7,
                                            status=InstanceStatus.CONFIRMED)
            frame = FrameInstances(stamp, 48, 64, (inst,), frame_id="cam")
            for name, msg in (("image", image_msg(pixels, stamp, "cam")), ("detections", frames_msg(frame)),
                              ("tracks", frames_msg(frame))):
                # Published pre-serialized: serialize_message leaves CDR padding bytes uninitialised,
                # so only the bytes actually put on the wire are a fair reference.
                raw = serialize_message(msg)
                pubs[name].publish(raw)
                log.write(json.dumps([name, raw.hex(), time.time()]) + "\\n")
            log.flush()
            time.sleep(1 / rate)
    for pub in pubs.values():  # reliable delivery finishes before the writers go away
        if not pub.wait_for_all_acked(rclpy.duration.Duration(seconds=60)):
            sys.exit("the recorder never acknowledged every message")
    node.destroy_node()
    rclpy.shutdown()
    """
)


def _start_recorder(env: dict, bag: Path, storage: str, flush: float) -> subprocess.Popen:
    args = ["--ros-args", "-r", f"__ns:={NS}", "-p", "autostart:=true", "-p", f"bag_path:={bag}",
            "-p", f"storage:={storage}", "-p", f"flush_period_s:={flush}", "-p", "labels:=[cup, person]",
            "-p", "model:=test-model", "-p", "backend:=fallback"]
    return subprocess.Popen([sys.executable, "-m", "sam2auto_ros.ros.recorder_node", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _sent(log: Path) -> list[tuple[str, bytes, float]]:
    return [(f"{NS}/{n}", bytes.fromhex(h), t) for n, h, t in (json.loads(line) for line in log.read_text().splitlines())]


def _by_topic(items) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {t: [] for t in TOPICS}
    for topic, raw in items:
        out[topic].append(raw)
    return out


def _written(probe, node: str, counts: dict[str, int]) -> bool:
    """The recorder's own report (/diagnostics): every topic in ``counts`` written that many times."""
    status = probe.status(node)
    return all(int(status.get(f"{topic}.messages", -1)) == n for topic, n in counts.items())


def test_round_trip_every_message_unchanged_and_readable_by_rosbags_and_mcap(probe, ros_env, tmp_path):
    bag, log = tmp_path / "bag", tmp_path / "sent.jsonl"
    recorder = _start_recorder(ros_env, bag, "mcap", 1.0)
    try:
        pub = subprocess.run([sys.executable, "-c", PUBLISHER, "40", "40", str(log)], cwd=ROOT, env=ros_env,
                             capture_output=True, text=True, timeout=120)
        assert pub.returncode == 0, pub.stderr
        assert probe.spin_until(lambda: _written(probe, f"{NS}/recorder_node", dict.fromkeys(TOPICS, 40)), 30), \
            probe.status(f"{NS}/recorder_node")
    finally:
        recorder.send_signal(signal.SIGINT)
        out, _ = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, out
    sent = _by_topic((t, raw) for t, raw, _ in _sent(log))
    recorded = list(read_messages(bag))
    assert {m.topic: m.msgtype for m in recorded} == TOPICS
    got = _by_topic((m.topic, m.rawdata) for m in recorded)
    assert got == sent  # count, order and bytes
    assert all(len(v) == 40 for v in sent.values())
    # independently of rosbags: mcap's reader and ROS 2 decoder
    decoded = {t: [] for t in TOPICS}
    for path in bag.glob("*.mcap"):
        with path.open("rb") as handle:
            for _, channel, message, ros_msg in make_reader(handle, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
                decoded[channel.topic].append((bytes(message.data), ros_msg))
    assert {t: [raw for raw, _ in v] for t, v in decoded.items()} == sent
    tracks = [m for _, m in decoded[f"{NS}/tracks"]]
    assert [m.instances[0].track_id for m in tracks] == [i % 7 for i in range(40)]
    assert decoded[f"{NS}/image"][3][1].width == 64
    custom = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["custom_data"]
    assert json.loads(custom["labels"]) == ["cup", "person"] and custom["backend"] == "fallback"
    assert json.loads(custom["recorder_parameters"])["storage"] == "mcap"


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_kill_9_mid_run_leaves_a_bag_holding_everything_but_the_last_flush_window(ros_env, tmp_path, storage):
    flush = 0.5
    bag, log = tmp_path / "bag", tmp_path / "sent.jsonl"
    recorder = _start_recorder(ros_env, bag, storage, flush)
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, "400", "20", str(log)], cwd=ROOT, env=ros_env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not log.exists() or len(log.read_text().splitlines()) < 3 * 50:  # ~2.5 s of messages
            assert time.monotonic() < deadline and pub.poll() is None and recorder.poll() is None, "no traffic"
            time.sleep(0.05)
        os.kill(recorder.pid, signal.SIGKILL)
        killed_at = time.time()
        recorder.wait(timeout=10)
    finally:
        pub.kill()
        pub.wait(timeout=10)
        if recorder.poll() is None:
            recorder.kill()
    assert (bag / "metadata.yaml").exists()
    assert list(read_messages(bag)) == []  # opens as left; its only split was still open
    recover_bag(bag)
    recorded = _by_topic((m.topic, m.rawdata) for m in read_messages(bag))
    sent = _sent(log)
    sent_by_topic = _by_topic((t, raw) for t, raw, _ in sent)
    window = flush + 0.5  # the flush period plus delivery slack
    for topic, raws in recorded.items():
        assert raws == sent_by_topic[topic][: len(raws)]  # unchanged, in order, no holes
    must_have = _by_topic((t, raw) for t, raw, when in sent if when < killed_at - window)
    for topic in TOPICS:
        assert len(recorded[topic]) >= len(must_have[topic]) > 0, topic


def test_configure_refuses_an_existing_bag_and_stays_alive(rclpy_context, tmp_path):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from sam2auto_ros.ros.recorder_node import RecorderNode

    (tmp_path / "taken").mkdir()
    node = RecorderNode(context=rclpy_context, parameter_overrides=[Parameter("bag_path", value=str(tmp_path / "taken"))])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "already exists" in node.last_error and node.recorder is None
        node.set_parameters([Parameter("bag_path", value=str(tmp_path / "fresh"))])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert (tmp_path / "fresh" / "metadata.yaml").exists()
        node.trigger_cleanup()
        assert not (tmp_path / "fresh" / ".open").exists()  # cleanup finishes the bag
    finally:
        node.destroy_node()


def test_named_cameras_refuse_absolute_topics_before_a_bag_is_opened(rclpy_context, tmp_path):
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from sam2auto_ros.ros.recorder_node import RecorderNode

    node = RecorderNode(context=rclpy_context, parameter_overrides=[
        Parameter("bag_path", value=str(tmp_path / "bag")), Parameter("cameras", value=["front", "rear"]),
        Parameter("image_topic", value="/camera/image_raw")])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "absolute topic names" in node.last_error and not (tmp_path / "bag").exists()
        node.set_parameters([Parameter("image_topic", value="image")])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        node.trigger_cleanup()
    finally:
        node.destroy_node()


@pytest.mark.slow
def test_live_sim_camera_recorded_then_annotated_offline(probe, ros_env, tmp_path):
    """The whole chain with real nodes: sim_camera_node -> recorder_node (image + ground truth) ->
    annotate-bag offline. Every recorded message reaches the labelled bag unchanged."""
    from sam2auto_ros.annotate_bag import annotate_bag, output_topics
    from sam2auto_ros.io.instance_msgs import frame_from_msg
    from sam2auto_ros.sim import CLASS_NAMES
    from test.test_annotate_bag import idf1

    ns, frames = "/chain", 30
    bag = tmp_path / "live"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "sam2auto_ros.ros.recorder_node", "--ros-args", "-r", f"__ns:={ns}",
         "-p", "autostart:=true", "-p", f"bag_path:={bag}", "-p", "detections_topic:=''", "-p", "tracks_topic:=''",
         "-p", "extra_topics:=['ground_truth:sam2auto_ros/msg/InstanceMaskArray']"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    camera = subprocess.Popen(
        [sys.executable, "-m", "sam2auto_ros.ros.sim_camera_node", "--ros-args", "-r", f"__ns:={ns}",
         "-p", "autostart:=true", "-p", "scene:=crossing", "-p", "seed:=3", "-p", "width:=128", "-p", "height:=96",
         "-p", f"n_frames:={frames}", "-p", "fps:=15.0", "-p", "wait_for_subscribers:=1"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    camera_lines: list[str] = []
    reader = threading.Thread(target=lambda: camera_lines.extend(camera.stdout), daemon=True)
    reader.start()
    try:
        # until the recorder reports the whole scene written (start-up time varies a lot on a loaded machine)
        def recorded() -> bool:
            assert camera.poll() is None and recorder.poll() is None, "a node exited early"
            return _written(probe, f"{ns}/recorder_node", {f"{ns}/image": frames, f"{ns}/ground_truth": frames})

        assert probe.spin_until(recorded, 120), probe.status(f"{ns}/recorder_node")
    finally:
        camera.send_signal(signal.SIGINT)
        recorder.send_signal(signal.SIGINT)
        camera.wait(timeout=60)
        reader.join(timeout=10)
        cam_out = "".join(camera_lines)
        rec_out, _ = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, rec_out
    recorded = list(read_messages(bag))
    counts = {t: sum(1 for m in recorded if m.topic == t) for t in (f"{ns}/image", f"{ns}/ground_truth")}
    assert counts == {f"{ns}/image": frames, f"{ns}/ground_truth": frames}, (counts, cam_out[-2000:])
    out = tmp_path / "labelled"
    annotate_bag(bag, out, classes=CLASS_NAMES, progress=False)
    topics = output_topics()
    labelled = list(read_messages(out))
    assert [m.rawdata for m in labelled if m.topic not in topics.values()] == [m.rawdata for m in recorded]
    tracks = [frame_from_msg(m.decode()) for m in labelled if m.topic == topics["tracks"]]
    truth = [frame_from_msg(m.decode()) for m in recorded if m.topic == f"{ns}/ground_truth"]
    assert len(tracks) == frames
    assert idf1(tracks, truth) > 0.8

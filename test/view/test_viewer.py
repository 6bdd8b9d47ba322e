"""``sam2auto view`` over a real Foxglove WebSocket on loopback: a client subscribes, a labelled bag
plays, and what arrives is decoded from the schemas the server advertised."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.sync.client import connect

from sam2auto_ros.annotate_bag import annotate_bag, record_scene_bag
from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.io.bags import read_messages
from sam2auto_ros.io.instance_msgs import frame_from_msg, stamp_to_ns
from sam2auto_ros.sim import CLASS_NAMES, make_scene
from sam2auto_ros.view.bag import choose_topics, play_bag
from sam2auto_ros.view.server import (
    ANNOTATIONS_TOPIC,
    IMAGE_TOPIC,
    LOG_TOPIC,
    TRACKS_SCHEMA_NAME,
    TRACKS_TOPIC,
    Viewer,
    ViewerError,
)

TOPICS = (IMAGE_TOPIC, ANNOTATIONS_TOPIC, TRACKS_TOPIC, LOG_TOPIC)
FRAMES = 10


@pytest.fixture(scope="module")
def camera_bag(tmp_path_factory) -> Path:
    scene = make_scene("crossing", seed=5, n_frames=FRAMES, height=96, width=128)
    return record_scene_bag(scene.frames(), tmp_path_factory.mktemp("view") / "camera")


@pytest.fixture(scope="module")
def labelled_bag(camera_bag, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("view") / "labelled"
    annotate_bag(camera_bag, out, classes=CLASS_NAMES, progress=False, overlay=False)
    return out


class Client:
    """A Foxglove WebSocket client (protocol foxglove.sdk.v1) that subscribes to every channel and
    decodes protobuf messages with the schemas the server advertised."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.channels: dict[int, dict[str, Any]] = {}
        while len(self.channels) < len(TOPICS):
            msg = json.loads(self.ws.recv(timeout=10))
            if msg["op"] == "advertise":
                self.channels.update({c["id"]: c for c in msg["channels"]})
        self.by_subscription = dict(enumerate(self.channels.values(), 1))
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": sub, "channelId": c["id"]} for sub, c in self.by_subscription.items()]}))
        self._classes: dict[str, Any] = {}

    def channel(self, topic: str) -> dict[str, Any]:
        return next(c for c in self.channels.values() if c["topic"] == topic)

    def _decode(self, channel: dict[str, Any], payload: bytes) -> Any:
        if channel["encoding"] == "json":
            return json.loads(payload)
        name = channel["schemaName"]
        if name not in self._classes:
            files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"]))
            pool = descriptor_pool.DescriptorPool()
            for proto in files.file:
                pool.Add(proto)
            self._classes[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
        return self._classes[name].FromString(payload)

    def receive(self, until: Any, timeout: float = 20.0) -> dict[str, list[tuple[int, Any]]]:
        """Messages per topic, as (log time, decoded), until ``until(received)`` holds."""
        received: dict[str, list[tuple[int, Any]]] = {t: [] for t in TOPICS}
        while not until(received):
            data = self.ws.recv(timeout=timeout)
            if isinstance(data, str):
                continue
            assert data[0] == 0x01  # message data
            sub, log_time = struct.unpack_from("<IQ", data, 1)
            channel = self.by_subscription[sub]
            received[channel["topic"]].append((log_time, self._decode(channel, data[13:])))
        return received



def _ns(stamp: Any) -> int:
    return stamp.seconds * 1_000_000_000 + stamp.nanos  # google.protobuf.Timestamp


def _play(viewer: Viewer, bag: Path) -> threading.Thread:
    assert viewer.wait_for_subscribers(TOPICS, timeout=10)
    player = threading.Thread(target=play_bag, args=(viewer, bag, choose_topics(bag)), kwargs={"rate": 0})
    player.start()
    return player


def test_a_client_sees_the_camera_annotations_and_track_list_of_a_labelled_bag(labelled_bag):
    view = choose_topics(labelled_bag)
    truth = [frame_from_msg(m.decode()) for m in read_messages(labelled_bag, [view.tracks_topic])]
    with Viewer(port=0) as viewer:
        assert viewer.url.startswith("ws://127.0.0.1:")  # loopback by default
        with connect(viewer.url, subprotocols=["foxglove.sdk.v1"], open_timeout=10) as ws:
            client = Client(ws)
            player = _play(viewer, labelled_bag)
            got = client.receive(lambda r: len(r[IMAGE_TOPIC]) == FRAMES and len(r[ANNOTATIONS_TOPIC]) == FRAMES
                                 and len(r[TRACKS_TOPIC]) == FRAMES)
            player.join()
    schemas = {t: client.channel(t)["schemaName"] for t in TOPICS}
    assert schemas == {IMAGE_TOPIC: "foxglove.CompressedImage", ANNOTATIONS_TOPIC: "foxglove.ImageAnnotations",
                       TRACKS_TOPIC: TRACKS_SCHEMA_NAME, LOG_TOPIC: "foxglove.Log"}
    stamps = [t.stamp_ns for t in truth]
    # the camera, compressed, stamped with the bag's frame stamps (and logged at them)
    assert [_ns(m.timestamp) for _, m in got[IMAGE_TOPIC]] == stamps == [t for t, _ in got[IMAGE_TOPIC]]
    assert all(m.format in ("png", "jpeg") and m.data[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")
               for _, m in got[IMAGE_TOPIC])
    # the annotations: one text "id label score" per track of that frame, at the frame's stamp
    shown = 0
    for frame, (log_time, msg) in zip(truth, got[ANNOTATIONS_TOPIC]):
        assert log_time == frame.stamp_ns
        assert sorted(t.text for t in msg.texts) == sorted(f"{i.track_id} {i.label} {i.score:.2f}" for i in frame.instances)
        assert {_ns(t.timestamp) for t in [*msg.texts, *msg.points]} <= {frame.stamp_ns}
        assert all(len(p.points) >= 3 and p.type == 2 for p in msg.points)  # LINE_LOOP polygons
        shown += len(msg.texts)
    assert shown > FRAMES  # the scene's objects were tracked and drawn
    # the track list
    for frame, (_, listed) in zip(truth, got[TRACKS_TOPIC]):
        assert listed["stamp_ns"] == frame.stamp_ns
        assert [(t["id"], t["label"]) for t in listed["tracks"]] == [(i.track_id, i.label) for i in frame.instances]


def test_a_bag_without_tracks_shows_the_camera_and_says_so(camera_bag):
    with Viewer(port=0) as viewer, connect(viewer.url, subprotocols=["foxglove.sdk.v1"], open_timeout=10) as ws:
        client = Client(ws)
        player = _play(viewer, camera_bag)
        got = client.receive(lambda r: len(r[IMAGE_TOPIC]) == FRAMES and len(r[LOG_TOPIC]) == 1
                             and len(r[TRACKS_TOPIC]) == FRAMES)
        player.join()
    stamps = [stamp_to_ns(m.decode().header.stamp) for m in read_messages(camera_bag, ["/sam2auto/image"])]
    assert [_ns(m.timestamp) for _, m in got[IMAGE_TOPIC]] == stamps
    assert "no tracks" in got[LOG_TOPIC][0][1].message
    assert all(listed["tracks"] == [] and "no tracks" in listed["note"] for _, listed in got[TRACKS_TOPIC])
    assert got[ANNOTATIONS_TOPIC] == []


def test_a_port_in_use_is_one_clear_error(camera_bag, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ViewerError, match=f"127.0.0.1:{port}.*choose another port"):
            Viewer(port=port)
        assert cli_main(["view", str(camera_bag), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sam2auto view: error: cannot serve Foxglove") and "in use" in err[0]


def test_a_bag_with_no_camera_is_refused(tmp_path):
    from sam2auto_ros.io.bags import BagWriter

    with BagWriter(tmp_path / "empty") as writer:
        writer.write_raw("/a", "std_msgs/msg/Empty", b"\x00\x01\x00\x00\x00", 1)
    with pytest.raises(ViewerError, match="no camera topic"):
        choose_topics(tmp_path / "empty")
    with pytest.raises(ViewerError, match="does not exist"):
        choose_topics(tmp_path / "missing")


@pytest.mark.ros
def test_live_topics_reach_the_client(rclpy_context):
    import time

    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from sam2auto_ros.core.instance import FrameInstances, Instance
    from sam2auto_ros.msg import InstanceMaskArray
    from sam2auto_ros.ros.messages import frames_msg, image_msg
    from sam2auto_ros.ros.view_source import run_live

    node = rclpy.create_node("live_feed", context=rclpy_context)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    images = node.create_publisher(Image, "/live/image", qos)
    tracks = node.create_publisher(InstanceMaskArray, "/live/tracks", qos)
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:40] = True
    frame = FrameInstances(stamp_ns=7_000_000_123, height=48, width=64, frame_id="cam",
                           instances=(Instance.from_mask_array(mask, label="car", score=0.9, track_id=4),))
    stop = threading.Event()
    with Viewer(port=0) as viewer, connect(viewer.url, subprotocols=["foxglove.sdk.v1"], open_timeout=10) as ws:
        client = Client(ws)
        assert viewer.wait_for_subscribers(TOPICS, timeout=10)
        live = threading.Thread(target=run_live, args=(viewer, "/live", False, stop))
        live.start()
        deadline = time.monotonic() + 20
        while (images.get_subscription_count() == 0 or tracks.get_subscription_count() == 0) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for discovery on loopback, bounded
        images.publish(image_msg(np.zeros((48, 64, 3), np.uint8), frame.stamp_ns, "cam"))
        tracks.publish(frames_msg(frame))
        got = client.receive(lambda r: len(r[IMAGE_TOPIC]) == 1 and len(r[ANNOTATIONS_TOPIC]) == 1)
        stop.set()
        live.join(timeout=10)
    node.destroy_node()
    assert not live.is_alive()
    assert [(t, _ns(m.timestamp), m.format) for t, m in got[IMAGE_TOPIC]] == [(frame.stamp_ns, frame.stamp_ns, "jpeg")]
    log_time, shown = got[ANNOTATIONS_TOPIC][0]
    assert log_time == frame.stamp_ns and [t.text for t in shown.texts] == ["4 car 0.90"] and len(shown.points) == 1

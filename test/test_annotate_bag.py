"""Offline bag annotation on real rosbag2 files (MCAP and sqlite3), simulated scenes as input."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from sam2auto_ros.annotate_bag import (
    SIM_TRUTH_TOPIC,
    AnnotateError,
    annotate_bag,
    output_topics,
    record_scene_bag,
)
from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagWriter, read_messages
from sam2auto_ros.io.images import encode_compressed, image_fields
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp
from sam2auto_ros.pipeline import Pipeline
from sam2auto_ros.sim import CLASS_NAMES, make_scene

TOPICS = output_topics()


@pytest.fixture(scope="module")
def scene():
    return make_scene("crossing", seed=3, n_frames=30, height=128, width=160)


@pytest.fixture(scope="module")
def sim_bag(scene, tmp_path_factory) -> Path:
    return record_scene_bag(scene.frames(), tmp_path_factory.mktemp("in") / "sim")


def idf1(tracks: list[FrameInstances], truth: list[FrameInstances]) -> float:
    from sam2auto_ros.eval import evaluate

    return evaluate({"seq": (truth, tracks)}, with_jf=False).combined["IDF1"]


def test_round_trip_keeps_every_message_and_adds_annotations(sim_bag, scene, tmp_path):
    out = tmp_path / "labelled"
    report = annotate_bag(sim_bag, out, classes=CLASS_NAMES, progress=False)
    assert report.frames == 30 and report.messages_copied == 60
    original = list(read_messages(sim_bag))
    written = list(read_messages(out))
    copied = [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in written if m.topic not in TOPICS.values()]
    assert copied == [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in original]  # count, order, bytes
    per_topic = Counter(m.topic for m in written)
    assert per_topic[TOPICS["tracks"]] == per_topic[TOPICS["detections"]] == per_topic[TOPICS["overlay"]] == 30
    # independently of rosbags: mcap's reader and ROS 2 decoder read the new bag
    decoded = defaultdict(list)
    with next(out.glob("*.mcap")).open("rb") as handle:
        for _, channel, _, msg in make_reader(handle, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            decoded[channel.topic].append(msg)
    assert len(decoded[TOPICS["tracks"]]) == 30 and decoded[TOPICS["overlay"]][0].width == 160
    tracks = [frame_from_msg(m.decode()) for m in written if m.topic == TOPICS["tracks"]]
    truth = [f.gt for f in scene.frames()]
    assert [t.stamp_ns for t in tracks] == [g.stamp_ns for g in truth]  # stamped with the source frames
    assert idf1(tracks, truth) > 0.8  # weight-free backend; 1.0 measured on this seed
    assert not list(tmp_path.glob(".labelled.partial-*"))


def test_sqlite3_in_and_out_with_compressed_frames(scene, tmp_path):
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    compressed = store.types[msg_types.COMPRESSED_IMAGE]
    src = tmp_path / "compressed"
    with BagWriter(src, storage="sqlite3") as writer:
        for f in list(scene.frames())[:12]:
            fmt, data = encode_compressed(f.image, "png")  # lossless: the truth still fits the pixels
            header = classes.header(stamp=ns_to_stamp(f.stamp_ns, classes.time), frame_id="cam")
            writer.write("/cam/image/compressed", compressed(header=header, format=fmt, data=data), f.stamp_ns)
            writer.write(SIM_TRUTH_TOPIC, frame_to_msg(f.gt, classes), f.stamp_ns)
    out = tmp_path / "out"
    report = annotate_bag(src, out, classes=CLASS_NAMES, storage="sqlite3", overlay=False, progress=False)
    assert report.image_topic == "/cam/image/compressed" and next(out.glob("*.db3"))
    written = list(read_messages(out))
    assert [m.rawdata for m in written if m.topic == "/cam/image/compressed"] == [m.rawdata for m in read_messages(src, ["/cam/image/compressed"])]
    assert TOPICS["overlay"] not in {m.topic for m in written}


class _ScriptedDetector:
    """Test double of the Detector interface: detects nothing (and raises Ctrl-C on call ``interrupt_at``)."""

    name = "scripted"
    needs_truth = False

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls = 0
        self.interrupt_at = interrupt_at

    def detect(self, image, stamp_ns, truth=None):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return FrameInstances(stamp_ns, image.shape[0], image.shape[1])


def _scripted_pipeline(interrupt_at: int | None = None) -> Pipeline:
    from sam2auto_ros.fallback import OpticalFlowPropagator

    return Pipeline(_ScriptedDetector(interrupt_at), OpticalFlowPropagator())


def test_interrupted_run_leaves_nothing_that_looks_complete(sim_bag, tmp_path):
    pipeline = _scripted_pipeline(interrupt_at=5)
    with pytest.raises(KeyboardInterrupt):
        annotate_bag(sim_bag, tmp_path / "out", pipeline, progress=False)
    assert list(tmp_path.iterdir()) == []


def _write_bag(path: Path, frames, storage: str = "mcap") -> Path:
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    with BagWriter(path, storage=storage) as writer:
        for i, (pixels, encoding) in enumerate(frames):
            header = classes.header(stamp=ns_to_stamp(10**9 + i, classes.time), frame_id="cam")
            writer.write("/cam/image", store.types[msg_types.IMAGE](header=header, **image_fields(pixels, encoding)), 10**9 + i)
    return path


def _assert_refused(tmp_path: Path, bag: Path, match: str, **kwargs) -> None:
    out = tmp_path / "refused_out"
    with pytest.raises(AnnotateError, match=match):
        annotate_bag(bag, out, progress=False, **kwargs)
    assert not out.exists() and not list(tmp_path.glob(".refused_out*"))


def test_bad_inputs_give_one_clear_error_and_write_nothing(sim_bag, tmp_path):
    rgb = np.zeros((32, 40, 3), np.uint8)
    _assert_refused(tmp_path, tmp_path / "nope", "does not exist")
    _assert_refused(tmp_path, sim_bag, r"no topic /camera/image_raw; image topics in it: /sam2auto/image", topic="/camera/image_raw")
    _assert_refused(tmp_path, sim_bag, "not an image", topic=SIM_TRUTH_TOPIC)
    with BagWriter(tmp_path / "empty"):
        pass
    _assert_refused(tmp_path, tmp_path / "empty", "is empty")
    mixed = _write_bag(tmp_path / "mixed", [(rgb, "rgb8")] * 3 + [(rgb[..., 0], "mono8")])
    _assert_refused(tmp_path, mixed, r"frame 3 of /cam/image is mono8 40x32, earlier frames are rgb8 40x32: mixed encodings",
                    pipeline=_scripted_pipeline())
    resized = _write_bag(tmp_path / "resized", [(rgb, "rgb8"), (rgb[:16], "rgb8")])
    _assert_refused(tmp_path, resized, "frame 1 of /cam/image is rgb8 40x16", pipeline=_scripted_pipeline())
    # a bag with no ground truth and no detector weights: says what is missing
    _assert_refused(tmp_path, _write_bag(tmp_path / "real", [(rgb, "rgb8")] * 2), "needs the ground truth")


def test_unknown_message_type_is_named(tmp_path):
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg("int32 x", "acme_msgs/msg/Widget"))
    with Writer(tmp_path / "acme", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/widget", "acme_msgs/msg/Widget", typestore=store)
        widget = store.types["acme_msgs/msg/Widget"](x=3)
        writer.write(conn, 1, store.serialize_cdr(widget, "acme_msgs/msg/Widget"))
    _assert_refused(tmp_path, tmp_path / "acme", r"/widget \(acme_msgs/msg/Widget\)")


def test_truncated_and_corrupt_bags(sim_bag, tmp_path):
    import shutil

    truncated = tmp_path / "truncated"
    shutil.copytree(sim_bag, truncated)
    data_file = next(truncated.glob("*.mcap"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    _assert_refused(tmp_path, truncated, "cannot open bag")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(sim_bag, corrupt)
    data_file = next(corrupt.glob("*.mcap"))
    raw = bytearray(data_file.read_bytes())
    raw[8:4000] = b"\xff" * (4000 - 8)  # header and first chunk overwritten
    data_file.write_bytes(bytes(raw))
    _assert_refused(tmp_path, corrupt, "corrupt|cannot open")
    garbage = tmp_path / "garbage"
    shutil.copytree(_write_bag(tmp_path / "sq", [(np.zeros((8, 8, 3), np.uint8), "rgb8")], "sqlite3"), garbage)
    next(garbage.glob("*.db3")).write_bytes(b"not a database" * 100)
    _assert_refused(tmp_path, garbage, "cannot open bag|corrupt")


def test_cli_annotate_then_export(sim_bag, tmp_path, capsys):
    out = tmp_path / "labelled"
    assert cli_main(["annotate-bag", str(sim_bag), str(out), "--classes", *CLASS_NAMES, "--quiet", "--no-overlay"]) == 0
    assert "60 input messages copied unchanged" in capsys.readouterr().out
    assert cli_main(["dataset", "export", str(out), "--out", str(tmp_path / "ds"), "--format", "coco", "mots"]) == 0
    assert (tmp_path / "ds" / "coco.json").exists() and (tmp_path / "ds" / "overlay.mp4").exists()
    assert len(list((tmp_path / "ds" / "images" / "video").glob("*.jpg"))) == 30
    assert cli_main(["annotate-bag", str(sim_bag), str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_damaged_bytes_never_crash_and_never_leave_an_output(tmp_path):
    """Random byte flips: either a clean result or one AnnotateError (pixel damage is undetectable:
    rosbags writes no CRCs), and a failed run leaves nothing at the output path."""
    import random
    import shutil

    src = record_scene_bag(make_scene("crossing", seed=1, n_frames=4, height=48, width=48).frames(), tmp_path / "src")
    rng = random.Random(7)
    outcomes = Counter()
    for trial in range(40):
        bag, out = tmp_path / f"bag{trial}", tmp_path / f"out{trial}"
        shutil.copytree(src, bag)
        data_file = next(bag.glob("*.mcap"))
        raw = bytearray(data_file.read_bytes())
        pos = rng.randrange(len(raw) - 8)
        raw[pos : pos + 4] = bytes(rng.randrange(256) for _ in range(4))
        data_file.write_bytes(bytes(raw))
        try:
            annotate_bag(bag, out, classes=CLASS_NAMES, progress=False)
            outcomes["done"] += 1
        except AnnotateError:
            outcomes["refused"] += 1
            assert not out.exists()
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 40
    assert not list(tmp_path.glob(".out*"))

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.rosbag2 import Reader

from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagError, read_messages
from sam2auto_ros.io.recorder import OPEN_DIR, BagRecorder
from sam2auto_ros.io.recovery import recover_bag

ROOT = Path(__file__).resolve().parents[2]
STRING = "std_msgs/msg/String"


def _raw(i: int, size: int = 1000) -> bytes:
    store = msg_types.typestore()
    return bytes(store.serialize_cdr(store.types[STRING](data=f"m{i:05d}" + "x" * size), STRING))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_split_bag_holds_every_message_unchanged_with_metadata(tmp_path, storage):
    bag = tmp_path / "rec"
    sent = [_raw(i) for i in range(300)]
    with BagRecorder(bag, storage, split_bytes=100_000, custom_data={"labels": ["cup", "person"], "model": "sam2.1_tiny"}) as rec:
        for i, raw in enumerate(sent):
            rec.write_raw("/s", STRING, raw, 1_000 + i)
    assert not (bag / OPEN_DIR).exists()
    assert len(rec.files) == 4 and all(f.suffix == (".mcap" if storage == "mcap" else ".db3") for f in rec.files)
    reader = Reader(bag)
    reader.open()
    assert reader.message_count == 300
    got = [bytes(raw) for _, _, raw in reader.messages()]
    reader.close()
    assert got == sent
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["custom_data"] == {"labels": '["cup", "person"]', "model": "sam2.1_tiny"}
    per_split = 100_000 // len(sent[0])  # split before a message would pass split_bytes
    assert [f["message_count"] for f in info["files"]] == [per_split] * 3 + [300 - 3 * per_split]


def test_split_by_message_time(tmp_path):
    with BagRecorder(tmp_path / "rec", split_seconds=1.0) as rec:
        for i in range(50):
            rec.write_raw("/s", STRING, _raw(i, 10), 10**9 + i * 100_000_000)  # 10 Hz for 5 s
    assert len(rec.files) == 5
    assert [m.timestamp_ns for m in read_messages(tmp_path / "rec")] == [10**9 + i * 100_000_000 for i in range(50)]


def test_flush_follows_the_clock(tmp_path):
    clock = Clock()
    with BagRecorder(tmp_path / "rec", flush_seconds=1.0, clock=clock) as rec:
        for i in range(20):
            rec.write_raw("/s", STRING, _raw(i, 10), i)
            clock.now += 0.25  # writes at 0, 0.25, ... 4.75 s
        assert rec.flush_count == 4  # at 1, 2, 3 and 4 s
        clock.now += 1.0
        assert rec.maybe_flush() and rec.flush_count == 5  # an idle timer flushes what is pending


def test_bad_arguments(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="already exists"):
        BagRecorder(tmp_path / "exists")
    with pytest.raises(BagError, match="unknown storage"):
        BagRecorder(tmp_path / "x", "rosbag1")
    with pytest.raises(BagError, match="split_bytes must be positive"):
        BagRecorder(tmp_path / "y", split_bytes=0)
    with BagRecorder(tmp_path / "z") as rec:
        with pytest.raises(BagError, match="unknown message type"):
            rec.write_raw("/s", "nope/msg/Nope", b"\0\1\0\0", 1)
    with pytest.raises(BagError, match="no metadata.yaml"):
        recover_bag(tmp_path / "exists")


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    from sam2auto_ros.io.recorder import BagRecorder
    from test.io.test_recorder import STRING, Clock, _raw
    clock = Clock()
    rec = BagRecorder(sys.argv[1], sys.argv[2], split_bytes=150_000, flush_seconds=1.0, clock=clock)
    for i in range(1000):
        rec.write_raw("/s", STRING, _raw(i), 1_000 + i)
        clock.now += 0.01  # 100 messages per second of clock
        if i == int(sys.argv[3]):
            print(rec.flush_count, len(rec.files), flush=True)
            os.kill(os.getpid(), 9)
    """
)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_kill_9_loses_at_most_the_flush_window(tmp_path, storage):
    bag = tmp_path / "killed"
    kill_at = 777
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(bag), storage, str(kill_at)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    flushes, finished = (int(v) for v in proc.stdout.split())
    assert finished >= 1
    # as left by the kill: opens, holds every finished split, in order
    before = [m.rawdata for m in read_messages(bag)]
    assert before == [_raw(i) for i in range(len(before))] and len(before) > 0
    # recovery adds the unfinished split up to the last flush: the loss is under 1 s of messages
    report = recover_bag(bag)
    assert report.complete, [g.describe() for s in report.splits for g in s.gaps]
    after = [m.rawdata for m in read_messages(bag)]
    assert len(after) == len(before) + report.recovered
    assert after == [_raw(i) for i in range(len(after))]
    assert kill_at + 1 - len(after) < 100
    assert not (bag / OPEN_DIR).exists()
    again = recover_bag(bag)  # a finished bag stays as it is
    assert again.complete and again.recovered == 0 and [m.rawdata for m in read_messages(bag)] == after
    if storage == "mcap":  # independently: every split file decodes with mcap's own ROS 2 decoder
        texts = []
        for path in sorted(bag.glob("*.mcap"), key=lambda p: int(p.stem.rsplit("_", 1)[1])):
            with path.open("rb") as handle:
                reader = make_reader(handle, decoder_factories=[DecoderFactory()])
                texts += [msg.data[:6] for _, _, _, msg in reader.iter_decoded_messages()]
        assert texts == [f"m{i:05d}" for i in range(len(after))]

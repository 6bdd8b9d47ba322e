"""Random truncation and byte flips of a killed recording (its open split or a finished one, MCAP and
sqlite3), then ``sam2auto dataset recover``: no message a plain reader could read before is lost, no
byte that could not be read is deleted, and the answer is success or one line with exit code 2."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

from sam2auto_ros.cli import main
from sam2auto_ros.io.bags import DAMAGED_BAG_ERRORS, BagError, read_messages
from sam2auto_ros.io.recorder import OPEN_DIR
from sam2auto_ros.io.recovery import UNRECOVERED_DIR
from test.faults.conftest import checksums, error_lines, leftovers
from test.io.test_recorder import _raw
from test.io.test_recovery import killed_recording

SENT = {_raw(i) for i in range(1000)}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recordings")
    return {storage: killed_recording(root / storage / "rec", storage) for storage in ("mcap", "sqlite3")}


def _split_files(bag: Path) -> list[Path]:
    finished = sorted(p for p in bag.iterdir() if p.suffix in (".mcap", ".db3"))
    return finished + sorted(p for p in (bag / OPEN_DIR).glob("*/*") if p.suffix in (".mcap", ".db3"))


def plain_read(path: Path, scratch: Path) -> list[bytes]:
    """What a plain reader gets out of one split file before its first error (the old recovery's reach)."""
    got: list[bytes] = []
    if path.suffix == ".mcap":
        schemas, channels = set(), set()
        try:
            for record in StreamReader(str(path), skip_magic=False).records:
                if isinstance(record, Schema):
                    schemas.add(record.id)
                elif isinstance(record, Channel):
                    channels.add(record.id)
                elif isinstance(record, Message) and record.channel_id in channels:
                    got.append(bytes(record.data))
        except Exception:  # any error ends a plain read
            pass
        return got
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / path.name
    for suffix in ("", "-journal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
    conn = sqlite3.connect(copy)
    try:
        for (data,) in conn.execute("SELECT data FROM messages ORDER BY id"):
            got.append(bytes(data))
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.close()
    return got


def _damage(path: Path, kind: str, where: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(path.read_bytes())
    if not data:
        return
    if kind == "truncate":
        del data[int(where * len(data)):]
    else:
        for position, xor in flips:
            data[min(int(position * len(data)), len(data) - 1)] ^= xor
    path.write_bytes(bytes(data))


@given(storage=st.sampled_from(["mcap", "sqlite3"]), target=st.integers(0, 5), kind=st.sampled_from(["truncate", "flip"]),
       where=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=6))
def test_recover_loses_no_readable_message_and_deletes_no_unread_byte(recordings, tmp_path_factory, capsys, storage,
                                                                       target, kind, where, flips):
    work = tmp_path_factory.mktemp("case")
    bag = work / "rec"
    shutil.copytree(recordings[storage], bag)
    files = _split_files(bag)
    victim = files[-1 - target % len(files)]  # 0: the open split, 1..: finished ones
    _damage(victim, kind, where, flips)
    readable = Counter(p for f in files for p in plain_read(f, work / "plain" / f.parent.name))
    damaged = checksums(bag)
    victim_sum = damaged[str(victim.relative_to(bag))]

    code = main(["dataset", "recover", str(bag)])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert len(error_lines(err)) == 1 and err.startswith("sam2auto dataset recover: error: "), err
    assert leftovers(work, "rec") == []
    assert not [p for p in bag.rglob("*") if ".partial-" in p.name or p.name.endswith(".recovered")]
    try:
        after = Counter(m.rawdata for m in read_messages(bag))
    except (BagError, *DAMAGED_BAG_ERRORS):
        assert code == 2 and checksums(bag) == damaged  # refused: nothing touched
        return
    assert not readable - after, f"{sum((readable - after).values())} readable messages lost"
    if kind == "truncate":  # a cut fabricates nothing (flips inside payloads cannot be told from data)
        assert set(after) <= SENT
    kept = {p.name: p for p in (bag / UNRECOVERED_DIR).glob("*")} if (bag / UNRECOVERED_DIR).is_dir() else {}
    if code == 0:
        assert not (bag / OPEN_DIR).exists()
    if victim.name in kept:  # bytes it could not read are still there, byte for byte
        assert checksums(kept[victim.name].parent)[victim.name] == victim_sum
    elif code == 2:
        assert kept, "exit 2 without keeping the unread bytes"

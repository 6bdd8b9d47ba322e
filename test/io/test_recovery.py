"""``dataset recover``: a killed recording finished, damaged splits repaired, no unread byte ever deleted."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcap.stream_reader import StreamReader

from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.io.bags import read_messages
from sam2auto_ros.io.outputs import OutputError, RunLock
from sam2auto_ros.io.recorder import OPEN_DIR
from sam2auto_ros.io.recovery import UNRECOVERED_DIR, RecoveryError, recover_bag
from test.io.test_recorder import KILLED_WRITER, ROOT, _raw

KILL_AT = 850  # split 5 open, flushed at message 800


def killed_recording(path: Path, storage: str) -> Path:
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path), storage, str(KILL_AT)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return path


@pytest.fixture(scope="module", params=["mcap", "sqlite3"])
def killed(request, tmp_path_factory) -> Path:
    return killed_recording(tmp_path_factory.mktemp("killed") / "rec", request.param)


def _copy(bag: Path, tmp_path: Path) -> Path:
    out = tmp_path / bag.name
    shutil.copytree(bag, out)
    return out


def _open_split(bag: Path) -> Path:
    (split,) = [p for p in (bag / OPEN_DIR).glob("*/*") if p.suffix in (".mcap", ".db3")]
    return split


def _payloads(bag: Path) -> list[bytes]:
    return [m.rawdata for m in read_messages(bag)]


def _in_order(payloads: list[bytes]) -> list[int]:
    """The message numbers of the payloads (each was written as ``_raw(i)``)."""
    sent = {_raw(i): i for i in range(1000)}
    return [sent[p] for p in payloads]


def test_zeroed_magic_of_the_open_split_loses_no_message_and_keeps_the_bytes(tmp_path, capsys):
    """The issue's case: kill -9, zero the open split's first 8 bytes, recover. It used to report
    "0 messages recovered ... the bag is complete", exit 0 and delete the split."""
    bag = killed_recording(tmp_path / "rec", "mcap")
    finished = _payloads(bag)
    split = _open_split(bag)
    data = bytearray(split.read_bytes())
    data[:8] = bytes(8)
    split.write_bytes(bytes(data))
    assert cli_main(["dataset", "recover", str(bag)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "could not be read" in err and "complete" not in err, err
    assert "bytes 0-8 (8 B): not the MCAP magic" in out
    kept = bag / UNRECOVERED_DIR / split.name
    assert kept.read_bytes() == bytes(data)  # every byte still there
    after = _payloads(bag)
    assert after[: len(finished)] == finished
    numbers = _in_order(after)
    assert numbers == list(range(len(after))) and len(after) >= 800  # the open split's messages, past the bad magic
    assert not (bag / OPEN_DIR).exists()


def test_a_truncated_finished_split_is_repaired_not_called_complete(tmp_path, capsys):
    bag = killed_recording(tmp_path / "rec", "mcap")
    assert cli_main(["dataset", "recover", str(bag)]) == 0
    capsys.readouterr()
    whole = _payloads(bag)
    victim = bag / "rec_2.mcap"
    original = victim.read_bytes()
    victim.write_bytes(original[: len(original) * 2 // 3])
    with pytest.raises(Exception):  # noqa: B017 (the library's own error: the bag does not open)
        _payloads(bag)
    assert cli_main(["dataset", "recover", str(bag)]) == 2
    out, err = capsys.readouterr()
    assert "rec_2.mcap: repaired" in out and "a record cut short by the end of the file" in out
    assert "complete" not in err
    assert (bag / UNRECOVERED_DIR / "rec_2.mcap").read_bytes() == original[: len(original) * 2 // 3]
    after = _payloads(bag)  # opens again, every other split intact, split 2 up to the cut
    numbers = _in_order(after)
    assert numbers == sorted(numbers) and set(numbers) < set(_in_order(whole))
    lost = set(_in_order(whole)) - set(numbers)
    assert lost and min(lost) >= 2 * 146  # only split 2's tail (146 messages per split)
    report = recover_bag(bag)  # again: nothing new, the kept original is still reported
    assert report.recovered == 0 and _payloads(bag) == after


def test_open_split_cut_short_keeps_every_whole_message(killed, tmp_path):
    bag = _copy(killed, tmp_path)
    finished = _payloads(bag)
    split = _open_split(bag)
    raw = split.read_bytes()
    split.write_bytes(raw[: len(raw) * 2 // 3])
    report = recover_bag(bag)
    after = _payloads(bag)
    assert after[: len(finished)] == finished
    numbers = _in_order(after)  # every payload exactly as written (rows reaching past the cut are refused)
    assert numbers == sorted(set(numbers)) and len(after) > len(finished)
    assert not report.complete
    kept = report.unrecovered[0].kept
    assert kept is not None and kept.read_bytes() == raw[: len(raw) * 2 // 3]


def test_a_recording_bag_is_refused_while_its_recorder_lives(killed, tmp_path):
    bag = _copy(killed, tmp_path)
    before = sorted(p.name for p in bag.rglob("*"))
    with RunLock(bag), pytest.raises(OutputError, match="being written by another run"):
        recover_bag(bag)
    assert sorted(p.name for p in bag.rglob("*")) == before


def test_scratch_of_a_killed_recovery_is_removed_and_the_result_is_the_same(killed, tmp_path):
    reference = recover_bag(_copy(killed, tmp_path / "a")).bag
    bag = _copy(killed, tmp_path / "b")
    dead = bag / OPEN_DIR / ".recover.partial-99999"
    (dead / "rec_5").mkdir(parents=True)
    (dead / "rec_5" / "half").write_bytes(b"x" * 100)
    report = recover_bag(bag)
    assert dead in report.removed_scratch and not dead.exists()
    assert _payloads(bag) == _payloads(reference)
    assert report.complete


def test_not_a_bag_and_damaged_metadata_change_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecoveryError, match=r"no metadata\.yaml"):
        recover_bag(tmp_path / "empty")
    bag = killed_recording(tmp_path / "rec", "mcap")
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, mapping")
    before = {p: p.read_bytes() for p in bag.rglob("*") if p.is_file()}
    with pytest.raises(RecoveryError, match=r"metadata\.yaml is damaged"):
        recover_bag(bag)
    assert {p: p.read_bytes() for p in bag.rglob("*") if p.is_file()} == before


def test_a_chunk_cut_by_the_end_of_the_file_gives_up_only_its_torn_message(tmp_path):
    """Messages whole inside a torn (uncompressed) chunk are kept; a plain reader stops before the chunk."""
    bag = killed_recording(tmp_path / "rec", "mcap")
    split = _open_split(bag)
    raw = split.read_bytes()
    cut = len(raw) - 1500  # inside the last chunk, past at least one whole message
    split.write_bytes(raw[:cut])
    plain = 0
    try:
        for record in StreamReader(str(split), skip_magic=False).records:
            plain += type(record).__name__ == "Message"
    except Exception:  # the plain reader stops at the cut
        pass
    report = recover_bag(bag)
    (split_report,) = [s for s in report.splits if s.state != "sound"]
    assert split_report.messages > plain
    assert split_report.gaps and split_report.gaps[-1].end == cut

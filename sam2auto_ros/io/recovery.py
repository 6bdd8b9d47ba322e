"""``sam2auto dataset recover BAG``: finish a recording whose recorder was killed, and repair damaged splits,
without ever deleting a byte that could not be read.

Every split of the bag is read record by record (MCAP) or row by row (sqlite3):

* the split a killed recorder left open (``BAG/.open/<split>/``) is rewritten as a finished split
  holding every message that reached the disk intact;
* a finished split that no longer reads to its end (truncated, damaged) is rewritten from what can
  still be read;
* when every byte of the original was read, the rewritten file replaces it. When some could not be
  read (a record cut short, damaged bytes, a message whose channel definition was lost), the original
  file is kept, byte for byte, in ``BAG/unrecovered/`` and the report names the byte ranges and why;
* ``metadata.yaml`` is rebuilt from what was read, and the bag must then open, or recovery says so.

MCAP is read with the ``mcap`` package's record parsers over a hand-written record walk: after a
damaged record the walk looks for the next chunk that parses completely, so damage in one chunk
costs that chunk, not the rest of the file; a chunk cut off by the end of the file gives up the
messages that are whole in it. sqlite3 is read on a copy (opening a file with a hot journal rolls it
back, which would change the original); rows that cannot be read are counted.

A second run over a bag already recovered reads it again and changes nothing. A run that is killed
leaves the bag as it was (its scratch, named ``.<split>.partial-<pid>``, is removed by the next run).
"""

from __future__ import annotations

import mmap
import os
import shutil
import sqlite3
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml
from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import (
    Attachment,
    AttachmentIndex,
    Channel,
    Chunk,
    ChunkIndex,
    DataEnd,
    Footer,
    Header,
    Message,
    MessageIndex,
    Metadata,
    MetadataIndex,
    Schema,
    Statistics,
    SummaryOffset,
)
from mcap.stream_reader import get_chunk_data_stream

from sam2auto_ros.io.bags import DAMAGED_BAG_ERRORS, BagError, BagWriter, open_reader
from sam2auto_ros.io.outputs import PARTIAL_MARK, RunLock, output_error, scratch_owner
from sam2auto_ros.io.recorder import EXTENSIONS, OPEN_DIR, BagMetadata, SplitInfo, fsync_path

UNRECOVERED_DIR = "unrecovered"
MCAP_MAGIC = b"\x89MCAP0\r\n"
Sink = Callable[[str, str, int, bytes], None]
_ABSENT_RUN = 10_000
_SQLITE_SIDECARS = ("-journal", "-wal")


class RecoveryError(BagError):
    """A bag that cannot be recovered at all (no metadata, a recorder still writing it, a bag that will not open)."""


@dataclass(frozen=True)
class Gap:
    """Bytes ``start``..``end`` of a split file that could not be read (sqlite3: rows, no byte range)."""

    start: int | None
    end: int | None
    reason: str

    def describe(self) -> str:
        if self.start is None or self.end is None:
            return self.reason
        return f"bytes {self.start}-{self.end} ({self.end - self.start} B): {self.reason}"


@dataclass
class SplitScan:
    """What reading one split file found."""

    file: str
    size: int = 0
    messages: int = 0
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    start_ns: int | None = None
    end_ns: int | None = None
    gaps: list[Gap] = field(default_factory=list)
    finished: bool = False  # an MCAP file that reads through its footer; a sqlite3 file that passes integrity_check

    def add(self, topic: str, msgtype: str, timestamp: int) -> None:
        self.messages += 1
        self.counts[(topic, msgtype)] = self.counts.get((topic, msgtype), 0) + 1
        self.start_ns = timestamp if self.start_ns is None else min(self.start_ns, timestamp)
        self.end_ns = timestamp if self.end_ns is None else max(self.end_ns, timestamp)

    @property
    def whole(self) -> bool:
        """Every byte was read: nothing would be lost by replacing the file with a rewrite."""
        return not self.gaps


@dataclass
class SplitReport:
    file: str
    state: str  # "sound" | "finished from the open split" | "repaired"
    messages: int
    gaps: list[Gap]
    kept: Path | None = None  # the original, where bytes could not be read


@dataclass
class RecoveryReport:
    bag: Path
    splits: list[SplitReport]
    messages: int  # in the bag after recovery
    removed_scratch: list[Path] = field(default_factory=list)

    @property
    def recovered(self) -> int:
        """Messages taken out of open or damaged splits."""
        return sum(s.messages for s in self.splits if s.state != "sound")

    @property
    def unrecovered(self) -> list[SplitReport]:
        return [s for s in self.splits if s.gaps]

    @property
    def complete(self) -> bool:
        return not self.unrecovered


# -- MCAP ---------------------------------------------------------------------------------------------
class _Damage(Exception):
    def __init__(self, offset: int, reason: str, torn: bool = False) -> None:
        super().__init__(reason)
        self.offset, self.reason, self.torn = offset, reason, torn


_READERS: dict[int, Any] = {Opcode.HEADER: Header, Opcode.FOOTER: Footer, Opcode.SCHEMA: Schema, Opcode.CHANNEL: Channel,
            Opcode.CHUNK: Chunk, Opcode.MESSAGE_INDEX: MessageIndex, Opcode.CHUNK_INDEX: ChunkIndex,
            Opcode.ATTACHMENT: Attachment, Opcode.ATTACHMENT_INDEX: AttachmentIndex, Opcode.STATISTICS: Statistics,
            Opcode.METADATA: Metadata, Opcode.METADATA_INDEX: MetadataIndex, Opcode.SUMMARY_OFFSET: SummaryOffset,
            Opcode.DATA_END: DataEnd}
_TOP_LEVEL: set[int] = set(_READERS)  # a top-level Message does not occur in rosbag2 files (messages live in chunks)
_IN_CHUNK: set[int] = {Opcode.SCHEMA, Opcode.CHANNEL, Opcode.MESSAGE}


def _parse(opcode: int, body: bytes) -> Any:
    """One record's body through mcap's own parsers; raises unless it is consumed exactly."""
    stream = ReadDataStream(BytesIO(body))
    record = Message.read(stream, len(body)) if opcode == Opcode.MESSAGE else _READERS[opcode].read(stream)
    if stream.count != len(body):
        raise ValueError(f"record body is {len(body)} bytes, its fields {stream.count}")
    if opcode == Opcode.CHUNK and len(record.data) != record.uncompressed_size and not record.compression:
        raise ValueError("chunk data shorter than its declared size")
    return record


class _McapWalk:
    """Walks one MCAP file's records; messages go to ``sink``, what cannot be read to ``scan.gaps``."""

    def __init__(self, buf: bytes | mmap.mmap, scan: SplitScan, sink: Sink | None) -> None:
        self.buf, self.scan, self.sink = buf, scan, sink
        self.size = len(buf)
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[str, int]] = {}

    def frame(self, pos: int, end: int, allowed: set[int]) -> tuple[int, int, int]:
        """(opcode, body start, record end) of the record at ``pos``; _Damage when it does not fit."""
        if end - pos < 9:
            raise _Damage(pos, "a record cut short by the end of the file", torn=True)
        opcode = self.buf[pos]
        (length,) = struct.unpack_from("<Q", self.buf, pos + 1)
        if opcode not in allowed:
            raise _Damage(pos, f"damaged record (opcode 0x{opcode:02x} does not belong here)")
        if pos + 9 + length > end:
            raise _Damage(pos, "a record cut short by the end of the file", torn=True)
        return opcode, pos + 9, pos + 9 + length

    def chunk_records(self, data: bytes, base: int) -> Iterator[tuple[int, int, object]]:
        """(file offset, opcode, record) inside a chunk's (uncompressed) data; _Damage at the first that
        does not parse."""
        pos = 0
        while pos < len(data):
            if len(data) - pos < 9:
                raise _Damage(base + pos, "a record cut short inside its chunk")
            opcode = data[pos]
            (length,) = struct.unpack_from("<Q", data, pos + 1)
            if opcode not in _IN_CHUNK or pos + 9 + length > len(data):
                raise _Damage(base + pos, f"damaged record inside a chunk (opcode 0x{opcode:02x}, length {length})")
            try:
                record = _parse(opcode, bytes(data[pos + 9 : pos + 9 + length]))
            except Exception as exc:  # mcap's parsers raise several types on garbage
                raise _Damage(base + pos, f"damaged record inside a chunk ({type(exc).__name__})") from None
            yield base + pos, opcode, record
            pos += 9 + length

    def take(self, opcode: int, record: Any) -> bool:
        """Register a schema or channel, hand a message to the sink; False: a message whose channel is unknown."""
        if opcode == Opcode.SCHEMA:
            self.schemas[record.id] = record.name
        elif opcode == Opcode.CHANNEL:
            self.channels[record.id] = (record.topic, record.schema_id)
        elif opcode == Opcode.MESSAGE:
            channel = self.channels.get(record.channel_id)
            if channel is None or channel[1] not in self.schemas:
                return False
            topic, msgtype = channel[0], self.schemas[channel[1]]
            self.scan.add(topic, msgtype, record.log_time)
            if self.sink is not None:
                self.sink(topic, msgtype, record.log_time, bytes(record.data))
        return True

    def take_all(self, records: list[tuple[int, int, object]], start: int, end: int) -> None:
        lost = sum(not self.take(opcode, record) for _, opcode, record in records)
        if lost:
            self.scan.gaps.append(Gap(start, end, f"{lost} message(s) on channels whose definition was lost"))

    def chunk(self, record: Any, pos: int, end: int) -> None:
        """A whole chunk record: its records up to the first damaged one (the rest of the chunk is a gap)."""
        try:
            stream, length = get_chunk_data_stream(record)
            data = stream.read(length) if length else b""
        except Exception as exc:
            self.scan.gaps.append(Gap(pos, end, f"damaged chunk ({type(exc).__name__})"))
            return
        base = end - len(record.data) if not record.compression else pos  # file offsets only where uncompressed
        records: list[tuple[int, int, object]] = []
        try:
            records.extend(self.chunk_records(data, base))
        except _Damage as exc:
            self.take_all(records, pos, end)
            self.scan.gaps.append(Gap(exc.offset if not record.compression else pos, end, exc.reason))
            return
        self.take_all(records, pos, end)

    def torn_chunk(self, pos: int) -> None:
        """A chunk cut off by the end of the file: its whole messages are kept when it is uncompressed.

        Chunk body: start, end, uncompressed size (8 bytes each), crc (4), compression (4 + n), data length (8), data."""
        reason = "a record cut short by the end of the file (a write the kill interrupted)"
        if self.size - pos >= 9 + 32:
            (compression_length,) = struct.unpack_from("<I", self.buf, pos + 9 + 28)
            data_start = pos + 9 + 32 + compression_length + 8
            if compression_length == 0 and data_start <= self.size:
                records: list[tuple[int, int, object]] = []
                good = self.size
                try:
                    records.extend(self.chunk_records(bytes(self.buf[data_start : self.size]), data_start))
                except _Damage as exc:
                    good = exc.offset
                self.take_all(records, pos, self.size)
                if good < self.size:
                    self.scan.gaps.append(Gap(good, self.size, reason))
                return
        self.scan.gaps.append(Gap(pos, self.size, reason))

    def resync(self, start: int) -> int | None:
        """The next offset after damage where a chunk record parses completely, or None."""
        pos = start
        while True:
            pos = self.buf.find(b"\x06", pos)
            if pos < 0 or self.size - pos < 9:
                return None
            (length,) = struct.unpack_from("<Q", self.buf, pos + 1)
            if 40 <= length <= self.size - pos - 9:
                try:
                    record = _parse(Opcode.CHUNK, bytes(self.buf[pos + 9 : pos + 9 + length]))
                    stream, size = get_chunk_data_stream(record)
                    data = stream.read(size) if size else b""
                    for _ in self.chunk_records(data, 0):
                        pass
                    return pos
                except Exception:
                    pass
            pos += 1

    def walk(self) -> None:
        pos = 0
        if bytes(self.buf[:8]) == MCAP_MAGIC:
            pos = 8
        else:
            self.scan.gaps.append(Gap(0, min(8, self.size), "not the MCAP magic"))
            pos = min(8, self.size)
        while pos < self.size:
            try:
                opcode, body, end = self.frame(pos, self.size, _TOP_LEVEL)
                try:
                    record = _parse(opcode, bytes(self.buf[body:end]))
                except Exception as exc:
                    raise _Damage(pos, f"damaged record ({type(exc).__name__}: {exc})") from None
            except _Damage as exc:
                nxt = self.resync(pos + 1)
                if nxt is None and exc.torn:  # nothing readable follows: the end of the file cut this record
                    if self.buf[pos] == Opcode.CHUNK:
                        self.torn_chunk(pos)
                    else:
                        self.scan.gaps.append(Gap(pos, self.size, exc.reason + " (a write the kill interrupted)"))
                    return
                self.scan.gaps.append(Gap(pos, self.size if nxt is None else nxt, exc.reason))
                if nxt is None:
                    return
                pos = nxt
                continue
            if opcode == Opcode.CHUNK:
                self.chunk(record, pos, end)
            else:
                self.take_all([(pos, opcode, record)], pos, end)
            pos = end
            if opcode == Opcode.FOOTER:  # the closing magic follows
                if bytes(self.buf[pos:]) == MCAP_MAGIC:
                    self.scan.finished = True
                else:
                    self.scan.gaps.append(Gap(pos, self.size, "bytes after the footer are not the closing MCAP magic"))
                return


def scan_mcap(path: Path, sink: Sink | None = None) -> SplitScan:
    scan = SplitScan(path.name, size=path.stat().st_size)
    if scan.size == 0:
        scan.gaps.append(Gap(None, None, "the file is empty"))
        return scan
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        _McapWalk(buf, scan, sink).walk()
    return scan


# -- sqlite3 ------------------------------------------------------------------------------------------
def scan_sqlite(path: Path, scratch: Path, sink: Sink | None = None) -> SplitScan:
    """Rows of a sqlite3 split, read from copies in ``scratch`` (its journal rolled back there).

    A sound file (it passes ``quick_check`` and is as long as its header says) is read in one query.
    A damaged or truncated one is read row by row from two copies whose missing pages are filled
    with 0x00 and 0xFF: sqlite reads a page past the end of a file as zeros, so only a row that reads
    the same from both lies wholly in bytes that were really there."""
    scan = SplitScan(path.name, size=path.stat().st_size)
    if scan.size == 0:
        scan.gaps.append(Gap(None, None, "the file is empty"))
        return scan
    plain = _sqlite_copy(path, scratch / "plain")
    try:
        healthy = not _sqlite_truncated(path) and _quick_check(plain)
        if healthy:
            conn = sqlite3.connect(f"file:{plain}", uri=True)
            try:
                topics = _sqlite_topics(conn)
                for row in conn.execute("SELECT id, topic_id, timestamp, data FROM messages ORDER BY id"):
                    _sqlite_row(scan, sink, topics, *row)
            finally:
                conn.close()
            scan.finished = not scan.gaps
            return scan
    except sqlite3.DatabaseError:
        pass  # damaged after all: read it the careful way
    if scan.messages:
        raise RecoveryError(f"{path} changed while it was read")  # the query above failed midway: cannot happen after quick_check
    _scan_damaged_sqlite(path, scratch, scan, sink)
    return scan


def _sqlite_copy(path: Path, folder: Path, fill: bytes | None = None) -> Path:
    """A copy of the database and its journal in ``folder``; ``fill``: the file padded to its header's length with it."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / path.name
    for suffix in ("", *_SQLITE_SIDECARS):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
    if fill is not None:
        page_size, pages = _sqlite_header(path)
        missing = max(pages * page_size, -(-copy.stat().st_size // page_size) * page_size) - copy.stat().st_size
        with copy.open("ab") as handle:
            handle.write(fill * missing)
    return copy


def _sqlite_header(path: Path) -> tuple[int, int]:
    """(page size, pages) from a database header (defaults when the header is unreadable)."""
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100:
        return 4096, 0
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size if page_size >= 512 else 4096
    return page_size, int.from_bytes(header[28:32], "big")


def _sqlite_truncated(path: Path) -> bool:
    page_size, pages = _sqlite_header(path)
    return path.stat().st_size < page_size * pages or path.stat().st_size % page_size != 0


def _quick_check(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}", uri=True)
    try:
        return [r[0] for r in conn.execute("PRAGMA quick_check")] == ["ok"]
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _sqlite_topics(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    return {int(i): (str(n), str(t)) for i, n, t in conn.execute("SELECT id, name, type FROM topics")}


def _scan_damaged_sqlite(path: Path, scratch: Path, scan: SplitScan, sink: Sink | None) -> None:
    conns = []
    for name, fill in (("zeros", b"\x00"), ("ones", b"\xff")):
        conn = sqlite3.connect(f"file:{_sqlite_copy(path, scratch / name, fill)}", uri=True)
        conn.execute("PRAGMA writable_schema=ON")  # trust the file over a damaged header; only the copy is open
        conns.append(conn)
    try:
        try:
            topics = _sqlite_topics(conns[0])
            if topics != _sqlite_topics(conns[1]):
                raise sqlite3.DatabaseError("the topics table lies partly in missing pages")
        except sqlite3.DatabaseError as exc:
            scan.gaps.append(Gap(None, None, f"the topics table cannot be read ({exc}); no message can be attributed"))
            return
        try:
            (highest,) = conns[0].execute("SELECT max(id) FROM messages").fetchone()
        except sqlite3.DatabaseError:
            highest = None
        query = "SELECT id, topic_id, timestamp, data FROM messages WHERE id = ?"
        bad = 0
        row_id, misses, failed = 0, 0, 0  # failed: unreadable ids since the last row read
        while (row_id < highest) if isinstance(highest, int) else (misses < _ABSENT_RUN):
            row_id += 1
            try:
                row, twin = (conn.execute(query, (row_id,)).fetchone() for conn in conns)
                if row != twin:
                    raise sqlite3.DatabaseError("the row lies partly in missing pages")
            except sqlite3.DatabaseError:
                row = None
                failed += 1
            if row is None:
                misses += 1
                continue
            bad, misses, failed = bad + failed, 0, 0
            _sqlite_row(scan, sink, topics, *row)
        if isinstance(highest, int):
            bad += failed
        scan.gaps.append(Gap(None, None, "the database is damaged or cut short"
                             + (f"; {bad} row id(s) could not be read" if bad else "")))
    finally:
        for conn in conns:
            conn.close()


def _sqlite_row(scan: SplitScan, sink: Sink | None, topics: dict[int, tuple[str, str]], row_id: object, topic_id: object,
                timestamp: object, data: object) -> None:
    topic = topics.get(topic_id) if isinstance(topic_id, int) else None
    if topic is None or not isinstance(timestamp, int) or not isinstance(data, bytes):
        scan.gaps.append(Gap(None, None, f"row {row_id} is damaged (topic {topic_id!r}, stamp {timestamp!r})"))
        return
    scan.add(topic[0], topic[1], timestamp)
    if sink is not None:
        sink(topic[0], topic[1], timestamp, data)


# -- the bag ------------------------------------------------------------------------------------------
def scan_split(path: Path, storage: str, scratch: Path, sink: Sink | None = None) -> SplitScan:
    return scan_mcap(path, sink) if storage == "mcap" else scan_sqlite(path, scratch / "read", sink)


def _rewrite(source: Path, storage: str, scratch: Path, name: str, metadata: BagMetadata) -> tuple[SplitScan, Path, dict]:
    """Read ``source`` and write what it holds as the finished split ``name`` in ``scratch``;
    (scan, written file, its own rosbag2 metadata)."""
    out_dir = scratch / name
    writer = BagWriter(out_dir, storage=storage, version=metadata.version)
    try:
        for key, value in metadata.custom_data.items():
            writer.set_custom_data(key, value)
        scan = scan_split(source, storage, scratch, lambda t, ty, ts, data: writer.write_raw(t, ty, data, ts))
    finally:
        writer.close()
    split_meta = yaml.safe_load((out_dir / "metadata.yaml").read_text())
    file_name = split_meta["rosbag2_bagfile_information"]["relative_file_paths"][0]
    return scan, out_dir / file_name, split_meta


def _keep(original: Path, bag: Path, link: bool) -> Path:
    """The original file, unchanged, in ``BAG/unrecovered/`` (a hard link when it stays in use), with
    its sqlite3 journal if it has one."""
    keep_dir = bag / UNRECOVERED_DIR
    keep_dir.mkdir(exist_ok=True)
    kept = keep_dir / original.name
    n = 1
    while kept.exists():
        if kept.stat().st_ino == original.stat().st_ino or _same_bytes(kept, original):
            return kept
        kept = keep_dir / f"{original.stem}.{n}{original.suffix}"
        n += 1
    for suffix in ("", *_SQLITE_SIDECARS):
        source = Path(f"{original}{suffix}")
        if source.exists():
            (os.link if link else os.replace)(source, f"{kept}{suffix}")
    return kept


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _split_index(name: str) -> int:
    try:
        return int(name.rsplit("_", 1)[-1])
    except ValueError:
        return 1 << 30


def recover_bag(path: str | Path) -> RecoveryReport:
    """Recover ``path`` in place (see the module docstring); RecoveryError when it cannot be done at all.

    Nothing is deleted that was not read: a split is replaced only by a rewrite of every byte of it,
    anything else is kept in ``BAG/unrecovered/``. ``report.complete`` is False when bytes could not
    be read; the bag then still opens, with every message that could be read.
    """
    bag = Path(path)
    if not (bag / "metadata.yaml").is_file():
        raise RecoveryError(f"{bag} has no metadata.yaml: not a rosbag2 directory")
    try:
        with RunLock(bag, f"bag {bag}"):
            return _recover(bag)
    except (OSError, sqlite3.OperationalError) as exc:
        raise (output_error(exc, bag) or RecoveryError(f"cannot recover {bag}: {exc}")) from exc


class _Listing:
    """The bag's ``metadata.yaml`` as recovery rebuilds it: written after every split it changes,
    before the original that split came from is touched, so a run killed at any point leaves every
    message either listed or still in its original file."""

    def __init__(self, bag: Path, old: BagMetadata) -> None:
        self.bag, self.old = bag, old
        self.splits: list[tuple[SplitInfo, dict[tuple[str, str], int]]] = []
        self.topic_meta = {key: dict(entry["topic_metadata"]) for key, entry in old.topics.items()}

    def add(self, file: str, scan: SplitScan, split_meta: dict | None = None) -> None:
        if split_meta is not None:
            for entry in split_meta["rosbag2_bagfile_information"]["topics_with_message_count"]:
                topic = entry["topic_metadata"]
                self.topic_meta.setdefault((topic["name"], topic["type"]), dict(topic))
        start = scan.start_ns or 0
        self.splits.append((SplitInfo(file, start, (scan.end_ns or start) - start, scan.messages), scan.counts))

    def write(self, pending: list[SplitInfo] | None = None) -> BagMetadata:
        """Write the listing: the splits handled so far, then ``pending`` (splits not read yet, as they were listed)."""
        metadata = BagMetadata(self.bag, self.old.storage, self.old.custom_data, self.old.version)
        for info, counts in self.splits:
            metadata.splits.append(info)
            for key, count in counts.items():
                entry = metadata.topics.setdefault(key, {"topic_metadata": self.topic_meta.get(key) or _plain_topic(*key),
                                                         "message_count": 0})
                entry["message_count"] += count
        for key in self.topic_meta.keys() - metadata.topics.keys():  # topics with no message left keep their entry
            metadata.topics[key] = {"topic_metadata": self.topic_meta[key], "message_count": 0}
        metadata.splits.extend(pending or [])
        metadata.write()
        return metadata


def _recover(bag: Path) -> RecoveryReport:
    try:
        old = BagMetadata.load(bag)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise RecoveryError(f"{bag}/metadata.yaml is damaged ({type(exc).__name__}: {exc}); nothing was changed") from exc
    open_dir = bag / OPEN_DIR
    removed = _remove_scratch(bag, open_dir)
    scratch = (open_dir if open_dir.is_dir() else bag) / f".recover{PARTIAL_MARK}{os.getpid()}"
    scratch.mkdir()
    reports: list[SplitReport] = []
    listing = _Listing(bag, old)
    try:
        for n, info in enumerate(old.splits):
            reports.append(_settle_finished(bag, info.file, old, scratch, listing, old.splits[n + 1 :]))
        if open_dir.is_dir():
            for staging in sorted((p for p in open_dir.iterdir() if p.is_dir() and scratch_owner(p) is None),
                                  key=lambda p: _split_index(p.name)):
                report = _finish_open(staging, bag, old, scratch, listing)
                if report is not None:
                    reports.append(report)
        metadata = listing.write()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if open_dir.is_dir() and not any(open_dir.iterdir()):
        shutil.rmtree(open_dir, ignore_errors=True)
    total = sum(s.message_count for s in metadata.splits)
    try:
        reader = open_reader(bag)
        opened = reader.message_count
        reader.close()
    except (BagError, *DAMAGED_BAG_ERRORS) as exc:
        raise RecoveryError(f"{bag} still cannot be opened after recovery: {exc}; its original files are in "
                            f"{bag / UNRECOVERED_DIR}") from exc
    if opened != total:
        raise RecoveryError(f"{bag} opens with {opened} messages where its splits hold {total}")
    return RecoveryReport(bag, reports, total, removed)


def _settle_finished(bag: Path, file: str, old: BagMetadata, scratch: Path, listing: _Listing,
                     pending: list[SplitInfo]) -> SplitReport:
    """A finished split in the bag: read; listed as it is when sound, else rewritten from what can be
    read (its original kept in ``unrecovered/``). ``pending``: the listed splits not read yet."""
    split = bag / file
    if not split.is_file():
        return SplitReport(file, "missing", 0, [Gap(None, None, "the file is missing")])
    scan = scan_split(split, old.storage, scratch)
    if scan.whole and scan.finished:
        listing.add(file, scan)
        return SplitReport(file, "sound", scan.messages, [])
    rewritten, written, split_meta = _rewrite(split, old.storage, scratch, f"repair_{_split_index(split.stem)}", old)
    kept = _keep(split, bag, link=True)  # the original's bytes stay reachable through the link
    os.replace(written, split)
    fsync_path(split)
    listing.add(file, rewritten, split_meta)
    listing.write(pending)
    return SplitReport(file, "repaired", rewritten.messages, rewritten.gaps, kept)


def _finish_open(staging: Path, bag: Path, metadata: BagMetadata, scratch: Path, listing: _Listing) -> SplitReport | None:
    """One split a killed recorder left open: rewritten into the bag and listed, then its original removed
    (or kept, when not all of it was read)."""
    name = f"{staging.name}{EXTENSIONS[metadata.storage]}"
    original, in_bag = staging / name, bag / name
    listed = any(s.file == name for s in metadata.splits)
    if in_bag.exists() and listed:
        # an earlier recovery was killed after listing this split: only its original is left to settle
        if original.is_file() and not scan_split(original, metadata.storage, scratch).whole:
            _keep(original, bag, link=False)
        shutil.rmtree(staging)
        return None
    if in_bag.exists() and not original.is_file():
        # a recorder killed between moving its closed split into the bag and listing it: that file is whole
        report = _settle_finished(bag, name, metadata, scratch, listing, [])
        listing.write()
        shutil.rmtree(staging)
        return report
    if in_bag.exists():
        in_bag.unlink()  # a recovery's rewrite, killed before it listed it; the original is still here
    if not original.is_file() or original.stat().st_size == 0:
        shutil.rmtree(staging)
        return SplitReport(name, "finished from the open split", 0, [])
    scan, written, split_meta = _rewrite(original, metadata.storage, scratch, staging.name, metadata)
    if scan.messages:
        os.replace(written, in_bag)
        fsync_path(in_bag)
        listing.add(name, scan, split_meta)
        listing.write()  # listed before its original goes
    kept = None if scan.whole else _keep(original, bag, link=False)
    shutil.rmtree(staging)
    return SplitReport(name, "finished from the open split", scan.messages, scan.gaps, kept)


def _remove_scratch(bag: Path, open_dir: Path) -> list[Path]:
    """Scratch of killed recovery runs (this run holds the bag's lock, so any there is dead)."""
    removed = []
    for folder in (bag, open_dir):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if scratch_owner(entry) is not None or entry.name.endswith(".recovered"):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _plain_topic(name: str, msgtype: str) -> dict:
    return {"name": name, "type": msgtype, "serialization_format": "cdr", "offered_qos_profiles": []}

"""A rosbag2 recorder that splits, flushes and survives ``kill -9`` (no rclpy here).

Layout of a recording ``BAG/`` (a normal rosbag2 directory with one file per split)::

    BAG/metadata.yaml          all finished splits; rewritten atomically after each split
    BAG/BAG_0.mcap, BAG_1.mcap finished splits (complete files with index and footer)
    BAG/.open/BAG_2/           the split being written (rosbags writes here until it closes)

Crash window (what a killed recorder loses), measured by test/io/test_recorder.py:

* The bag directory opens at any moment (``metadata.yaml`` exists from the start and only ever
  names finished splits): after ``kill -9`` it holds every finished split.
* The open split is flushed every ``flush_seconds`` (default 1 s) and whenever a split closes:
  MCAP closes its pending chunk (chunk + message index records) and fsyncs; sqlite3 commits.
  ``recover_bag`` (:mod:`sam2auto_ros.io.recovery`, ``sam2auto dataset recover BAG``) turns the unfinished split into a finished
  one, so after recovery at most the messages of the last ``flush_seconds`` before the kill are
  lost (plus any message larger than the disk's write atomicity that was mid-write).

rosbags' writers finish a file only at close (MCAP footer and summary, sqlite3 commit,
``metadata.yaml``), which is why splits are staged and flushed here.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import DEFAULT_VERSION, STORAGES, BagError, BagVersion, BagWriter
from sam2auto_ros.io.outputs import OutputError, RunLock, output_error

OPEN_DIR = ".open"
EXTENSIONS = {"mcap": ".mcap", "sqlite3": ".db3"}


def _custom_strings(custom_data: Mapping[str, Any] | None) -> dict[str, str]:
    """Bag metadata wants strings: non-strings (parameters, label maps) go in as JSON."""
    return {str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in (custom_data or {}).items()}


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class SplitInfo:
    """What the bag-level metadata needs to know of one finished split."""

    file: str
    start_ns: int
    duration_ns: int
    message_count: int


class BagMetadata:
    """The bag-level ``metadata.yaml``, merged from the finished splits' own metadata."""

    def __init__(self, bag: Path, storage: str, custom_data: dict[str, str], version: int) -> None:
        self.bag, self.storage, self.custom_data, self.version = bag, storage, custom_data, version
        self.splits: list[SplitInfo] = []
        self.topics: dict[tuple[str, str], dict] = {}

    @classmethod
    def load(cls, bag: Path) -> BagMetadata:
        path = bag / "metadata.yaml"
        if not path.is_file():
            raise BagError(f"{bag} has no metadata.yaml: not a rosbag2 directory")
        info = yaml.safe_load(path.read_text())["rosbag2_bagfile_information"]
        meta = cls(bag, info["storage_identifier"], dict(info.get("custom_data") or {}), int(info["version"]))
        meta.splits = [
            SplitInfo(f["path"], int(f["starting_time"]["nanoseconds_since_epoch"]), int(f["duration"]["nanoseconds"]), int(f["message_count"]))
            for f in info.get("files") or []
        ]
        meta._merge_topics(info["topics_with_message_count"])
        return meta

    def _merge_topics(self, entries: list[dict]) -> None:
        for entry in entries:
            topic = entry["topic_metadata"]
            key = (topic["name"], topic["type"])
            if key in self.topics:
                self.topics[key]["message_count"] += int(entry["message_count"])
            else:
                self.topics[key] = {"topic_metadata": dict(topic), "message_count": int(entry["message_count"])}

    def add_split(self, split_meta: dict, file_name: str) -> None:
        info = split_meta["rosbag2_bagfile_information"]
        start = int(info["starting_time"]["nanoseconds_since_epoch"])
        self.splits.append(SplitInfo(file_name, start, int(info["duration"]["nanoseconds"]), int(info["message_count"])))
        self._merge_topics(info["topics_with_message_count"])

    def to_dict(self) -> dict:
        counted = [s for s in self.splits if s.message_count]
        start = min((s.start_ns for s in counted), default=0)
        end = max((s.start_ns + s.duration_ns for s in counted), default=0)
        return {
            "rosbag2_bagfile_information": {
                "version": self.version,
                "storage_identifier": self.storage,
                "relative_file_paths": [s.file for s in self.splits],
                "duration": {"nanoseconds": end - start},
                "starting_time": {"nanoseconds_since_epoch": start},
                "message_count": sum(s.message_count for s in self.splits),
                "topics_with_message_count": list(self.topics.values()),
                "compression_format": "",
                "compression_mode": "",
                "files": [
                    {
                        "path": s.file,
                        "starting_time": {"nanoseconds_since_epoch": s.start_ns},
                        "duration": {"nanoseconds": s.duration_ns},
                        "message_count": s.message_count,
                    }
                    for s in self.splits
                ],
                "custom_data": self.custom_data or None,
                "ros_distro": "rosbags",
            }
        }

    def write(self) -> None:
        """Replace ``metadata.yaml`` atomically, so a reader never sees half of it."""
        tmp = self.bag / "metadata.yaml.tmp"
        tmp.write_text(yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=False), "utf8")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(self.bag / "metadata.yaml")


def _finish_split(staging: Path, bag: Path, metadata: BagMetadata) -> None:
    """Move a closed split's storage file into the bag and record it in the bag metadata; only then
    remove its staging folder (a kill in between leaves a whole split that recovery lists)."""
    split_meta = yaml.safe_load((staging / "metadata.yaml").read_text())
    file_name = split_meta["rosbag2_bagfile_information"]["relative_file_paths"][0]
    (staging / file_name).replace(bag / file_name)
    fsync_path(bag / file_name)
    metadata.add_split(split_meta, file_name)
    metadata.write()
    shutil.rmtree(staging)


class BagRecorder:
    """Writes serialized messages to a split, crash-tolerant rosbag2 (see the module docstring).

    ``split_bytes`` / ``split_seconds`` (message time) start a new file when reached;
    ``custom_data`` (label map, model, backend, parameters) goes into every split's metadata
    and the bag's. ``clock`` is injectable for tests of the flush schedule.
    """

    def __init__(
        self,
        path: str | Path,
        storage: str = "mcap",
        *,
        split_bytes: int | None = None,
        split_seconds: float | None = None,
        flush_seconds: float = 1.0,
        fsync: bool = True,
        custom_data: Mapping[str, Any] | None = None,
        version: BagVersion = DEFAULT_VERSION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}; choose one of {', '.join(STORAGES)}")
        for name, value in (("split_bytes", split_bytes), ("split_seconds", split_seconds)):
            if value is not None and value <= 0:
                raise BagError(f"{name} must be positive (or None for no splitting), got {value}")
        if flush_seconds <= 0:
            raise BagError(f"flush_seconds must be positive, got {flush_seconds}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {self.path} already exists; remove it or choose another path")
        self.storage = storage
        self.split_bytes = split_bytes
        self.split_ns = None if split_seconds is None else int(split_seconds * 1e9)
        self.flush_seconds = float(flush_seconds)
        self.fsync = fsync
        self.custom_data = _custom_strings(custom_data)
        self.version = version
        self._clock = clock
        # held while recording: `dataset recover` refuses a bag whose recorder is alive (the kernel
        # drops the lock when the recorder dies, kill -9 included)
        self._lock = RunLock(self.path, f"bag {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.__enter__()
            self.path.mkdir()
            (self.path / OPEN_DIR).mkdir()
            self.metadata = BagMetadata(self.path, storage, self.custom_data, version)
            self.metadata.write()
        except (OSError, OutputError) as exc:
            self._lock.__exit__()
            raise BagError(str(output_error(exc, self.path) or exc)) from exc
        self._writer: BagWriter | None = None
        self._split_index = 0
        self._split_bytes_written = 0
        self._split_start_ns: int | None = None
        self._unflushed = 0
        self._last_flush = clock()
        self.message_count = 0
        self.flush_count = 0

    # -- writing ------------------------------------------------------------------------------
    def _open_split(self) -> BagWriter:
        staging = self.path / OPEN_DIR / f"{self.path.name}_{self._split_index}"
        writer = BagWriter(staging, storage=self.storage, version=self.version)
        for key, value in self.custom_data.items():
            writer.set_custom_data(key, value)
        self._split_bytes_written = 0
        self._split_start_ns = None
        return writer

    def write_raw(self, topic: str, msgtype: str, rawdata: bytes, timestamp_ns: int) -> None:
        """Record one serialized (CDR) message unchanged."""
        if self._writer is not None and self._split_due(timestamp_ns, len(rawdata)):
            self.split()
        if self._writer is None:
            self._writer = self._open_split()
        self._writer.write_raw(topic, msgtype, bytes(rawdata), timestamp_ns)
        self._split_bytes_written += len(rawdata)
        if self._split_start_ns is None:
            self._split_start_ns = int(timestamp_ns)
        self.message_count += 1
        self._unflushed += 1
        self.maybe_flush()

    def write(self, topic: str, msg: Any, timestamp_ns: int) -> None:
        """Record a rosbags message object (serialized with the project's typestore)."""
        self.write_raw(topic, msg.__msgtype__, msg_types.typestore().serialize_cdr(msg, msg.__msgtype__), timestamp_ns)

    def _split_due(self, timestamp_ns: int, size: int) -> bool:
        if self.split_bytes is not None and self._split_bytes_written and self._split_bytes_written + size > self.split_bytes:
            return True
        return (
            self.split_ns is not None
            and self._split_start_ns is not None
            and int(timestamp_ns) - self._split_start_ns >= self.split_ns
        )

    def maybe_flush(self) -> bool:
        """Flush when ``flush_seconds`` have passed since the last flush (call from a timer too)."""
        if self._clock() - self._last_flush < self.flush_seconds:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Make everything written so far recoverable after a crash."""
        self._last_flush = self._clock()
        if self._writer is None or not self._unflushed:
            return
        self._writer.flush(fsync=self.fsync)
        self._unflushed = 0
        self.flush_count += 1

    def split(self) -> None:
        """Finish the current file and start the next one on the next message."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        writer.close()
        _finish_split(writer.path, self.path, self.metadata)
        self._split_index += 1
        self._unflushed = 0

    def close(self) -> Path:
        """Finish the last split; the bag is complete and ``.open/`` is gone."""
        self.split()
        shutil.rmtree(self.path / OPEN_DIR, ignore_errors=True)
        self._lock.__exit__()
        return self.path

    @property
    def files(self) -> list[Path]:
        return [self.path / s.file for s in self.metadata.splits]

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""rosbag2 files (MCAP or sqlite3) read and written with ``rosbags``, no ROS runtime needed."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.errors import ReaderError
from rosbags.serde import SerdeError

from sam2auto_ros.io import msg_types

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# What rosbags' readers raise on damaged bytes besides their own errors (found by flipping random
# bytes of bags; a damaged record length makes the reader ask for an impossible buffer at once).
DAMAGED_BAG_ERRORS = (ReaderError, SerdeError, OSError, ValueError, KeyError, OverflowError, IndexError,
                      struct.error, MemoryError)
# Metadata version 9 is what Jazzy and Kilted read; Humble's ros2 bag needs 8.
BagVersion = Literal[8, 9]
DEFAULT_VERSION: BagVersion = 9


class BagError(RuntimeError):
    """A bag that cannot be opened, read or written as asked."""


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    timestamp_ns: int
    rawdata: bytes

    def decode(self) -> Any:
        return msg_types.typestore().deserialize_cdr(self.rawdata, self.msgtype)


class BagWriter:
    """Writes messages to a new rosbag2; topics are added on first use.

    ``custom_data`` (strings) lands in the bag's metadata, where ``ros2 bag info`` shows it.
    """

    def __init__(self, path: str | Path, storage: str = "mcap", version: BagVersion = DEFAULT_VERSION) -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}; choose one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {self.path} already exists; remove it or choose another path")
        self._store = msg_types.typestore()
        self.storage = storage
        self._writer = Writer(self.path, version=version, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Any] = {}
        self._writer.open()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_custom_data(self, key: str, value: str) -> None:
        self._writer.set_custom_data(key, value)

    def _connection(self, topic: str, msgtype: str) -> Any:
        conn = self._connections.get(topic)
        if conn is None:
            if msgtype not in self._store.types:
                raise BagError(f"unknown message type {msgtype!r} for topic {topic}")
            conn = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagError(f"topic {topic} already holds {conn.msgtype}, cannot add {msgtype}")
        return conn

    def write(self, topic: str, msg: Any, timestamp_ns: int) -> None:
        msgtype = msg.__msgtype__
        self.write_raw(topic, msgtype, self._store.serialize_cdr(msg, msgtype), timestamp_ns)

    def write_raw(self, topic: str, msgtype: str, rawdata: bytes | memoryview, timestamp_ns: int) -> None:
        self._writer.write(self._connection(topic, msgtype), int(timestamp_ns), rawdata)

    def flush(self, fsync: bool = False) -> None:
        """Push everything written so far into the storage file, so a crash loses none of it.

        rosbags has no public flush; this reaches its storage plugins' own handles (MCAP: finish
        the open chunk; sqlite3: commit the open transaction).
        """
        storage: Any = self._writer.storage  # the plugin's own handles (no public API)
        if self.storage == "mcap":
            if storage.chunk.bio.tell():
                storage.close_chunk()
            storage.bio.flush()
            if fsync:
                os.fsync(storage.bio.fileno())
        else:
            storage.conn.commit()

    def close(self) -> None:
        self._writer.close()


def open_reader(path: str | Path) -> Reader:
    """Open a bag, turning the library's errors into one message that names the file."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except DAMAGED_BAG_ERRORS as exc:
        raise BagError(f"cannot open bag {path}: {exc} (is it a complete rosbag2 directory?)") from exc
    return reader


def read_messages(path: str | Path, topics: Iterable[str] | None = None, window: tuple[int, int] | None = None) -> Iterator[BagMessage]:
    """Every message of ``topics`` (all when ``None``) in time order, undecoded; with ``window``
    only those received in ``[start, stop)`` ns (MCAP skips the chunks outside it)."""
    reader = open_reader(path)
    try:
        wanted = set(topics) if topics is not None else None
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if wanted is not None:
            missing = wanted - {c.topic for c in connections}
            if missing:
                have = ", ".join(sorted({c.topic for c in reader.connections})) or "none"
                raise BagError(f"bag {path} has no topic {', '.join(sorted(missing))} (topics: {have})")
        try:
            start, stop = window if window is not None else (None, None)
            for conn, timestamp, rawdata in reader.messages(connections=connections, start=start, stop=stop):
                yield BagMessage(conn.topic, conn.msgtype, int(timestamp), bytes(rawdata))
        except DAMAGED_BAG_ERRORS as exc:
            raise BagError(f"bag {path} is corrupt or truncated: {type(exc).__name__}: {exc}") from exc
    finally:
        reader.close()

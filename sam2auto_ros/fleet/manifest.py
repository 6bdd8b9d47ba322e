"""The run's record of every input (``<out>/manifest.json``): what it was, what became of it.

Per input: its size, modification time and content hash, its status (``pending``, ``running``,
``done``, ``failed``), its output, its timings, attempts and error. The file is rewritten whole
(written aside, then renamed) after every change, so a killed run leaves the last complete record,
and ``--resume`` reads it to skip what is done.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
VERSION = 1
STATUSES = ("pending", "running", "done", "failed")
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest that cannot be read as one; the message says what to do."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies an input without reading it (size and mtime) and with (content hash)."""

    size: int
    mtime: float

    @classmethod
    def of(cls, bag: Path) -> Fingerprint:
        """Sum of the sizes and latest modification time of the bag's files."""
        files = _files(bag)
        stats = [f.stat() for f in files]
        return cls(sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=0.0))


def _files(bag: Path) -> list[Path]:
    return sorted(p for p in bag.rglob("*") if p.is_file()) if bag.is_dir() else [bag]


def content_hash(bag: Path) -> str:
    """sha256 over the bag's files (relative name and bytes, in name order)."""
    digest = hashlib.sha256()
    for path in _files(bag):
        digest.update(str(path.relative_to(bag) if bag.is_dir() else path.name).encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@dataclass
class Entry:
    """One input's line of the manifest."""

    input: str
    output: str  # relative to the output folder
    size: int
    mtime: float
    hash: str | None = None
    status: str = "pending"
    attempts: int = 0
    error: str | None = None
    frames: int = 0
    tracks: int = 0
    cameras: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.mtime)


class Manifest:
    """Entries by input path, saved atomically to ``<out>/manifest.json`` on every ``save``."""

    def __init__(self, path: Path, entries: dict[str, Entry] | None = None) -> None:
        self.path = path
        self.entries = entries or {}

    @classmethod
    def load(cls, out_dir: Path) -> Manifest | None:
        """The manifest in ``out_dir``, or None when there is none."""
        path = out_dir / MANIFEST_NAME
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, this tool writes {VERSION}")
            entries = {key: Entry(**value) for key, value in data["inputs"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ManifestError(f"manifest {path} cannot be read ({exc}); move it away to start over in {out_dir}") from exc
        bad = sorted({e.status for e in entries.values()} - set(STATUSES))
        if bad:
            raise ManifestError(f"manifest {path} has unknown statuses {bad}; move it away to start over")
        return cls(path, entries)

    def save(self) -> None:
        data: dict[str, Any] = {"version": VERSION, "inputs": {key: asdict(e) for key, e in self.entries.items()}}
        aside = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        aside.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(aside, self.path)

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(STATUSES, 0)
        for entry in self.entries.values():
            found[entry.status] += 1
        return found


def is_done(entry: Entry | None, fingerprint: Fingerprint, out_dir: Path) -> bool:
    """Whether ``--resume`` may skip an input: done from this very input (same size and mtime, or
    the same content when only the mtime moved) and its output still there."""
    if entry is None or entry.status != "done" or not (out_dir / entry.output).exists():
        return False
    if entry.fingerprint == fingerprint:
        return True
    return entry.size == fingerprint.size and entry.hash is not None and entry.hash == content_hash(Path(entry.input))

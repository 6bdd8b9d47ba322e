"""One camera's frames kept on disk between the passes of ``annotate-bag``, in the input's own transport.

The tracker and the write pass index a camera's whole sequence more than once (FLASH forward, then in
reverse; the overlay), so the frames must outlive the read pass without staying in memory:

* :class:`CompressedFrames` (``CompressedImage`` cameras): the payloads as they came, appended to one
  file, decoded again on access. Decoding is deterministic (same bytes, same decoder), so a frame reads
  back exactly as the read pass decoded it, at the size of the compressed stream (a 720p JPEG frame is
  ~0.1 MB instead of 2.76 MB of RGB).
* :class:`RgbFrames` (raw ``Image`` cameras): the decoded RGB in a memory-mapped ``.npy``; the input
  already costs that much per frame.

Both are ``Sequence[np.ndarray]`` of RGB frames and count the bytes they hold (``nbytes``).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from sam2auto_ros.io import msg_types
from sam2auto_ros.io.images import decode_compressed

CACHE_FRAMES = 2
"""Decoded frames kept: a tracker step that reads one frame twice decodes it once."""


class FrameStore(Sequence):
    """RGB frames appended one by one in the read pass, indexed (int) afterwards."""

    nbytes: int  # bytes of scratch file held

    @abstractmethod
    def append(self, msg: Any, rgb: np.ndarray) -> None:
        """Keep frame ``len(self)``: its message and the RGB the read pass decoded from it."""

    def close(self) -> None:
        """Release the scratch file (the caller deletes the folder)."""


class CompressedFrames(FrameStore):
    """Compressed payloads in one append-only file (offsets in memory), decoded on access."""

    def __init__(self, path: Path, fmt: str = "") -> None:
        self.path = Path(path)
        self.format = fmt
        self._file = open(self.path, "w+b", buffering=0)  # noqa: SIM115 (held for the store's life; close())
        self._offsets: list[tuple[int, int]] = []
        self.nbytes = 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def append(self, msg: Any, rgb: np.ndarray) -> None:
        data = memoryview(msg.data).cast("B")
        self.format = self.format or str(msg.format)
        written = 0
        while written < len(data):
            written += self._file.write(data[written:])
        self._offsets.append((self.nbytes, len(data)))
        self.nbytes += len(data)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, index):  # type: ignore[override]
        index = range(len(self))[index]  # negative indices, IndexError past the end
        cached = self._cache.get(index)
        if cached is None:
            offset, size = self._offsets[index]
            data = os.pread(self._file.fileno(), size, offset)
            cached = decode_compressed(SimpleNamespace(data=data, format=self.format))
            cached.setflags(write=False)  # shared through the cache: nobody may draw on it
            self._cache[index] = cached
            if len(self._cache) > CACHE_FRAMES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return cached

    def close(self) -> None:
        self._file.close()
        self._cache.clear()


class RgbFrames(FrameStore):
    """Decoded RGB frames in a memory-mapped ``.npy`` of ``count`` frames (shape set by the first)."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = Path(path)
        self.count = count
        self._images: np.memmap | None = None
        self._filled = 0
        self.nbytes = 0

    def append(self, msg: Any, rgb: np.ndarray) -> None:
        if self._images is None:
            self._images = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.uint8, shape=(self.count, *rgb.shape))
            self.nbytes = self._images.nbytes
            # claim the disk now: a write into a sparse map on a full disk kills the process with
            # SIGBUS; reserved here, a full disk is an OSError (ENOSPC) naming the file
            with open(self.path, "r+b") as handle:
                os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        self._images[self._filled] = rgb
        self._filled += 1

    def __len__(self) -> int:
        return self._filled

    def __getitem__(self, index):  # type: ignore[override]
        index = range(len(self))[index]
        assert self._images is not None
        return np.asarray(self._images[index])

    def close(self) -> None:
        self._images = None


def frame_store(msgtype: str, path: Path, count: int) -> FrameStore:
    """The store for a camera of ``msgtype``: compressed payloads for ``CompressedImage``, RGB otherwise.
    ``path`` gets the suffix of what it holds."""
    if msgtype == msg_types.COMPRESSED_IMAGE:
        return CompressedFrames(Path(path).with_suffix(".bin"))
    return RgbFrames(Path(path).with_suffix(".npy"), count)

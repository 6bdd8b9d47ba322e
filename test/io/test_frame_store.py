"""Frame stores of annotate-bag's scratch folder: compressed payloads decoded on access, RGB memmaps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sam2auto_ros.io import frame_store as frame_store_module
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.frame_store import CompressedFrames, RgbFrames, frame_store
from sam2auto_ros.io.images import decode_compressed, encode_compressed


def _frames(n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(n)]


def test_compressed_frames_keep_the_payloads_and_decode_as_the_read_pass_did(tmp_path):
    store = frame_store(msg_types.COMPRESSED_IMAGE, tmp_path / "frames_0", 5)
    assert isinstance(store, CompressedFrames)
    msgs = [SimpleNamespace(format=fmt, data=data) for fmt, data in (encode_compressed(f, "jpeg", 85) for f in _frames())]
    for msg in msgs:
        store.append(msg, decode_compressed(msg))
    assert len(store) == 5 and store.nbytes == sum(m.data.size for m in msgs) == store.path.stat().st_size
    for i in (0, 4, 2, -1):  # any order, negative indices
        assert np.array_equal(store[i], decode_compressed(msgs[i])) and store[i].shape == (48, 64, 3)
    with pytest.raises(IndexError):
        store[5]
    store.close()


def test_compressed_frames_decode_a_frame_read_twice_once(tmp_path, monkeypatch):
    store = CompressedFrames(tmp_path / "frames.bin")
    for frame in _frames(4):
        fmt, data = encode_compressed(frame, "png")
        store.append(SimpleNamespace(format=fmt, data=data), frame)
    calls = []
    real = frame_store_module.decode_compressed
    monkeypatch.setattr(frame_store_module, "decode_compressed", lambda msg: calls.append(1) or real(msg))
    for i in (0, 0, 1, 1, 0, 3, 2, 1):  # FLASH's access: a step reads a frame, the reverse run comes back
        frame = store[i]
        assert not frame.flags.writeable  # cached frames are shared: nobody may draw on them
    assert len(calls) == 5  # 0 and 1 once each while cached; 3, 2, then 1 again after it was evicted
    assert np.array_equal(store[2], _frames(4)[2])  # PNG: lossless
    store.close()


def test_rgb_frames_are_a_memmap_of_the_decoded_frames(tmp_path):
    store = frame_store(msg_types.IMAGE, tmp_path / "frames_0", 3)
    assert isinstance(store, RgbFrames)
    frames = _frames(3)
    for frame in frames:
        store.append(None, frame)
    assert len(store) == 3 and store.nbytes == 3 * frames[0].nbytes
    assert store.path.suffix == ".npy" and np.array_equal(np.load(store.path), np.stack(frames))
    assert all(np.array_equal(store[i], frames[i]) for i in range(3))
    with pytest.raises(IndexError):
        store.append(None, frames[0])  # more frames than the count it was made for
    store.close()

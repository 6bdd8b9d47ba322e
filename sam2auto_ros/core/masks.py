"""Lossless binary masks as COCO run-length encodings, built on pycocotools.

Masks are held compressed (pycocotools' RLE) from the detector to the exporters: a 720p mask
costs ~1 KB instead of ~0.9 MB, IoU is computed on the RLEs directly, and COCO export needs no
conversion. The plain uint32 run counts are the wire form of ``InstanceMask.mask_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils


class MaskCodecError(ValueError):
    """A mask or run-length encoding that cannot be encoded or decoded as given."""


@dataclass(frozen=True)
class RleMask:
    """An immutable binary mask of ``height x width`` pixels in COCO compressed RLE."""

    height: int
    width: int
    counts: bytes  # COCO's compressed counts string

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_array(cls, mask: np.ndarray) -> RleMask:
        """Encode a 2-D boolean (or 0/1 integer) array."""
        if not isinstance(mask, np.ndarray):
            raise MaskCodecError(f"mask must be a numpy array, got {type(mask).__name__}")
        if mask.ndim != 2:
            raise MaskCodecError(f"mask must be 2-D (height, width), got shape {mask.shape}")
        if mask.dtype != np.bool_:
            if not np.issubdtype(mask.dtype, np.integer):
                raise MaskCodecError(
                    f"mask must be bool or 0/1 integers, got dtype {mask.dtype}; threshold it first"
                )
            if mask.size and (mask.min() < 0 or mask.max() > 1):
                raise MaskCodecError("integer mask holds values other than 0 and 1")
        height, width = mask.shape
        if height == 0 or width == 0:
            raise MaskCodecError(f"mask has an empty dimension: shape {mask.shape}")
        rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
        return cls(int(height), int(width), bytes(rle["counts"]))

    @classmethod
    def empty(cls, height: int, width: int) -> RleMask:
        return cls.from_counts(np.array([height * width], dtype=np.uint32), height, width)

    @classmethod
    def from_counts(cls, counts: Sequence[int] | np.ndarray, height: int, width: int) -> RleMask:
        """Decode the plain run counts of ``InstanceMask.mask_counts``; validates the total."""
        height, width = int(height), int(width)
        if height <= 0 or width <= 0:
            raise MaskCodecError(f"mask size must be positive, got {height}x{width}")
        runs = np.asarray(counts)
        if runs.ndim != 1 or runs.size == 0:
            raise MaskCodecError("run counts must be a non-empty 1-D sequence")
        if not np.issubdtype(runs.dtype, np.integer):
            raise MaskCodecError(f"run counts must be integers, got dtype {runs.dtype}")
        if runs.min() < 0:
            raise MaskCodecError("run counts must not be negative")
        total = int(runs.sum(dtype=np.int64))
        if total != height * width:
            raise MaskCodecError(
                f"corrupt RLE: run counts sum to {total}, expected {height}x{width}={height * width}"
            )
        rle = mask_utils.frPyObjects({"size": [height, width], "counts": runs.tolist()}, height, width)
        return cls(height, width, bytes(rle["counts"]))

    @classmethod
    def from_coco(cls, rle: dict) -> RleMask:
        """Accept a COCO RLE dict (compressed str/bytes counts or plain list counts)."""
        try:
            height, width = (int(v) for v in rle["size"])
            counts = rle["counts"]
        except (KeyError, TypeError, ValueError) as exc:
            raise MaskCodecError(f"not a COCO RLE dict with 'size' and 'counts': {exc}") from exc
        if isinstance(counts, list):
            return cls.from_counts(counts, height, width)
        raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
        mask = cls(height, width, raw)
        mask.to_counts()  # decodes and checks the runs cover the mask exactly
        return mask

    # -- views --------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def to_coco(self) -> dict:
        """COCO RLE dict with ``counts`` as str (JSON-ready)."""
        return {"size": [self.height, self.width], "counts": self.counts.decode("ascii")}

    def _rle(self) -> dict:
        return {"size": [self.height, self.width], "counts": self.counts}

    def to_array(self) -> np.ndarray:
        """Decode to a boolean ``(height, width)`` array."""
        try:
            decoded = mask_utils.decode(self._rle())
        except ValueError as exc:
            raise MaskCodecError(f"corrupt RLE: {exc}") from exc
        if decoded.shape != (self.height, self.width):
            raise MaskCodecError("corrupt RLE: decoded size differs from the declared size")
        return decoded.astype(bool, copy=False)

    def to_counts(self) -> np.ndarray:
        """Plain run counts (uint32), column-major, starting with a run of zeros.

        Parsed straight from the compressed string (pycocotools exposes no such call, and
        decoding the whole mask costs ~1.3 ms at 720p against ~0.05 ms here).
        """
        runs = _parse_compressed_counts(self.counts)
        if runs.size == 0 or runs.min() < 0 or int(runs.sum()) != self.height * self.width:
            raise MaskCodecError("corrupt RLE: runs do not cover the mask")
        return runs.astype(np.uint32)

    @property
    def area(self) -> int:
        return int(mask_utils.area(self._rle()))

    def box_xyxy(self) -> np.ndarray:
        """Tight box ``[x_min, y_min, x_max, y_max]`` (max exclusive); zeros when empty."""
        x, y, w, h = mask_utils.toBbox(self._rle()).tolist()
        return np.array([x, y, x + w, y + h], dtype=np.float32)


def _parse_compressed_counts(counts: bytes) -> np.ndarray:
    """COCO's compressed counts string as run lengths (int64).

    The format (pycocotools' maskApi.c): each count is a little-endian base-32 number, five bits per
    character offset by 48, bit 0x20 meaning "more characters follow" and bit 0x10 of the last one
    the sign; from the fourth count on, each is stored as the difference to the count two before.
    """
    chars = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if chars.size == 0 or chars.min() < 0 or chars.max() > 63:
        raise MaskCodecError("corrupt RLE: the compressed counts hold characters outside the format")
    last = (chars & 0x20) == 0
    if not last[-1]:
        raise MaskCodecError("corrupt RLE: the compressed counts end inside a number")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    digit = np.arange(chars.size) - np.repeat(starts, ends - starts + 1)
    if digit.max() > 11:
        raise MaskCodecError("corrupt RLE: a count in the compressed string is too long")
    values = np.add.reduceat((chars & 0x1F) << (5 * digit), starts)
    negative = (chars[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (digit[ends][negative] + 1))
    values[3::2] = np.cumsum(values[3::2]) + values[1] if values.size > 3 else values[3::2]
    values[4::2] = np.cumsum(values[4::2]) + values[2] if values.size > 4 else values[4::2]
    return values


def mask_iou_matrix(a: Sequence[RleMask], b: Sequence[RleMask]) -> np.ndarray:
    """IoU of every mask in ``a`` with every mask in ``b`` as an ``(len(a), len(b))`` array."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    sizes = {m.shape for m in a} | {m.shape for m in b}
    if len(sizes) != 1:
        raise MaskCodecError(f"masks of different sizes cannot be compared: {sorted(sizes)}")
    ious = mask_utils.iou([m._rle() for m in a], [m._rle() for m in b], [0] * len(b))
    return np.asarray(ious, dtype=np.float64).reshape(len(a), len(b))


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``xyxy`` boxes, ``(N, 4)`` against ``(M, 4)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)

"""A propagator's mask as the model made it, made full-resolution only where someone reads it.

SAM 2 predicts each object as 256 x 256 mask logits (its 1024 px input / 4), whatever the camera's
size. Upsampling every object to the whole frame, as the engine once did, cost ~4 ms per object at
720p on one CPU thread (and, on a GPU, moved ~4 MB per object to the host) before FLASH looked
at a pixel. Here an object's mask stays at the model's resolution, on the model's device, and is
made full-size only inside a *window* that holds every pixel it can set:

* :meth:`PredictedMask.rle`: the full-resolution mask as COCO RLE (what FLASH tracks, publishes
  and records): thresholded and run-length counted inside the window, on the device; only the
  run positions leave it.
* :meth:`PredictedMask.window` / :meth:`PredictedMask.logits_window`: pixels or logits inside a box
  (FLASH reads logits only where two masks contest pixels).
* :meth:`PredictedMask.to_array` / :meth:`PredictedMask.to_logits`: the whole frame, through the
  same code with the frame as the window (the reference path the tests hold the windows to).

Two kinds: :class:`LowResLogits` (the SAM 2 engine, torch or onnxruntime) and :class:`BoxedMask`
(full-resolution pixels inside a box: the weight-free fallback, test doubles).

The upsampling is SAM 2's (``F.interpolate(..., mode="bilinear", align_corners=False)``), written
as two 1-D passes over the window with the same sampling positions and weights; a full-resolution
pixel can only be positive where one of the four low-resolution logits it blends is (the weights
are non-negative), so a window around the positive low-resolution logits loses nothing. It is
plain torch tensor code: on a CUDA engine it runs on the GPU, on CPU on the CPU.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sam2auto_ros.core.masks import RleMask

Window = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in full-resolution pixels, max exclusive."""


class PredictedMask(ABC):
    """One object's mask on one frame of ``height x width`` pixels, in whatever form the model gave it."""

    height: int
    width: int

    @abstractmethod
    def bounds(self) -> Window | None:
        """A window holding every pixel of the mask (perhaps a few more); ``None`` when it is empty."""

    @abstractmethod
    def window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """The mask's pixels inside a window, ``bool (y1 - y0, x1 - x0)``."""

    def logits_window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray | None:
        """The mask logits inside a window (float32), or ``None`` when the model gave none."""
        return None

    @property
    def has_logits(self) -> bool:
        return False

    @abstractmethod
    def _encode(self) -> RleMask:
        """The full-resolution mask as RLE."""

    def rle(self) -> RleMask:
        """The full-resolution mask as RLE (with its area and box), computed once."""
        cached = self.__dict__.get("_rle")
        if cached is None:
            cached = self.__dict__["_rle"] = self._encode()
        return cached

    @property
    def empty(self) -> bool:
        return self.rle().area == 0

    def to_array(self) -> np.ndarray:
        """The whole frame, ``bool (height, width)`` (the reference path; a copy)."""
        return self.window(0, 0, self.width, self.height)

    def to_logits(self) -> np.ndarray | None:
        """The whole frame's logits, float32, or ``None``."""
        return self.logits_window(0, 0, self.width, self.height)

    def _check(self, x0: int, y0: int, x1: int, y1: int) -> None:
        if not (0 <= x0 <= x1 <= self.width and 0 <= y0 <= y1 <= self.height):
            raise ValueError(f"window x {x0}..{x1}, y {y0}..{y1} is not inside the {self.height}x{self.width} frame")


class LowResLogits(PredictedMask):
    """Mask logits at the model's resolution (a ``(h, w)`` float tensor on any device) for a frame
    of ``size = (height, width)`` pixels; a pixel is in the mask where its upsampled logit is > 0."""

    def __init__(self, logits: torch.Tensor, size: tuple[int, int]) -> None:
        if logits.ndim != 2:
            raise ValueError(f"low-resolution logits must be 2-D (h, w), got shape {tuple(logits.shape)}")
        self.logits = logits if logits.dtype == torch.float32 else logits.float()
        self.height, self.width = int(size[0]), int(size[1])
        self._bounds: Window | bool | None = False  # False: not computed yet

    @property
    def has_logits(self) -> bool:
        return True

    def bounds(self) -> Window | None:
        if self._bounds is False:
            rows, cols = _any_rows_cols(self.logits)
            self._bounds = _full_res_window(rows, cols, self.logits.shape, (self.height, self.width))
        return self._bounds  # type: ignore[return-value]

    def window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        self._check(x0, y0, x1, y1)
        return (upsample_window(self.logits, (self.height, self.width), (x0, y0, x1, y1)) > 0).cpu().numpy()

    def logits_window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray | None:
        self._check(x0, y0, x1, y1)
        return upsample_window(self.logits, (self.height, self.width), (x0, y0, x1, y1)).cpu().numpy()

    def _encode(self) -> RleMask:
        box = self.bounds() or (0, 0, 0, 0)
        positive = upsample_window(self.logits, (self.height, self.width), box) > 0
        return window_rle(positive, box[0], box[1], self.height, self.width)


class BoxedMask(PredictedMask):
    """Full-resolution pixels inside a box: ``pixels`` (bool ``(h, w)``) with its top-left corner at
    ``(x0, y0)`` of a ``size = (height, width)`` frame; everything outside the box is background."""

    def __init__(self, pixels: np.ndarray, x0: int, y0: int, size: tuple[int, int]) -> None:
        self.pixels = np.asarray(pixels, dtype=bool)
        self.x0, self.y0 = int(x0), int(y0)
        self.height, self.width = int(size[0]), int(size[1])
        h, w = self.pixels.shape
        if not (self.x0 >= 0 and self.y0 >= 0 and self.x0 + w <= self.width and self.y0 + h <= self.height):
            raise ValueError(f"a {w}x{h} box at ({x0}, {y0}) does not fit a {self.width}x{self.height} frame")

    @classmethod
    def from_array(cls, mask: np.ndarray) -> BoxedMask:
        """A whole-frame mask, kept inside the box of its pixels."""
        mask = np.asarray(mask, dtype=bool)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return cls(np.zeros((0, 0), dtype=bool), 0, 0, mask.shape)
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        return cls(mask[y0:y1, x0:x1], x0, y0, mask.shape)

    def bounds(self) -> Window | None:
        h, w = self.pixels.shape
        return (self.x0, self.y0, self.x0 + w, self.y0 + h) if h and w else None

    def window(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        self._check(x0, y0, x1, y1)
        out = np.zeros((y1 - y0, x1 - x0), dtype=bool)
        h, w = self.pixels.shape
        lx0, ly0, lx1, ly1 = max(x0, self.x0), max(y0, self.y0), min(x1, self.x0 + w), min(y1, self.y0 + h)
        if lx0 < lx1 and ly0 < ly1:
            out[ly0 - y0 : ly1 - y0, lx0 - x0 : lx1 - x0] = self.pixels[ly0 - self.y0 : ly1 - self.y0, lx0 - self.x0 : lx1 - self.x0]
        return out

    def _encode(self) -> RleMask:
        return window_rle(torch.from_numpy(self.pixels), self.x0, self.y0, self.height, self.width)


def full_resolution(masks: Sequence[PredictedMask]) -> list[RleMask]:
    """The full-resolution RLE of many masks (each computed once and kept on its mask).

    The windows of the low-resolution logits on one device are found together: their rows' and
    columns' maxima leave the device in one transfer, not one per object.
    """
    pending: dict[torch.device, list[LowResLogits]] = {}
    for m in masks:
        if isinstance(m, LowResLogits) and m._bounds is False and "_rle" not in m.__dict__:
            pending.setdefault(m.logits.device, []).append(m)
    for group in pending.values():
        if len(group) < 2:
            continue
        flags = torch.cat([torch.cat((m.logits.amax(dim=1), m.logits.amax(dim=0))) for m in group]).gt(0).cpu().numpy()
        at = 0
        for m in group:
            h, w = m.logits.shape
            m._bounds = _full_res_window(flags[at : at + h], flags[at + h : at + h + w], m.logits.shape, (m.height, m.width))
            at += h + w
    return [m.rle() for m in masks]


# -- the tensor code (runs on the logits' device) ----------------------------------------------------
@functools.lru_cache(maxsize=64)
def _axis(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of each output position along one axis, as ``F.interpolate``
    computes them for bilinear, ``align_corners=False``: float32, the source position rounded once
    from ``scale * (i + 0.5) - 0.5`` (torch's CPU kernel fuses it into one multiply-add), the same clamps."""
    scale = np.float32(in_size) / np.float32(out_size)
    exact = np.float64(scale) * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)).astype(np.float64) - 0.5
    source = np.maximum(exact.astype(np.float32), np.float32(0.0))
    i0 = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    w1 = np.clip(source - i0.astype(np.float32), np.float32(0.0), np.float32(1.0)).astype(np.float32)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, (np.float32(1.0) - w1).astype(np.float32), w1


@functools.lru_cache(maxsize=64)
def _axis_on(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a).to(device) for a in _axis(in_size, out_size))


def upsample_window(logits: torch.Tensor, size: tuple[int, int], window: Window) -> torch.Tensor:
    """``F.interpolate(logits[None, None], size, mode="bilinear", align_corners=False)[0, 0]``
    inside ``window`` only, computed from the low-resolution rows and columns it needs.

    Along x first, then y: ``h0 * (w0 * a + w1 * b) + h1 * (w0 * c + w1 * d)``, the expression
    torch evaluates per pixel, with its weights, so a window equals the whole frame's crop bit for
    bit, and torch's own result to the rounding of one multiply-add (torch's CPU kernel fuses the
    last one): a pixel can only land on the other side where its logit is within ~1e-6 of 0.
    """
    x0, y0, x1, y1 = window
    (h, w), (height, width) = logits.shape, size
    ry0, ry1, _, _ = _axis(h, height)
    lo, hi = int(ry0[y0]) if y1 > y0 else 0, int(ry1[y1 - 1]) + 1 if y1 > y0 else 0
    ty0, ty1, tw0, tw1 = (t[y0:y1] for t in _axis_on(h, height, logits.device))
    cx0, cx1, cw0, cw1 = (t[x0:x1] for t in _axis_on(w, width, logits.device))
    rows = logits[lo:hi]
    across = rows.index_select(1, cx0) * cw0 + rows.index_select(1, cx1) * cw1  # (hi - lo, x1 - x0)
    return across.index_select(0, ty0 - lo) * tw0[:, None] + across.index_select(0, ty1 - lo) * tw1[:, None]


def window_rle(pixels: torch.Tensor, x0: int, y0: int, height: int, width: int) -> RleMask:
    """The ``height x width`` mask that is ``pixels`` (bool ``(h, w)``, any device) at ``(x0, y0)``
    and background elsewhere, as RLE with its area and box. Run edges are found where the pixels
    are; only their positions move."""
    h = pixels.shape[0]
    edges = run_edges(pixels)
    if edges.size == 0:
        return RleMask.from_runs(np.array([height * width], dtype=np.uint32), height, width, 0, (0.0, 0.0, 0.0, 0.0))
    column, row = np.divmod(edges, h + 2)  # even edges start a run of ones, odd ones end it
    area = int((row[1::2] - row[0::2]).sum())
    box = (float(column[0] + x0), float(row[0::2].min() + y0), float(column[-1] + x0 + 1), float(row[1::2].max() + y0))
    starts = (column + x0) * height + row + y0
    if h == height:  # a run through the bottom of one column goes on at the top of the next
        joined = np.flatnonzero(starts[1:] == starts[:-1])
        starts = np.delete(starts, np.concatenate((joined, joined + 1)))
    if starts[-1] == height * width:  # the mask ends on a run of ones: no empty run after it
        starts = starts[:-1]
    runs = np.empty(starts.size + 1, dtype=np.uint32)
    runs[0], runs[-1] = starts[0], height * width - starts[-1]
    np.subtract(starts[1:], starts[:-1], out=runs[1:-1], casting="unsafe")
    return RleMask.from_runs(runs, height, width, area, box)


def run_edges(pixels: torch.Tensor, on_device: bool | None = None) -> np.ndarray:
    """Where runs start and end in ``pixels`` (bool ``(h, w)``) read column by column, each column
    between two background pixels: index ``c * (h + 2) + r`` for an edge before row ``r`` of column
    ``c`` (none falls between columns), ascending, int64 on the host.

    ``on_device``: torch on the tensor's device (what a CUDA tensor takes; the positions are all
    that move), else numpy on the host array (a CPU tensor's default: a torch call costs several
    numpy calls' time on a small window). Both give the same positions.
    """
    if on_device if on_device is not None else pixels.device.type != "cpu":
        columns = F.pad(pixels.t().to(torch.int8), (1, 1)).flatten()
        return torch.diff(columns).nonzero().flatten().cpu().numpy()
    h, w = pixels.shape
    padded = np.zeros((w, h + 2), dtype=bool)
    padded[:, 1:-1] = pixels.numpy().T
    flat = padded.ravel()
    return np.flatnonzero(flat[1:] != flat[:-1])


def _any_rows_cols(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Which rows and columns of a logit map hold a positive logit: bool, moved to the host together
    (a maximum is a cheaper reduction than ``(logits > 0).any``)."""
    both = torch.cat((logits.amax(dim=1), logits.amax(dim=0))).gt(0).cpu().numpy()
    return both[: logits.shape[0]], both[logits.shape[0] :]


def _full_res_window(rows: np.ndarray, cols: np.ndarray, low: tuple[int, ...], size: tuple[int, int]) -> Window | None:
    """The full-resolution pixels whose bilinear samples touch the low-resolution rows and columns
    flagged in ``rows`` and ``cols`` (bool); ``None`` when none is flagged."""
    rows, cols = np.flatnonzero(rows), np.flatnonzero(cols)
    if rows.size == 0:
        return None
    (h, w), (height, width) = low[-2:], size
    ry0, ry1, _, _ = _axis(h, height)
    cx0, cx1, _, _ = _axis(w, width)
    # indices never decrease along an axis: the first output whose upper source reaches the first
    # positive row, up to the last whose lower source is still inside the positive rows
    y0, y1 = int(np.searchsorted(ry1, rows[0], "left")), int(np.searchsorted(ry0, rows[-1], "right"))
    x0, x1 = int(np.searchsorted(cx1, cols[0], "left")), int(np.searchsorted(cx0, cols[-1], "right"))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

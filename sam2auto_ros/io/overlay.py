"""Drawing tracks over frames: colored masks, boxes, ids and labels, for the overlay topic and mp4.

Colors follow the track id (a fixed golden-ratio hue walk) so an object keeps its color through
the video; untracked detections are drawn gray.
"""

from __future__ import annotations

import colorsys
import errno
from pathlib import Path

import cv2
import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus

UNTRACKED_COLOR = (160, 160, 160)
# mp4v is the MPEG-4 encoder every opencv-python(-headless) wheel ships; H.264 (avc1) needs an
# encoder the PyPI builds lack (measured: VideoWriter fails to open with avc1/H264/X264).
FOURCC = "mp4v"


def track_color(track_id: int) -> tuple[int, int, int]:
    """RGB color of a track; stable across frames and runs."""
    if track_id < 0:
        return UNTRACKED_COLOR
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _caption(inst: Instance) -> str:
    ident = f"#{inst.track_id} " if inst.has_track else ""
    return f"{ident}{inst.label or '?'} {inst.score:.2f}"


def render_overlay(rgb: np.ndarray, frame: FrameInstances, alpha: float = 0.45) -> np.ndarray:
    """A new RGB image: ``rgb`` with ``frame``'s masks blended in, boxes and captions drawn."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"overlay needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    if rgb.shape[:2] != (frame.height, frame.width):
        raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]}, instances are for {frame.width}x{frame.height}")
    out = rgb.copy()
    for inst in frame.instances:
        if inst.mask is None or inst.status == InstanceStatus.OCCLUDED:
            continue
        x0, y0, x1, y1 = (int(v) for v in inst.mask.box_xyxy())
        if x1 <= x0 or y1 <= y0:
            continue
        # blend inside the mask's own box only (decoding its columns alone): objects cover a few
        # percent of the frame
        pixels = inst.mask.window(x0, y0, x1, y1)
        region = out[y0:y1, x0:x1]
        tint = np.array(track_color(inst.track_id), dtype=np.float32)
        region[pixels] = (region[pixels] * (1 - alpha) + tint * alpha).astype(np.uint8)
    scale = max(0.35, min(frame.height, frame.width) / 900)
    for inst in frame.instances:
        color = track_color(inst.track_id)
        x0, y0, x1, y1 = (int(round(v)) for v in inst.box)
        if x1 <= x0 or y1 <= y0:
            continue
        dashed = inst.status == InstanceStatus.OCCLUDED
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), color, 1 if dashed else 2)
        text = _caption(inst)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(y0, th + base)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw, ty), color, -1)
        cv2.putText(out, text, (x0, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class OverlayVideo:
    """An mp4 of overlay frames; every frame must have the size of the first."""

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray, frame: FrameInstances | None = None) -> None:
        image = render_overlay(rgb, frame) if frame is not None else rgb
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*FOURCC), self.fps, size)
            if not self._writer.isOpened():
                raise OSError(f"opencv cannot write {FOURCC} video to {self.path}")
            self._size = size
        elif size != self._size:
            raise ValueError(f"frame size {size} differs from the video's {self._size}")
        self._writer.write(np.ascontiguousarray(image[..., ::-1]))
        self.frames += 1

    def close(self) -> None:
        """Finish the file; OSError when it holds fewer frames than were written (opencv's writer
        drops write errors, a full disk among them, without a word)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            capture = cv2.VideoCapture(str(self.path))
            stored = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            capture.release()
            if stored != self.frames:
                raise OSError(errno.EIO, f"the video holds {stored} of the {self.frames} frames written "
                              "(a full disk?)", str(self.path))

    def __enter__(self) -> OverlayVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

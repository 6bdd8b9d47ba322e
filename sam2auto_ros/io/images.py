"""``sensor_msgs/Image`` and ``CompressedImage`` <-> numpy, for rclpy and rosbags messages alike.

cv_bridge is not available for ROS 2 from PyPI (and its ROS 1 port breaks on numpy 2), and the
conversion is a reshape, so it lives here. Functions take any object with the message's fields.

JPEG goes through libjpeg-turbo's own API (``simplejpeg``): it decodes straight to RGB with no
channel swap and no per-call set-up, ~2.2x faster than ``cv2.imdecode`` at 720p on one thread
(4.6 against 10.2 ms) and pixel for pixel the same (both are libjpeg-turbo with its accurate DCT
and fancy upsampling); a JPEG that stops early or is damaged is refused, never half decoded. PNG
and other formats go through OpenCV.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import simplejpeg

# encoding -> (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
}


JPEG_START = b"\xff\xd8"  # every JPEG begins with its start-of-image marker


class ImageError(ValueError):
    """A frame that cannot be turned into pixels (bad encoding, size or data)."""


def image_to_array(msg: Any) -> tuple[np.ndarray, str]:
    """Pixels of an Image message as ``(H, W[, C])`` (a view when possible) and its encoding."""
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}")
    dtype, channels = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageError(f"image has no pixels: {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageError(f"image step {step} is shorter than a row ({row_bytes} bytes for {encoding})")
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    if data.size < step * height:
        raise ImageError(f"image data has {data.size} bytes, expected {step * height} ({width}x{height} {encoding})")
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    dt = dtype.newbyteorder(">" if msg.is_bigendian else "<") if dtype.itemsize > 1 else dtype
    pixels = np.ascontiguousarray(rows).view(dt).reshape((height, width, channels) if channels > 1 else (height, width))
    return pixels, encoding


def to_rgb(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Any supported encoding as ``(H, W, 3)`` uint8 RGB, the models' input."""
    if encoding in ("rgb8", "8UC3"):
        return pixels
    if encoding == "bgr8":
        return np.ascontiguousarray(pixels[..., ::-1])
    if encoding == "rgba8":
        return np.ascontiguousarray(pixels[..., :3])
    if encoding == "bgra8":
        return np.ascontiguousarray(pixels[..., 2::-1])
    if encoding in ("mono8", "8UC1"):
        return np.repeat(pixels[..., None], 3, axis=2)
    if encoding in ("mono16", "16UC1"):
        scaled = (pixels.astype(np.float32) / max(int(pixels.max()), 1) * 255).astype(np.uint8)
        return np.repeat(scaled[..., None], 3, axis=2)
    raise ImageError(f"unsupported image encoding {encoding!r}")


def image_fields(pixels: np.ndarray, encoding: str = "rgb8") -> dict[str, Any]:
    """Fields of an Image message (all but the header) for ``pixels``."""
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported image encoding {encoding!r}")
    dtype, channels = ENCODINGS[encoding]
    expected_ndim = 2 if channels == 1 else 3
    if pixels.ndim != expected_ndim or (channels > 1 and pixels.shape[2] != channels):
        raise ImageError(f"array of shape {pixels.shape} does not fit encoding {encoding}")
    if pixels.dtype != dtype:
        raise ImageError(f"array dtype {pixels.dtype} does not fit encoding {encoding} ({dtype})")
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": width * channels * dtype.itemsize,
        "data": pixels.reshape(-1).view(np.uint8),
    }


def decode_compressed(msg: Any) -> np.ndarray:
    """A ``CompressedImage`` (jpeg/png) as RGB uint8."""
    buf = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    if buf.size == 0:
        raise ImageError("compressed image has no data")
    if buf[:2].tobytes() == JPEG_START:
        try:
            return simplejpeg.decode_jpeg(buf, colorspace="RGB")
        except ValueError as exc:
            raise ImageError(f"cannot decode compressed image (format {msg.format!r}, {buf.size} bytes): {exc}") from None
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"cannot decode compressed image (format {msg.format!r}, {buf.size} bytes): corrupt or unsupported")
    return np.ascontiguousarray(bgr[..., ::-1])


def encode_compressed(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> tuple[str, np.ndarray]:
    """``(format, data)`` for a CompressedImage from RGB pixels."""
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt)
    if ext is None:
        raise ImageError(f"unsupported compressed format {fmt!r}; use jpeg or png")
    if ext == ".jpg":  # 4:2:0 chroma, as OpenCV's encoder and most cameras write it
        data = simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality, colorspace="RGB", colorsubsampling="420")
        return "jpeg", np.frombuffer(data, dtype=np.uint8)
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), [])
    if not ok:
        raise ImageError("image encoding failed")
    return ("jpeg" if ext == ".jpg" else "png"), buf.reshape(-1)

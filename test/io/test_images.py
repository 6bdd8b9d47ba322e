from types import SimpleNamespace

import numpy as np
import pytest

from sam2auto_ros.io.images import ImageError, decode_compressed, encode_compressed, image_fields, image_to_array, to_rgb


def _msg(**fields):
    return SimpleNamespace(**fields)


@pytest.mark.parametrize("encoding, shape, dtype", [("rgb8", (5, 7, 3), np.uint8), ("bgra8", (5, 7, 4), np.uint8), ("mono8", (5, 7), np.uint8), ("mono16", (5, 7), np.uint16)])
def test_roundtrip(encoding, shape, dtype):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    back, enc = image_to_array(_msg(**image_fields(pixels, encoding)))
    assert enc == encoding and np.array_equal(back, pixels)


def test_padded_rows_and_big_endian():
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    rows = pixels.astype(">u2").tobytes()
    padded = b"".join(rows[i * 8 : (i + 1) * 8] + b"\0\0" for i in range(3))
    back, _ = image_to_array(_msg(height=3, width=4, encoding="mono16", is_bigendian=1, step=10, data=padded))
    assert np.array_equal(back, pixels)


def test_color_conversions():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    assert to_rgb(bgr, "bgr8")[0, 0].tolist() == [0, 0, 255]
    assert to_rgb(np.full((2, 2), 9, np.uint8), "mono8").shape == (2, 2, 3)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(height=2, width=2, encoding="yuv422", is_bigendian=0, step=4, data=b"\0" * 8), "unsupported"),
        (dict(height=2, width=2, encoding="rgb8", is_bigendian=0, step=6, data=b"\0" * 5), "expected 12"),
        (dict(height=2, width=2, encoding="rgb8", is_bigendian=0, step=3, data=b"\0" * 12), "shorter than a row"),
        (dict(height=0, width=2, encoding="rgb8", is_bigendian=0, step=6, data=b""), "no pixels"),
    ],
)
def test_bad_images(fields, message):
    with pytest.raises(ImageError, match=message):
        image_to_array(_msg(**fields))


def test_compressed_roundtrip_and_corruption():
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = (200, 10, 10)
    fmt, data = encode_compressed(rgb, "png")
    assert np.array_equal(decode_compressed(_msg(format=fmt, data=data.tobytes())), rgb)
    with pytest.raises(ImageError, match="cannot decode"):
        decode_compressed(_msg(format="jpeg", data=b"\xff\xd8garbage"))
    with pytest.raises(ImageError, match="no data"):
        decode_compressed(_msg(format="jpeg", data=b""))

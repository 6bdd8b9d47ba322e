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


def test_jpeg_decodes_to_the_pixels_opencv_decodes():
    """libjpeg-turbo through simplejpeg gives OpenCV's pixels (4:2:0 and 4:4:4, odd sizes), as RGB."""
    import cv2

    from sam2auto_ros.sim import make_scene

    image = next(iter(make_scene("mixed", seed=1, n_frames=1, height=123, width=201).frames())).image
    for params in ([cv2.IMWRITE_JPEG_QUALITY, 90], [cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]):
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), params)
        assert ok
        opencv = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(decode_compressed(_msg(format="jpeg", data=data.tobytes())), opencv)
    fmt, data = encode_compressed(image, "jpeg", 90)
    decoded = decode_compressed(_msg(format=fmt, data=data.tobytes()))
    error, swapped = (np.abs(decoded.astype(int) - reference).mean() for reference in (image, image[..., ::-1]))
    assert decoded.shape == image.shape and error < 6 and swapped > 2 * error  # lossy, but RGB in RGB order


def test_a_truncated_jpeg_is_refused_not_half_decoded():
    image = np.tile(np.arange(64, dtype=np.uint8)[:, None, None] * 4, (1, 64, 3))
    fmt, data = encode_compressed(image, "jpeg", 90)
    with pytest.raises(ImageError, match="cannot decode"):
        decode_compressed(_msg(format=fmt, data=data.tobytes()[: len(data) // 2]))

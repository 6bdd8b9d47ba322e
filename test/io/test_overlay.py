from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.io.overlay import OverlayVideo, render_overlay, track_color
from test.export.scene import H, W, track_frames


def test_overlay_tints_masks_by_track_and_leaves_the_rest():
    full = track_frames()[0]
    # the two tracks only: captions sit above each box, so the disc centres stay caption-free
    frame = FrameInstances(full.stamp_ns, H, W, full.instances[:2])
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    out = render_overlay(rgb, frame)
    assert out.shape == rgb.shape and not out is rgb and not rgb.any()
    # the disc centers (captions sit on the boxes' top edges)
    assert np.allclose(out[20, 10], np.array(track_color(3)) * 0.45, atol=2)
    assert np.allclose(out[40, 60], np.array(track_color(7)) * 0.45, atol=2)
    assert not out[H - 1, W // 2].any()  # background far from every instance untouched
    assert track_color(3) != track_color(7) and track_color(-1) == (160, 160, 160)


def test_overlay_rejects_mismatched_images():
    frame = track_frames()[0]
    with pytest.raises(ValueError, match="instances are for 80x64"):
        render_overlay(np.zeros((10, 10, 3), np.uint8), frame)
    with pytest.raises(ValueError, match="uint8 RGB"):
        render_overlay(np.zeros((H, W), np.uint8), frame)


def test_overlay_video_is_a_playable_mp4(tmp_path):
    frames = track_frames()
    path = tmp_path / "overlay.mp4"
    with OverlayVideo(path, fps=5) as video:
        for f in frames:
            video.write(np.full((H, W, 3), 30, np.uint8), f)
        with pytest.raises(ValueError, match="differs"):
            video.write(np.zeros((H + 2, W, 3), np.uint8))
    cap = cv2.VideoCapture(str(path))
    count = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        assert image.shape == (H, W, 3)
        count += 1
    assert count == len(frames)

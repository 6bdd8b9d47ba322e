"""Tracks as Foxglove ImageAnnotations: outlines that enclose the masks, texts that name the tracks."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.io.image_annotations import (
    LINE_LOOP,
    AnnotationClasses,
    AnnotationStyle,
    build_annotations,
    mask_outlines,
    to_ros_msg,
)
from sam2auto_ros.io.overlay import track_color


def polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def assert_matches_tracks(frame: FrameInstances, msg: Any, tolerance: float = 0.02) -> int:
    """``msg`` (an ImageAnnotations from rclpy, rosbags or mcap's decoder) shows ``frame``: one text
    "id label score" at each visible instance's box corner, and per instance polygons in its colour
    whose area is within ``tolerance`` of the mask's (masks over 100 px), all stamped with the
    frame's stamp. Returns the masks checked."""
    stamps = {(a.timestamp.sec, a.timestamp.nanosec) for a in [*msg.texts, *msg.points]}
    assert stamps <= {divmod(frame.stamp_ns, 1_000_000_000)}
    visible = [i for i in frame.instances if i.status != InstanceStatus.OCCLUDED]
    texts = sorted((t.text, round(t.position.x, 3), round(t.position.y, 3)) for t in msg.texts)
    assert texts == sorted((f"{i.track_id} {i.label} {i.score:.2f}", round(float(i.box[0]), 3), round(float(i.box[1]), 3))
                           for i in visible)
    area_by_colour: dict[tuple, float] = {}
    for poly in msg.points:
        assert poly.type == LINE_LOOP and poly.fill_color.a < 1.0  # a closed, semi-transparent polygon
        colour = tuple(round(c * 255) for c in (poly.fill_color.r, poly.fill_color.g, poly.fill_color.b))
        points = np.array([(p.x, p.y) for p in poly.points])
        area_by_colour[colour] = area_by_colour.get(colour, 0.0) + polygon_area(points)
    checked = 0
    for inst in visible:
        if inst.mask is not None and inst.mask.area > 100:
            drawn = area_by_colour[track_color(inst.track_id)]
            assert abs(drawn - inst.mask.area) <= tolerance * inst.mask.area, (inst.track_id, drawn, inst.mask.area)
            checked += 1
    return checked


def _shapes(height: int = 120, width: int = 160) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    shapes = {}
    for name in ("square", "disk", "ellipse", "diagonal", "l_shape", "blob"):
        m = np.zeros((height, width), np.uint8)
        if name == "square":
            m[10:21, 30:41] = 1
        elif name == "disk":
            cv2.circle(m, (60, 60), 6, 1, -1)
        elif name == "ellipse":
            cv2.ellipse(m, (80, 60), (50, 20), 30, 0, 360, 1, -1)
        elif name == "diagonal":
            for i in range(40):
                m[20 + i, 20 + i : 25 + i] = 1
        elif name == "l_shape":
            m[5:60, 5:15] = 1
            m[50:60, 5:70] = 1
        else:
            noise = cv2.GaussianBlur(rng.random((height, width)), (0, 0), 6) > 0.5
            _, labels = cv2.connectedComponents(noise.astype(np.uint8))
            m = (labels == 1).astype(np.uint8)
        shapes[name] = m.astype(bool)
    return shapes


@pytest.mark.parametrize("name", list(_shapes()))
def test_unsimplified_outlines_enclose_exactly_the_mask(name):
    mask = _shapes()[name]
    outlines = mask_outlines(RleMask.from_array(mask), tolerance_px=0, max_points=100_000)
    assert len(outlines) == 1
    assert polygon_area(outlines[0]) == mask.sum()
    # every vertex is a pixel corner inside the image
    assert np.array_equal(outlines[0], np.rint(outlines[0])) and outlines[0].min() >= 0


@pytest.mark.parametrize("name", list(_shapes()))
def test_default_simplification_keeps_the_area_within_two_percent(name):
    mask = _shapes()[name]
    style = AnnotationStyle()
    outlines = mask_outlines(RleMask.from_array(mask), style.tolerance_px, style.max_points)
    assert mask.sum() > 100
    assert abs(sum(polygon_area(p) for p in outlines) - mask.sum()) <= 0.02 * mask.sum()
    assert all(3 <= len(p) <= style.max_points for p in outlines)


def test_max_points_caps_a_ragged_outline_and_tolerance_trades_points():
    yy, xx = np.mgrid[:200, :200]
    angle = np.arctan2(yy - 100, xx - 100)
    star = np.hypot(yy - 100, xx - 100) < 60 + 25 * np.sin(40 * angle)  # 40 spikes
    rle = RleMask.from_array(star)
    full = mask_outlines(rle, 0.5, 100_000)[0]
    capped = mask_outlines(rle, 0.5, 24)[0]
    coarse = mask_outlines(rle, 4.0, 100_000)[0]
    assert len(capped) <= 24 < len(full)
    assert len(coarse) < len(full)


def test_pieces_get_one_outline_each_and_empty_masks_none():
    mask = np.zeros((50, 50), bool)
    mask[5:15, 5:15] = mask[30:45, 20:40] = True
    outlines = mask_outlines(RleMask.from_array(mask), 0.5, 64)
    assert sorted(polygon_area(p) for p in outlines) == [100.0, 300.0]
    assert mask_outlines(RleMask.empty(50, 50), 0.5, 64) == []


def _frame() -> FrameInstances:
    shapes = _shapes()
    return FrameInstances(stamp_ns=5_000_000_123, height=120, width=160, frame_id="cam", instances=(
        Instance.from_mask_array(shapes["ellipse"], label="car", score=0.91, track_id=3),
        Instance.from_mask_array(shapes["l_shape"], label="person", score=0.5, track_id=7, status=InstanceStatus.TENTATIVE),
        Instance.from_mask_array(shapes["disk"], label="dog", score=0.7, track_id=9, status=InstanceStatus.OCCLUDED),
    ))


def test_the_rosbags_message_shows_each_visible_track_and_skips_occluded_ones():
    frame = _frame()
    msg = to_ros_msg(build_annotations(frame), AnnotationClasses.rosbags())
    assert assert_matches_tracks(frame, msg) == 2
    assert {t.text for t in msg.texts} == {"3 car 0.91", "7 person 0.50"}
    assert all((t.timestamp.sec, t.timestamp.nanosec) == (5, 123) for t in [*msg.texts, *msg.points])
    assert msg.circles == []


def test_bad_style_values_are_refused_with_their_names():
    with pytest.raises(ValueError, match="max_points"):
        AnnotationStyle(max_points=2)
    with pytest.raises(ValueError, match="tolerance_px"):
        AnnotationStyle(tolerance_px=-1)

"""Tracks as Foxglove image annotations: each mask's outer contours as filled polygons in the
track's colour, and an "id label score" text at its box corner.

Foxglove draws these over the camera image, so people see masks and ids without a rendered overlay
image. One builder (``build_annotations``) serves the live node, annotate-bag and the viewer; the
two message forms (ROS 2 ``foxglove_msgs/msg/ImageAnnotations`` for rclpy or rosbags, and the
Foxglove SDK's schema) are thin conversions of its result. Never imports rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.overlay import track_color

RGBA = tuple[float, float, float, float]
LINE_LOOP = 2  # foxglove PointsAnnotation.LINE_LOOP: a closed polygon
TEXT_COLOR: RGBA = (1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class AnnotationStyle:
    """How masks become polygons. ``tolerance_px`` is the Douglas-Peucker distance a simplified
    outline may stray from the mask's pixel boundary; ``max_points`` caps each polygon (the
    tolerance grows until it fits), which bounds the message size for large ragged masks."""

    tolerance_px: float = 0.5
    max_points: int = 64
    fill_alpha: float = 0.35
    thickness_px: float = 2.0
    font_size_px: float = 14.0

    def __post_init__(self) -> None:
        if not self.tolerance_px >= 0:
            raise ValueError(f"annotation tolerance_px must be >= 0, got {self.tolerance_px}")
        if self.max_points < 3:
            raise ValueError(f"annotation max_points must be >= 3 (a polygon), got {self.max_points}")
        if not 0 <= self.fill_alpha <= 1:
            raise ValueError(f"annotation fill_alpha must be in [0, 1], got {self.fill_alpha}")


DEFAULT_STYLE = AnnotationStyle()


@dataclass(frozen=True)
class Polygon:
    points: np.ndarray  # (N, 2) float x, y in pixels; origin at the top-left pixel's top-left corner
    outline: RGBA
    fill: RGBA


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    background: RGBA


@dataclass(frozen=True)
class FrameAnnotations:
    stamp_ns: int
    polygons: tuple[Polygon, ...]
    labels: tuple[Label, ...]


def mask_outlines(mask: RleMask, tolerance_px: float, max_points: int) -> list[np.ndarray]:
    """The mask's outer contours on its pixel boundary (a lone pixel is the unit square), simplified.

    OpenCV traces pixel centres, which would shrink every outline by half a pixel (a 10x10 mask
    would enclose 81 px). Tracing the mask upsampled 2x and rounding puts each vertex on the pixel
    corner it is a quarter pixel from, so the unsimplified polygon encloses exactly the mask's area.
    """
    x0, y0, x1, y1 = (int(v) for v in mask.box_xyxy())
    if x1 <= x0 or y1 <= y0:
        return []
    crop = mask.window(x0, y0, x1, y1).astype(np.uint8)
    doubled = np.kron(crop, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = []
    for contour in contours:
        corners = np.rint((contour[:, 0, :].astype(np.float64) + 0.5) / 2.0)
        simple = _simplify(corners, tolerance_px, max_points)
        if len(simple) >= 3:
            outlines.append(simple + np.array([x0, y0], np.float64))
    return outlines


def _simplify(corners: np.ndarray, tolerance_px: float, max_points: int) -> np.ndarray:
    # Consecutive duplicates appear where rounding merges two upsampled vertices on one corner.
    keep = np.any(corners != np.roll(corners, 1, axis=0), axis=1)
    corners = corners[keep] if keep.any() else corners[:1]
    curve = corners.astype(np.float32).reshape(-1, 1, 2)
    tolerance = tolerance_px
    while True:
        simple = cv2.approxPolyDP(curve, tolerance, closed=True) if tolerance > 0 else curve
        if len(simple) <= max_points:
            return simple[:, 0, :].astype(np.float64)
        tolerance = max(tolerance * 1.5, 0.5)


def _caption(inst: Instance) -> str:
    ident = f"{inst.track_id} " if inst.has_track else ""
    return f"{ident}{inst.label or '?'} {inst.score:.2f}"


def build_annotations(frame: FrameInstances, style: AnnotationStyle = DEFAULT_STYLE) -> FrameAnnotations:
    """Polygons and labels for every visible instance of ``frame`` (occluded tracks are skipped,
    as in the overlay image)."""
    polygons: list[Polygon] = []
    labels: list[Label] = []
    for inst in frame.instances:
        if inst.status == InstanceStatus.OCCLUDED:
            continue
        r, g, b = (c / 255.0 for c in track_color(inst.track_id))
        if inst.mask is not None:
            for points in mask_outlines(inst.mask, style.tolerance_px, style.max_points):
                polygons.append(Polygon(points, (r, g, b, 1.0), (r, g, b, style.fill_alpha)))
        labels.append(Label(float(inst.box[0]), float(inst.box[1]), _caption(inst), (r, g, b, 0.8)))
    return FrameAnnotations(frame.stamp_ns, tuple(polygons), tuple(labels))


@dataclass(frozen=True)
class AnnotationClasses:
    """The ``foxglove_msgs`` classes of one message library (rclpy's generated ones or rosbags')."""

    image_annotations: type
    points_annotation: type
    text_annotation: type
    point2: type
    color: type
    time: type

    @classmethod
    def rosbags(cls) -> AnnotationClasses:
        types = msg_types.typestore().types
        fox = f"{msg_types.FOXGLOVE_PACKAGE}/msg"
        return cls(types[msg_types.IMAGE_ANNOTATIONS], types[f"{fox}/PointsAnnotation"],
                   types[f"{fox}/TextAnnotation"], types[f"{fox}/Point2"], types[f"{fox}/Color"],
                   types["builtin_interfaces/msg/Time"])

    @classmethod
    def from_module(cls, module: Any, time: type) -> AnnotationClasses:
        """From an imported ``foxglove_msgs.msg`` module."""
        return cls(module.ImageAnnotations, module.PointsAnnotation, module.TextAnnotation,
                   module.Point2, module.Color, time)


def to_ros_msg(annotations: FrameAnnotations, classes: AnnotationClasses, style: AnnotationStyle = DEFAULT_STYLE) -> Any:
    """A ``foxglove_msgs/msg/ImageAnnotations`` stamped with the source frame's stamp."""
    sec, nanosec = divmod(int(annotations.stamp_ns), 1_000_000_000)

    def stamp() -> Any:
        return classes.time(sec=sec, nanosec=nanosec)

    def color(rgba: RGBA) -> Any:
        return classes.color(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])

    points = [
        classes.points_annotation(
            timestamp=stamp(), type=LINE_LOOP,
            points=[classes.point2(x=float(x), y=float(y)) for x, y in poly.points],
            outline_color=color(poly.outline), outline_colors=[], fill_color=color(poly.fill),
            thickness=style.thickness_px,
        )
        for poly in annotations.polygons
    ]
    texts = [
        classes.text_annotation(
            timestamp=stamp(), position=classes.point2(x=label.x, y=label.y), text=label.text,
            font_size=style.font_size_px, text_color=color(TEXT_COLOR), background_color=color(label.background),
        )
        for label in annotations.labels
    ]
    return classes.image_annotations(circles=[], points=points, texts=texts)

"""A Foxglove WebSocket server showing one camera with its tracks (the Foxglove SDK's own server:
pip-only installs have no foxglove_bridge or rviz2).

Topics it serves, all stamped with the source frame's stamp:

* ``/sam2auto/view/image/compressed`` (``foxglove.CompressedImage``): the camera, JPEG or PNG as
  the source had it, raw frames encoded to JPEG;
* ``/sam2auto/view/tracks_annotations`` (``foxglove.ImageAnnotations``): the masks' outlines and
  "id label score", built by :func:`~sam2auto_ros.io.image_annotations.build_annotations`;
* ``/sam2auto/view/tracks`` (JSON): the track list of the frame (id, label, score, status, box);
* ``/sam2auto/view/log`` (``foxglove.Log``): what the viewer has to say, e.g. that a bag has no tracks.

It listens on loopback unless told otherwise. Never imports rclpy.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import foxglove
import numpy as np
from foxglove.channels import CompressedImageChannel, ImageAnnotationsChannel, LogChannel
from foxglove.messages import (
    Color,
    CompressedImage,
    ImageAnnotations,
    Log,
    LogLevel,
    Point2,
    PointsAnnotation,
    PointsAnnotationType,
    TextAnnotation,
    Timestamp,
)
from foxglove.websocket import ServerListener

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.io.image_annotations import (
    DEFAULT_STYLE,
    RGBA,
    TEXT_COLOR,
    AnnotationStyle,
    FrameAnnotations,
    build_annotations,
)
from sam2auto_ros.io.images import encode_compressed

PREFIX = "/sam2auto/view"
IMAGE_TOPIC = f"{PREFIX}/image/compressed"
ANNOTATIONS_TOPIC = f"{PREFIX}/tracks_annotations"
TRACKS_TOPIC = f"{PREFIX}/tracks"
LOG_TOPIC = f"{PREFIX}/log"
DEFAULT_PORT = 8765
TRACKS_SCHEMA_NAME = "sam2auto.TrackList"
TRACKS_SCHEMA = {
    "type": "object",
    "properties": {
        "stamp_ns": {"type": "integer"},
        "note": {"type": "string"},
        "tracks": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "label": {"type": "string"}, "score": {"type": "number"},
            "status": {"type": "string"}, "box": {"type": "array", "items": {"type": "number"}},
        }}},
    },
}


class ViewerError(RuntimeError):
    """The viewer cannot start or show its source (port taken, unreadable bag, ...)."""


@dataclass(frozen=True)
class Frame:
    """One camera frame as the viewer receives it: encoded bytes, or RGB pixels to encode."""

    stamp_ns: int
    frame_id: str
    rgb: np.ndarray | None = None
    data: bytes = b""
    format: str = "jpeg"


def _stamp(ns: int) -> Timestamp:
    sec, nsec = divmod(int(ns), 1_000_000_000)
    return Timestamp(sec=sec, nsec=nsec)


def _color(rgba: RGBA) -> Color:
    return Color(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])


def to_foxglove(annotations: FrameAnnotations, style: AnnotationStyle) -> ImageAnnotations:
    """The SDK's ``ImageAnnotations`` for what :func:`build_annotations` made."""
    stamp = _stamp(annotations.stamp_ns)
    points = [
        PointsAnnotation(timestamp=stamp, type=PointsAnnotationType.LineLoop,
                         points=[Point2(x=float(x), y=float(y)) for x, y in poly.points],
                         outline_color=_color(poly.outline), fill_color=_color(poly.fill), thickness=style.thickness_px)
        for poly in annotations.polygons
    ]
    texts = [
        TextAnnotation(timestamp=stamp, position=Point2(x=label.x, y=label.y), text=label.text,
                       font_size=style.font_size_px, text_color=_color(TEXT_COLOR),
                       background_color=_color(label.background))
        for label in annotations.labels
    ]
    return ImageAnnotations(points=points, texts=texts)


def track_list(frame: FrameInstances | None, stamp_ns: int, note: str = "") -> dict[str, Any]:
    tracks = [] if frame is None else [
        {"id": i.track_id, "label": i.label, "score": round(float(i.score), 4), "status": i.status.name.lower(),
         "box": [round(float(v), 2) for v in i.box]}
        for i in frame.instances
    ]
    out: dict[str, Any] = {"stamp_ns": int(stamp_ns), "tracks": tracks}
    if note:
        out["note"] = note
    return out


class _Subscriptions(ServerListener):
    """Which topics clients are subscribed to (the SDK's ServerListener protocol)."""

    def __init__(self) -> None:
        self.topics: Counter[str] = Counter()
        self.changed = threading.Condition()

    def on_subscribe(self, client: Any, channel: Any) -> None:
        with self.changed:
            self.topics[channel.topic] += 1
            self.changed.notify_all()

    def on_unsubscribe(self, client: Any, channel: Any) -> None:
        with self.changed:
            self.topics[channel.topic] -= 1
            self.changed.notify_all()


class Viewer:
    """The server and its four channels, in a Foxglove context of its own."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, style: AnnotationStyle = DEFAULT_STYLE,
                 name: str = "sam2auto view") -> None:
        self.style = style
        self._context = foxglove.Context()
        self._image = CompressedImageChannel(IMAGE_TOPIC, context=self._context)
        self._annotations = ImageAnnotationsChannel(ANNOTATIONS_TOPIC, context=self._context)
        self._tracks = foxglove.Channel(TRACKS_TOPIC, message_encoding="json", context=self._context,
                                        schema=foxglove.Schema(name=TRACKS_SCHEMA_NAME, encoding="jsonschema",
                                                               data=json.dumps(TRACKS_SCHEMA).encode()))
        self._log = LogChannel(LOG_TOPIC, context=self._context)
        self._subscriptions = _Subscriptions()
        try:
            self._server = foxglove.start_server(name=name, host=host, port=port, context=self._context,
                                                 server_listener=self._subscriptions)
        except RuntimeError as exc:
            raise ViewerError(f"cannot serve Foxglove on {host}:{port}: {exc}; choose another port with --port "
                              "(0 picks a free one)") from None
        self.host = host
        self.port = int(self._server.port)
        self.note = ""

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def wait_for_subscribers(self, topics: tuple[str, ...] = (IMAGE_TOPIC,), timeout: float | None = None) -> bool:
        """Block until a client is subscribed to every topic of ``topics`` (a bag is played to
        someone, not to an empty room); False on timeout."""
        with self._subscriptions.changed:
            return self._subscriptions.changed.wait_for(
                lambda: all(self._subscriptions.topics[t] > 0 for t in topics), timeout)

    def say(self, text: str, stamp_ns: int, level: LogLevel = LogLevel.Warning) -> None:
        """A message for the person looking (Foxglove's Log panel); it also goes in every track list."""
        self.note = text
        self._log.log(Log(timestamp=_stamp(stamp_ns), level=level, message=text, name="sam2auto view"), log_time=stamp_ns)

    def show_image(self, frame: Frame) -> None:
        """Publish a camera frame (Foxglove pairs it with the annotations of its stamp). While
        there is a note, an empty track list carrying it goes with every frame."""
        data, fmt = frame.data, frame.format
        if frame.rgb is not None:
            fmt, encoded = encode_compressed(frame.rgb, "jpeg")
            data = encoded.tobytes()
        ts = frame.stamp_ns
        self._image.log(CompressedImage(timestamp=_stamp(ts), frame_id=frame.frame_id, data=data, format=fmt), log_time=ts)
        if self.note:
            self._tracks.log(track_list(None, ts, self.note), log_time=ts)

    def show_tracks(self, tracks: FrameInstances) -> None:
        """Publish a frame's annotations and track list, stamped with the frame's stamp."""
        ts = tracks.stamp_ns
        self._annotations.log(to_foxglove(build_annotations(tracks, self.style), self.style), log_time=ts)
        self._tracks.log(track_list(tracks, ts), log_time=ts)

    def close(self) -> None:
        self._server.stop()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

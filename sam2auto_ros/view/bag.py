"""Playing a labelled bag into the viewer at the bag's own rate (or a multiple of it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam2auto_ros.export.common import ExportError
from sam2auto_ros.export.from_bag import IMAGE_TYPES, select_cameras
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagError, BagMessage, open_reader, read_messages
from sam2auto_ros.io.camera_topics import is_overlay
from sam2auto_ros.io.images import image_to_array, to_rgb
from sam2auto_ros.io.instance_msgs import frame_from_msg, stamp_to_ns
from sam2auto_ros.view.server import Frame, Viewer, ViewerError


@dataclass(frozen=True)
class BagView:
    """What a bag shows: one camera's frames and, when the bag has them, its tracks."""

    image_topic: str
    tracks_topic: str | None


def choose_topics(bag: str | Path, camera: str | None = None) -> BagView:
    """The camera (and its tracks) to show; one clear ``ViewerError`` when there is no single one."""
    try:
        reader = open_reader(bag)
    except BagError as exc:
        raise ViewerError(str(exc)) from None
    topics = {c.topic: c.msgtype for c in reader.connections}
    reader.close()
    images = sorted(t for t, ty in topics.items() if ty in IMAGE_TYPES and not is_overlay(t, ty))
    if not images:
        raise ViewerError(f"bag {bag} has no camera topic (sensor_msgs Image or CompressedImage); nothing to show")
    if any(ty == msg_types.INSTANCE_MASK_ARRAY and t.rsplit("/", 1)[-1] == "tracks" for t, ty in topics.items()):
        try:
            cameras = select_cameras(bag, camera, all_cameras=camera is None)
        except ExportError as exc:
            raise ViewerError(str(exc)) from None
        if len(cameras) > 1:
            listed = "; ".join(c.describe() for c in cameras)
            raise ViewerError(f"bag {bag} holds the tracks of {len(cameras)} cameras: {listed}; choose one with --camera NAME")
        if cameras[0].image_topic is not None:
            return BagView(cameras[0].image_topic, cameras[0].tracks_topic)
    chosen = [t for t in images if camera in (None, t) or (camera and t.startswith(f"/{camera.strip('/')}/"))]
    if len(chosen) != 1:
        raise ViewerError(f"bag {bag} has {'several cameras' if chosen else f'no camera {camera}'}: {', '.join(images)}; "
                          "choose one with --camera TOPIC")
    return BagView(chosen[0], None)


def _frame(message: BagMessage) -> Frame:
    msg = message.decode()
    stamp = stamp_to_ns(msg.header.stamp)
    if message.msgtype == msg_types.COMPRESSED_IMAGE:
        fmt = "png" if "png" in str(msg.format).lower() else "jpeg"
        return Frame(stamp, str(msg.header.frame_id), data=bytes(msg.data), format=fmt)
    return Frame(stamp, str(msg.header.frame_id), rgb=to_rgb(*image_to_array(msg)))


def play_bag(viewer: Viewer, bag: str | Path, view: BagView, rate: float = 1.0, stop: threading.Event | None = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] = time.sleep) -> int:
    """Show every frame of ``view`` and its tracks, paced by the bag's receive times divided by
    ``rate`` (0: as fast as possible). Returns the frames shown."""
    if view.tracks_topic is None:
        viewer.say(f"bag {bag} has no tracks: showing the camera {view.image_topic} only. "
                   "Label it with `sam2auto annotate-bag` to see masks and ids.", time.time_ns())
    topics = [view.image_topic] + ([view.tracks_topic] if view.tracks_topic else [])
    stop = stop or threading.Event()
    shown = 0
    start, first = clock(), None
    try:
        for message in read_messages(bag, topics):
            if stop.is_set():
                break
            first = message.timestamp_ns if first is None else first
            if rate > 0:
                delay = start + (message.timestamp_ns - first) / 1e9 / rate - clock()
                if delay > 0:
                    sleep(delay)
            if message.topic == view.image_topic:
                viewer.show_image(_frame(message))
                shown += 1
            else:
                viewer.show_tracks(frame_from_msg(message.decode()))
    except BagError as exc:
        raise ViewerError(str(exc)) from None
    return shown

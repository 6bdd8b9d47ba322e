"""Datasets from an annotated (or live-recorded) bag: tracks, frames and the label map read back.

The tracks topic is found by name (``/sam2auto/annotated/tracks`` from the offline annotator,
then ``/sam2auto/tracks`` from the live recorder, then any ``.../tracks`` InstanceMaskArray
topic); the label map comes from ``--classes``, else the bag's metadata, else the labels seen.
Frames are paired with tracks by header stamp, so a dataset's images are the frames the masks
were made on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.export import FORMATS, Categories, ExportError, export_tracks
from sam2auto_ros.export.coco import frame_file_name
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import open_reader, read_messages
from sam2auto_ros.io.images import ImageError, decode_compressed, image_to_array, to_rgb
from sam2auto_ros.io.instance_msgs import frame_from_msg, stamp_to_ns
from sam2auto_ros.io.overlay import OverlayVideo

TRACK_TOPICS = ("/sam2auto/annotated/tracks", "/sam2auto/tracks")
IMAGE_TYPES = (msg_types.IMAGE, msg_types.COMPRESSED_IMAGE)


@dataclass
class BagTracks:
    frames: list[FrameInstances]
    tracks_topic: str
    image_topic: str | None
    categories: Categories


def bag_custom_data(bag: str | Path) -> dict[str, str]:
    """The ``custom_data`` of a bag's metadata.yaml (rosbags' reader does not expose it)."""
    path = Path(bag) / "metadata.yaml"
    if not path.is_file():
        return {}
    info = yaml.safe_load(path.read_text()).get("rosbag2_bagfile_information", {})
    return dict(info.get("custom_data") or {})


def _label_map(custom: dict[str, str]) -> list[str] | None:
    for key in ("classes", "labels"):
        if key in custom:
            try:
                names = json.loads(custom[key])
            except json.JSONDecodeError:
                continue
            if isinstance(names, list) and names:
                return [str(n) for n in names]
    return None


def load_tracks(bag: str | Path, tracks_topic: str | None = None, classes: Sequence[str] | None = None) -> BagTracks:
    """Every frame of tracks in the bag, in order, with where they came from."""
    reader = open_reader(bag)
    topics = {c.topic: c.msgtype for c in reader.connections}
    reader.close()
    arrays = sorted(t for t, ty in topics.items() if ty == msg_types.INSTANCE_MASK_ARRAY)
    if tracks_topic is None:
        found = [t for t in TRACK_TOPICS if t in topics] or [t for t in arrays if t.rsplit("/", 1)[-1] == "tracks"]
        if not found:
            raise ExportError(f"bag {bag} has no tracks topic (InstanceMaskArray topics: {', '.join(arrays) or 'none'}); "
                              "annotate it first with `sam2auto annotate-bag` or name one with --tracks-topic")
        tracks_topic = found[0]
    elif topics.get(tracks_topic) != msg_types.INSTANCE_MASK_ARRAY:
        raise ExportError(f"{tracks_topic} is not an InstanceMaskArray topic of bag {bag} (those: {', '.join(arrays) or 'none'})")
    frames = []
    for n, message in enumerate(read_messages(bag, [tracks_topic])):
        try:
            frame = frame_from_msg(message.decode())
        except (MaskCodecError, ValueError) as exc:
            raise ExportError(f"message {n} on {tracks_topic} is corrupt: {exc}") from exc
        frames.append(FrameInstances(frame.stamp_ns, frame.height, frame.width, frame.instances, frame.frame_id, n))
    if not frames:
        raise ExportError(f"{tracks_topic} in bag {bag} has no messages")
    custom = bag_custom_data(bag)
    names = list(classes) if classes else _label_map(custom)
    categories = Categories(names) if names else Categories.from_frames(frames)
    image_topic = custom.get("image_topic")
    if image_topic not in topics:
        images = [t for t, ty in topics.items() if ty in IMAGE_TYPES and not t.endswith("/overlay")]
        image_topic = images[0] if len(images) == 1 else None
    return BagTracks(frames, tracks_topic, image_topic, categories)


def _frames_by_stamp(bag: str | Path, topic: str, stamps: set[int]):
    """``(stamp, rgb)`` of every image on ``topic`` whose header stamp is in ``stamps``."""
    for message in read_messages(bag, [topic]):
        msg = message.decode()
        stamp = stamp_to_ns(msg.header.stamp)
        if stamp not in stamps:
            continue
        try:
            rgb = decode_compressed(msg) if message.msgtype == msg_types.COMPRESSED_IMAGE else to_rgb(*image_to_array(msg))
        except ImageError as exc:
            raise ExportError(f"frame at {stamp} on {topic} cannot be decoded: {exc}") from exc
        yield stamp, rgb


def export_bag(
    bag: str | Path,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    *,
    tracks_topic: str | None = None,
    classes: Sequence[str] | None = None,
    images: bool = True,
    video: bool = True,
    fps: float | None = None,
    video_name: str = "video",
) -> dict[str, Path]:
    """Write the bag's tracks in ``formats`` (and the frames as JPEGs, and an overlay mp4) to ``out_dir``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    loaded = load_tracks(bag, tracks_topic, classes)
    out_dir = Path(out_dir)
    written = {fmt: export_tracks(loaded.frames, out_dir, fmt, loaded.categories, video_name) for fmt in formats}
    if (images or video) and loaded.image_topic is None:
        raise ExportError(f"bag {bag} has no single camera topic to take frames from; export with --no-images --no-video")
    if images or video:
        by_stamp = {f.stamp_ns: n for n, f in enumerate(loaded.frames)}
        stamps = [f.stamp_ns for f in loaded.frames]
        rate = fps or (1e9 * (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 10.0)
        overlay = OverlayVideo(out_dir / "overlay.mp4", fps=rate) if video else None
        saved = 0
        try:
            for stamp, rgb in _frames_by_stamp(bag, loaded.image_topic, set(by_stamp)):
                n = by_stamp[stamp]
                if images:
                    path = out_dir / "images" / frame_file_name(n, video_name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
                if overlay is not None:
                    overlay.write(rgb, loaded.frames[n])
                saved += 1
        finally:
            if overlay is not None:
                overlay.close()
        if saved != len(loaded.frames):
            raise ExportError(f"{len(loaded.frames) - saved} of {len(loaded.frames)} track frames have no image with their "
                              f"stamp on {loaded.image_topic}")
        if images:
            written["images"] = out_dir / "images"
        if overlay is not None:
            written["video"] = overlay.path
    return written

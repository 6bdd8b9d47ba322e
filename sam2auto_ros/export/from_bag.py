"""Datasets from an annotated (or live-recorded) bag: tracks, frames and the label map read back.

Cameras. Every InstanceMaskArray topic named ``.../tracks`` is one camera's tracks; its frames come
from the image topic the bag's metadata links it to (``annotate-bag`` writes the ``cameras`` map:
image topic -> its annotation topics, because its output namespace is not the camera's), else the
image topic beside it (``<ns>/image`` or ``<ns>/image/compressed``, as the live recorder writes
``<ns>/front/image`` next to ``<ns>/front/tracks``; else the one image topic in ``<ns>``), else the
bag's one camera topic (metadata ``image_topic``, else its only image topic). Tracks topics that
take their frames from one image topic are ONE camera (a live recording annotated offline): the
annotator's tracks are exported, then ``/sam2auto/annotated/tracks``, ``/sam2auto/tracks``, then
the first by name. A camera is named after its namespace's last part (``/front/image`` ->
``front``; the whole namespace, ``/`` -> ``_``, where last parts repeat).

Which camera: a bag with one is exported as before. With several, ``camera`` (the image topic,
the namespace or the name: ``/front/image``, ``/front``, ``front``) or ``tracks_topic`` chooses one
(nothing is written without a choice), or ``all_cameras`` writes them all as ONE dataset with a
video per camera (see ``export_videos``; a bag with one camera gets the one-camera layout). A video
is named after its camera unless ``video_name`` says otherwise (one-camera bags: ``video``, as before).

The label map comes from ``classes``, else the bag's metadata followed by any other label seen. Frames are
paired with tracks by header stamp, so a dataset's images are the frames the masks were made on.

All or nothing: cameras, tracks (decoded) and the image stamps of every track frame are checked
before anything is written; the dataset is then written into a scratch folder next to ``out_dir``
and renamed into place when complete (:func:`sam2auto_ros.io.outputs.staged_output`), so a failure,
Ctrl-C, SIGTERM or a full disk leaves nothing at ``out_dir``. An ``out_dir`` that exists must be an
empty folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.core.validation import ValidationError, check_fps
from sam2auto_ros.export import FORMATS, Categories, ExportError, export_tracks, export_videos
from sam2auto_ros.export.coco import frame_file_name
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import DAMAGED_BAG_ERRORS, BagMessage, open_reader, read_messages
from sam2auto_ros.io.camera_topics import camera_namespace, is_overlay
from sam2auto_ros.io.images import ImageError, decode_compressed, image_to_array, to_rgb
from sam2auto_ros.io.instance_msgs import frame_from_msg, stamp_to_ns
from sam2auto_ros.io.outputs import staged_output
from sam2auto_ros.io.overlay import OverlayVideo

TRACK_TOPICS = ("/sam2auto/annotated/tracks", "/sam2auto/tracks")
IMAGE_TYPES = (msg_types.IMAGE, msg_types.COMPRESSED_IMAGE)
TRACKS_NAME = "tracks"
ONE_VIDEO_NAME = "video"


@dataclass(frozen=True)
class BagCamera:
    """One camera of a bag: the tracks exported for it and the image topic its frames come from."""

    name: str  # the video's name in a dataset of several cameras
    namespace: str
    image_topic: str | None
    tracks_topic: str
    other_tracks: tuple[str, ...] = ()  # more tracks topics of this camera (e.g. the live graph's)
    video_name: str = ONE_VIDEO_NAME  # default video name: ``name`` when the bag has several cameras

    def describe(self) -> str:
        return f"{self.name} (tracks {self.tracks_topic}, frames {self.image_topic or 'none found'})"


@dataclass
class BagTracks:
    frames: list[FrameInstances]
    tracks_topic: str
    image_topic: str | None
    categories: Categories
    camera: BagCamera

    def frames_topic(self) -> str:
        """The image topic the tracks were made on, for exports that need the frames."""
        if self.image_topic is None:
            which = f" for camera {self.camera.name}" if self.camera.video_name != ONE_VIDEO_NAME else ""
            raise ExportError(f"no single camera topic beside {self.tracks_topic} to take frames from{which}; "
                              "export with --no-images --no-video")
        return self.image_topic


def bag_custom_data(bag: str | Path) -> dict[str, str]:
    """The ``custom_data`` of a bag's metadata.yaml (rosbags' reader does not expose it)."""
    path = Path(bag) / "metadata.yaml"
    if not path.is_file():
        return {}
    info = yaml.safe_load(path.read_text()).get("rosbag2_bagfile_information", {})
    return dict(info.get("custom_data") or {})


def _json(text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _label_map(custom: dict[str, str]) -> list[str] | None:
    for key in ("classes", "labels"):
        names = _json(custom.get(key))
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    return None


def _parent(topic: str) -> str:
    return topic.rsplit("/", 1)[0]


class _Bag:
    """A bag's topics and metadata, and the links from annotation topics to the image topics they were made on."""

    def __init__(self, path: str | Path) -> None:
        reader = open_reader(path)
        self.topics = {c.topic: c.msgtype for c in reader.connections}
        reader.close()
        self.custom = bag_custom_data(path)
        self.images = sorted(t for t, ty in self.topics.items() if ty in IMAGE_TYPES and not is_overlay(t, ty))
        pairs: list[tuple[Any, Any]] = []
        cameras = _json(self.custom.get("cameras"))
        if isinstance(cameras, dict):
            pairs += cameras.items()
        single = _json(self.custom.get("annotation_topics"))
        if isinstance(single, dict):
            pairs.append((self.custom.get("image_topic"), single))
        self.links = {topic: image for image, outs in pairs if image in self.images and isinstance(outs, dict)
                      for topic in outs.values() if isinstance(topic, str)}

    def namespace(self, image_topic: str) -> str:
        """The camera an image topic belongs to: ``/front/image`` and ``/front/image/compressed`` -> ``/front``."""
        return camera_namespace(image_topic, self.topics[image_topic])

    def arrays(self) -> list[str]:
        return sorted(t for t, ty in self.topics.items() if ty == msg_types.INSTANCE_MASK_ARRAY)

    def image_for(self, topic: str) -> str | None:
        """The image topic an annotation topic's frames come from (None: no single one)."""
        if topic in self.links:
            return self.links[topic]
        ns = _parent(topic)
        beside = [t for t in self.images if self.namespace(t) == ns]
        for name in (f"{ns}/image", f"{ns}/image/compressed"):
            if name in beside:
                return name
        if len(beside) == 1:
            return beside[0]
        if self.custom.get("image_topic") in self.topics:
            return self.custom["image_topic"]
        return self.images[0] if len(self.images) == 1 else None

    def cameras(self) -> list[BagCamera]:
        """Every camera with tracks, ordered by namespace."""
        tracks = [t for t in self.arrays() if t.rsplit("/", 1)[-1] == TRACKS_NAME]
        tracks.sort(key=lambda t: (t not in self.links, TRACK_TOPICS.index(t) if t in TRACK_TOPICS else len(TRACK_TOPICS), t))
        groups: dict[str, tuple[str | None, list[str]]] = {}  # image topic (else the tracks topic) -> its tracks
        for topic in tracks:
            image = self.image_for(topic)
            groups.setdefault(image or topic, (image, []))[1].append(topic)
        found = []
        for image, topics in groups.values():
            ns = self.namespace(image) if image is not None else _parent(topics[0])
            found.append(BagCamera("", ns, image, topics[0], tuple(topics[1:])))
        found.sort(key=lambda c: (c.namespace, c.image_topic or "", c.tracks_topic))
        names = _camera_names([c.namespace for c in found])
        several = len(found) > 1
        return [replace(c, name=n, video_name=n if several else ONE_VIDEO_NAME) for c, n in zip(found, names)]


def _camera_names(namespaces: list[str]) -> list[str]:
    """The namespace's last part where no other camera's has it, else the namespace with ``/`` -> ``_``."""
    last = [ns.rsplit("/", 1)[-1] for ns in namespaces]
    names = [part if part and last.count(part) == 1 else ns.strip("/").replace("/", "_") or "root"
             for ns, part in zip(namespaces, last)]
    return names if len(set(names)) == len(names) else [f"{n}_{i}" for i, n in enumerate(names, 1)]


def select_cameras(
    bag: str | Path, camera: str | None = None, tracks_topic: str | None = None, all_cameras: bool = False,
) -> list[BagCamera]:
    """The cameras an export writes, from the bag's topics and metadata alone (no message is read).

    Refuses (``ExportError``) a bag with several cameras when none is chosen, listing them.
    """
    if all_cameras and (camera or tracks_topic):
        raise ExportError("choose one camera with --camera / --tracks-topic or export every camera with --all-cameras, not both")
    info = _Bag(bag)
    cameras = info.cameras()
    listed = "; ".join(c.describe() for c in cameras)
    chosen = _match(bag, cameras, camera) if camera else None
    if tracks_topic is not None:
        if info.topics.get(tracks_topic) != msg_types.INSTANCE_MASK_ARRAY:
            raise ExportError(f"{tracks_topic} is not an InstanceMaskArray topic of bag {bag} (those: {', '.join(info.arrays()) or 'none'})")
        image = info.image_for(tracks_topic)
        owner = next((c for c in cameras if tracks_topic in (c.tracks_topic, *c.other_tracks)), None)
        owner = owner or next((c for c in cameras if image is not None and c.image_topic == image), None)
        if chosen is None:
            namespace = info.namespace(image) if image is not None else _parent(tracks_topic)
            name = namespace.rsplit("/", 1)[-1] or "root"
            base = owner or BagCamera(name, namespace, image, tracks_topic, video_name=name if len(cameras) > 1 else ONE_VIDEO_NAME)
            return [replace(base, tracks_topic=tracks_topic, other_tracks=())]
        if owner is not None and owner.name != chosen.name:
            raise ExportError(f"--tracks-topic {tracks_topic} belongs to camera {owner.describe()}, not to --camera {camera}")
        return [replace(chosen, tracks_topic=tracks_topic, other_tracks=())]
    if chosen is not None:
        return [chosen]
    if not cameras:
        raise ExportError(f"bag {bag} has no tracks topic (InstanceMaskArray topics: {', '.join(info.arrays()) or 'none'}); "
                          "annotate it first with `sam2auto annotate-bag` or name one with --tracks-topic")
    if len(cameras) > 1 and not all_cameras:
        raise ExportError(f"bag {bag} holds the tracks of {len(cameras)} cameras: {listed}; choose one with --camera NAME "
                          "(or --tracks-topic TOPIC), or export every camera into one dataset with --all-cameras")
    return cameras


def _match(bag: str | Path, cameras: list[BagCamera], wanted: str) -> BagCamera:
    """The camera ``wanted`` names: its image topic, its namespace (``/front``) or its name (``front``)."""
    found = [c for c in cameras
             if wanted in (c.image_topic, c.namespace) or f"/{wanted.strip('/')}" == c.namespace or wanted.strip("/") == c.name]
    if len(found) != 1:
        have = "; ".join(c.describe() for c in cameras) or "none"
        what = "matches several cameras" if found else "is not a camera with tracks"
        raise ExportError(f"--camera {wanted} {what} in bag {bag}; its cameras: {have}")
    return found[0]


def _read_tracks(bag: str | Path, topic: str) -> list[FrameInstances]:
    frames = []
    for n, message in enumerate(read_messages(bag, [topic])):
        try:
            frame = frame_from_msg(message.decode())
        except (MaskCodecError, *DAMAGED_BAG_ERRORS) as exc:
            raise ExportError(f"message {n} on {topic} is corrupt: {exc}") from exc
        frames.append(FrameInstances(frame.stamp_ns, frame.height, frame.width, frame.instances, frame.frame_id, n))
    if not frames:
        raise ExportError(f"{topic} in bag {bag} has no messages")
    return frames


def _categories(bag: str | Path, classes: Sequence[str] | None, frames: list[FrameInstances]) -> Categories:
    """``classes`` as given (a label outside them is an error), else the bag's label map with any
    label the tracks carry beyond it appended in name order: classes changed at run time (the
    detector's ``set_classes``) or a stale map keep the recorded ids and lose no object."""
    if classes:
        return Categories(list(classes))
    names = _label_map(bag_custom_data(bag)) or []
    seen = Categories.from_frames(frames).names
    return Categories([*names, *(label for label in seen if label not in names)])


def load_tracks(
    bag: str | Path, tracks_topic: str | None = None, classes: Sequence[str] | None = None, camera: str | None = None,
) -> BagTracks:
    """Every frame of one camera's tracks, in order, with where they came from (see ``select_cameras``)."""
    return _load(bag, select_cameras(bag, camera, tracks_topic), classes)[0]


def load_cameras(bag: str | Path, classes: Sequence[str] | None = None) -> list[BagTracks]:
    """Every camera's tracks, sharing one label map (the labels of all cameras when the bag has none)."""
    return _load(bag, select_cameras(bag, all_cameras=True), classes)


def _load(bag: str | Path, cameras: list[BagCamera], classes: Sequence[str] | None) -> list[BagTracks]:
    frames = [_read_tracks(bag, c.tracks_topic) for c in cameras]
    categories = _categories(bag, classes, [f for each in frames for f in each])
    return [BagTracks(f, c.tracks_topic, c.image_topic, categories, c) for c, f in zip(cameras, frames)]


def _stamp(message: BagMessage) -> tuple[object, int]:
    try:
        msg = message.decode()
    except DAMAGED_BAG_ERRORS as exc:
        raise ExportError(f"a message on {message.topic} at {message.timestamp_ns} is corrupt: {exc}") from exc
    return msg, stamp_to_ns(msg.header.stamp)


def _check_images(bag: str | Path, loaded: BagTracks) -> None:
    """Every track frame has one image with its stamp (header stamps only; nothing is decoded to pixels)."""
    stamps = [f.stamp_ns for f in loaded.frames]
    if len(set(stamps)) != len(stamps):
        twice = sorted({s for s in stamps if stamps.count(s) > 1})
        raise ExportError(f"track frames on {loaded.tracks_topic} share stamps ({', '.join(map(str, twice[:3]))}); "
                          "frames cannot be paired with images by stamp; export with --no-images --no-video")
    topic = loaded.frames_topic()
    have = {_stamp(m)[1] for m in read_messages(bag, [topic])}
    missing = [s for s in stamps if s not in have]
    if missing:
        raise ExportError(f"{len(missing)} of {len(stamps)} track frames have no image with their stamp on "
                          f"{topic} (first: {missing[0]}); export with --no-images --no-video")


def _frames_by_stamp(bag: str | Path, topic: str, stamps: set[int]) -> Iterator[tuple[int, np.ndarray]]:
    """``(stamp, rgb)`` of the first image on ``topic`` with each header stamp in ``stamps``."""
    todo = set(stamps)
    for message in read_messages(bag, [topic]):
        msg, stamp = _stamp(message)
        if stamp not in todo:
            continue
        todo.discard(stamp)
        try:
            rgb = decode_compressed(msg) if message.msgtype == msg_types.COMPRESSED_IMAGE else to_rgb(*image_to_array(msg))
        except ImageError as exc:
            raise ExportError(f"frame at {stamp} on {topic} cannot be decoded: {exc}") from exc
        yield stamp, rgb


def _write_frames(bag: str | Path, loaded: BagTracks, video_name: str, images: Path | None, overlay_path: Path | None,
                  fps: float | None) -> None:
    """The track frames' images as ``images/<video>/<frame>.jpg`` and/or an overlay mp4."""
    by_stamp = {f.stamp_ns: n for n, f in enumerate(loaded.frames)}
    stamps = [f.stamp_ns for f in loaded.frames]
    rate = fps or (1e9 * (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 10.0)
    overlay = OverlayVideo(overlay_path, fps=rate) if overlay_path is not None else None
    try:
        for stamp, rgb in _frames_by_stamp(bag, loaded.frames_topic(), set(by_stamp)):
            n = by_stamp[stamp]
            if images is not None:
                path = images / frame_file_name(n, video_name)
                path.parent.mkdir(parents=True, exist_ok=True)
                # encoded here and written by Python: cv2.imwrite only returns False on a full disk
                ok, jpeg = cv2.imencode(path.suffix, np.ascontiguousarray(rgb[..., ::-1]))
                if not ok:
                    raise ExportError(f"frame {n} of {loaded.image_topic} cannot be encoded as {path.suffix}")
                path.write_bytes(jpeg.tobytes())
            if overlay is not None:
                overlay.write(rgb, loaded.frames[n])
    finally:
        if overlay is not None:
            overlay.close()


def _check_out(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(f"{out_dir} already exists and is not an empty folder; export into a new (or empty) folder: "
                          "a dataset is written whole or not at all, never mixed with older files")


def export_bag(
    bag: str | Path,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    *,
    tracks_topic: str | None = None,
    camera: str | None = None,
    all_cameras: bool = False,
    classes: Sequence[str] | None = None,
    images: bool = True,
    video: bool = True,
    fps: float | None = None,
    video_name: str | None = None,
) -> dict[str, Path]:
    """Write the tracks of the bag's camera (or of every camera) in ``formats``, the frames as JPEGs
    and an overlay mp4 to ``out_dir``; returns what was written (format/``images``/``video`` -> path).

    One camera: ``coco.json``, ``ytvis.json``, ``mots.txt``, ``mot.txt``, ``davis/``,
    ``images/<video>/``, ``overlay.mp4``. Several (``all_cameras``): the same dataset holding a video
    per camera (``export_videos``), with ``mots/<video>.txt``, ``mot/<video>.txt`` and
    ``overlay/<video>.mp4``.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    if fps is not None:
        try:
            check_fps(fps)
        except ValidationError as exc:
            raise ExportError(str(exc)) from exc
    _check_out(out_dir)
    loaded = _load(bag, select_cameras(bag, camera, tracks_topic, all_cameras), classes)
    several = len(loaded) > 1
    if several and video_name is not None:
        raise ExportError("--video-name names the one video of a one-camera export; with --all-cameras each video "
                          "is named after its camera")
    names = [video_name or each.camera.video_name for each in loaded]
    if images or video:
        for each in loaded:
            _check_images(bag, each)
    with staged_output(out_dir, replace_empty_dir=True) as stage:
        folder = stage.path
        folder.mkdir()
        if several:
            videos = {name: each.frames for name, each in zip(names, loaded)}
            written = {fmt: export_videos(videos, folder, fmt, loaded[0].categories) for fmt in formats}
        else:
            written = {fmt: export_tracks(loaded[0].frames, folder, fmt, loaded[0].categories, names[0]) for fmt in formats}
        if images or video:
            for name, each in zip(names, loaded):
                overlay = (folder / "overlay" / f"{name}.mp4" if several else folder / "overlay.mp4") if video else None
                _write_frames(bag, each, name, folder / "images" if images else None, overlay, fps)
            if images:
                written["images"] = folder / "images"
            if video:
                written["video"] = folder / "overlay" if several else folder / "overlay.mp4"
    return {what: out_dir / path.relative_to(folder) for what, path in written.items()}

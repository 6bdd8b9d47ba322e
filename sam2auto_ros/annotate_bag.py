"""Offline annotation of a recorded bag, in one process without a ROS runtime.

``annotate_bag(IN, OUT, classes=...)`` reads a rosbag2 (MCAP or sqlite3; ``Image`` or
``CompressedImage`` camera topics), runs the :class:`~sam2auto_ros.pipeline.Pipeline` over each
chosen camera's whole sequence (offline mode: FLASH may use hindsight), and writes a NEW bag holding
every input message byte for byte plus ``detections``, ``tracks``, ``tracks_annotations`` (Foxglove
``ImageAnnotations``: the masks as outlines and "id label score" over the camera) and ``overlay``
topics per camera.

The overlay goes out in the camera's own transport (``overlay_format="auto"``): a ``CompressedImage``
camera gets a JPEG (quality 90) ``CompressedImage`` on ``.../overlay/compressed`` (image_transport's
naming, which Foxglove and rviz2 read), a raw ``Image`` camera a raw ``Image`` on ``.../overlay``;
``"raw"`` or ``"jpeg"`` force one for every camera. So a bag of JPEG frames is not inflated ~20x by
raw overlay frames.

Which cameras: the one image topic of a one-camera bag; the topics given (``topic``: one or
several); or every image topic (``all_cameras``; rendered ``.../overlay`` topics are skipped).

Where the annotations go:

* ONE camera labelled: ``<output_ns>/detections|tracks|overlay`` (``overlay/compressed`` for a JPEG
  overlay), whatever its topic is called.
* SEVERAL: ``<output_ns><camera namespace>/detections|tracks|overlay``, the camera namespace being
  the image topic's parent (``/front/image`` -> ``/sam2auto/annotated/front/tracks``; for a
  ``CompressedImage`` topic image_transport's ``/compressed`` suffix is dropped first:
  ``/front/image/compressed`` -> ``/front``). The namespace IS the camera, as in the live graph, so
  two chosen image topics in one namespace (``/cam/image_raw`` and ``/cam/image_rect``) are refused
  before anything is decoded: label them in separate runs.

Each camera is its own sequence: the detector is reset (SMART-OD's score window, the noise model's
draws), FLASH runs afresh and its track ids start over, so ids repeat across cameras (as in the live
graph, where each camera has its own tracker); a camera's output equals annotating it alone. The
models are loaded once. The weight-free detector needs ground truth: with several cameras each
reads the ``ground_truth`` topic in its own namespace (``<ns>/image`` + ``<ns>/ground_truth``, as
the simulated camera writes them); with one, that sibling, else ``--truth-topic``/any
``.../ground_truth`` topic.

Passes, each with a progress bar (rate and time left):

1. check (``plan_bag``): every camera's topics, types and truth are checked before anything is decoded;
2. per camera, one after another (``annotate_camera``, the unit of work ``annotate-bags`` spreads over
   workers): read (each frame decoded once, checked and detected on) + detect, then FLASH over the
   whole sequence (forward, then in reverse);
3. write, once (``write_annotations``): the input is copied message by message and each camera's
   annotations are slotted in after that camera's frame, at its receive time; the overlay is drawn
   on the frame decoded again from the message being copied.

Between its two passes a camera's frames stay on disk, never all in memory
(:mod:`sam2auto_ros.io.frame_store`): a ``CompressedImage`` camera keeps its payloads as they came in
one scratch file and decodes a frame again when FLASH reads it (the same bytes through the same
decoder give the same pixels, so the tracks equal those of the decoded frames); a raw ``Image``
camera keeps decoded RGB in a memory-mapped file, the size of its input. Scratch space is thus
about the size of the largest camera topic read (freed once its tracks are done), not 2.76 MB per
720p frame.

Everything is written under a scratch folder next to ``OUT`` and renamed to ``OUT`` only when the
bag is complete, so an interrupted or failed run (any camera) never leaves something at ``OUT``
(:func:`sam2auto_ros.io.outputs.staged_output`: one run per OUT, scratch of killed runs removed,
a full or read-only disk reported in one line).
"""

from __future__ import annotations

import json
import shutil
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.serde import SerdeError
from tqdm import tqdm

from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.core.validation import ValidationError, check_ros_name
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagError, BagWriter, open_reader, read_messages
from sam2auto_ros.io.camera_topics import COMPRESSED_SUFFIX, camera_namespace, is_overlay
from sam2auto_ros.io.frame_store import FrameStore, frame_store
from sam2auto_ros.io.image_annotations import AnnotationClasses, build_annotations, to_ros_msg
from sam2auto_ros.io.images import ImageError, decode_compressed, encode_compressed, image_fields, image_to_array, to_rgb
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp, stamp_to_ns
from sam2auto_ros.io.outputs import staged_output
from sam2auto_ros.io.overlay import render_overlay
from sam2auto_ros.io.recorder import OPEN_DIR
from sam2auto_ros.pipeline import DEFAULT_MODEL, Pipeline, PipelineError
from sam2auto_ros.sam2.registry import DEFAULT_DETECTOR

IMAGE_TYPES = (msg_types.IMAGE, msg_types.COMPRESSED_IMAGE)
OUTPUT_NS = "/sam2auto/annotated"
"""Where the annotations go: ``<ns>/detections``, ``<ns>/tracks``, ``<ns>/overlay`` (several cameras:
``<ns><camera namespace>/...``). Not the live graph's ``/sam2auto/{detections,tracks}``, so a bag
recorded from the live graph can be annotated offline without a clash."""
#: what a user without weights runs once (on a machine with internet) for SMART-OD on real footage
FETCH_WEIGHTS = f"fetch SAM 2's and the detector's weights with `sam2auto models download {DEFAULT_MODEL} {DEFAULT_DETECTOR}`"
TRUTH_NAME = "ground_truth"
SIM_IMAGE_TOPIC = "/sam2auto/image"
SIM_TRUTH_TOPIC = f"/sam2auto/{TRUTH_NAME}"
OVERLAY_FORMATS = ("auto", "raw", "jpeg")
"""auto: the overlay in the camera's transport (JPEG for CompressedImage, raw for Image)."""
OVERLAY_JPEG_QUALITY = 90


class AnnotateError(RuntimeError):
    """An input bag or request the annotator cannot honour; the message says what to do."""


# What rosbags' parsers raise on damaged bytes beyond the errors ``io.bags`` already turns into
# BagError (found by flipping random bytes of a bag): reported as a corrupt bag, not a crash.
# MemoryError: a damaged record length makes the reader ask for an impossible buffer at once.
_PARSE_ERRORS = (SerdeError, OverflowError, IndexError, struct.error, MemoryError)


@dataclass
class CameraReport:
    """One labelled camera: its frames, its tracks (ids are per camera) and where they were written."""

    image_topic: str
    frames: int
    tracks: int
    annotation_topics: dict[str, str]  # detections / tracks / overlay -> topic (overlay: .../overlay[/compressed])
    truth_topic: str | None = None


@dataclass
class AnnotateReport:
    """What a run produced and where its time went (seconds, all cameras together)."""

    output: Path
    cameras: list[CameraReport]
    messages_copied: int
    topics: dict[str, str]  # every topic of the new bag -> type
    info: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.cameras)

    @property
    def tracks(self) -> int:
        """Tracks of all cameras added up (ids repeat across cameras, so this is not a count of distinct ids)."""
        return sum(c.tracks for c in self.cameras)

    @property
    def image_topic(self) -> str:
        """The labelled topic of a one-camera run; a run over several has no single one (see ``cameras``)."""
        if len(self.cameras) != 1:
            raise ValueError(f"{len(self.cameras)} cameras were labelled; read report.cameras for their topics")
        return self.cameras[0].image_topic

    @property
    def model_seconds(self) -> float:
        return self.seconds.get("detector", 0.0) + self.seconds.get("propagator", 0.0)


@dataclass(frozen=True)
class CameraPlan:
    """One camera to label: its topics and frame count, checked before anything is decoded."""

    image_topic: str
    truth_topic: str | None
    frame_count: int
    out_topics: dict[str, str]
    msgtype: str = msg_types.IMAGE  # Image or CompressedImage


@dataclass(frozen=True)
class BagPlan:
    """What ``plan_bag`` found: the cameras to label, each a sequence of its own."""

    cameras: tuple[CameraPlan, ...]
    topics: dict[str, str]  # every input topic -> type


def output_topics(ns: str = OUTPUT_NS, jpeg_overlay: bool = False) -> dict[str, str]:
    """The annotation topics in ``ns``; a JPEG overlay is a CompressedImage on ``.../overlay/compressed``."""
    ns = ns.rstrip("/")
    return {
        "detections": f"{ns}/detections",
        "tracks": f"{ns}/tracks",
        "annotations": f"{ns}/tracks_annotations",  # Foxglove ImageAnnotations of the tracks
        "overlay": f"{ns}/overlay{COMPRESSED_SUFFIX if jpeg_overlay else ''}",
    }


def _jpeg_overlay(overlay_format: str, msgtype: str) -> bool:
    return overlay_format == "jpeg" or (overlay_format == "auto" and msgtype == msg_types.COMPRESSED_IMAGE)


def _requested(topic: str | Sequence[str] | None) -> list[str]:
    requested = [topic] if isinstance(topic, str) else list(topic or ())
    twice = sorted({t for t in requested if requested.count(t) > 1})
    if twice:
        raise AnnotateError(f"topic {', '.join(twice)} is named more than once; name each camera once")
    return requested


def _plan(path: Path, topic: str | Sequence[str] | None, all_cameras: bool, truth_topic: str | None, needs_truth: bool,
          output_ns: str, overlay_format: str) -> BagPlan:
    """Check the input before decoding a frame: topics, types, counts, truth and output names of every camera."""
    requested = _requested(topic)
    if requested and all_cameras:
        raise AnnotateError("choose the cameras with --topic or label every one with --all-cameras, not both")
    if (path / OPEN_DIR).is_dir():
        raise AnnotateError(f"bag {path} is a recording that was never finished (its recorder was killed); "
                            f"run `sam2auto dataset recover {path}` first")
    reader = open_reader(path)
    try:
        topics = {c.topic: c.msgtype for c in reader.connections}
        counts: dict[str, int] = {}
        for conn in reader.connections:
            counts[conn.topic] = counts.get(conn.topic, 0) + conn.msgcount
        total = reader.message_count
    finally:
        reader.close()
    if not topics or total == 0:
        raise AnnotateError(f"bag {path} is empty (no messages); nothing to annotate")
    store = msg_types.typestore()
    unknown = {t: ty for t, ty in topics.items() if ty not in store.types}
    if unknown:
        listed = ", ".join(f"{t} ({ty})" for t, ty in sorted(unknown.items()))
        raise AnnotateError(
            f"bag {path} holds message types this tool does not know: {listed}; they cannot be copied with their "
            "definitions (filter them out of the bag first, e.g. with `rosbags-convert --exclude-topic`)"
        )
    images = sorted(t for t, ty in topics.items() if ty in IMAGE_TYPES)
    listed = ", ".join(images) or "none"
    if all_cameras:
        requested = [t for t in images if not is_overlay(t, topics[t])]
        if not requested:
            raise AnnotateError(f"bag {path} has no camera topics to label (image topics: {listed})")
    elif not requested:
        if len(images) != 1:
            raise AnnotateError(f"bag {path} has {len(images)} image topics ({listed}); choose one or more with --topic, "
                                "or label every camera with --all-cameras")
        requested = images
    for name in requested:
        if name not in topics:
            raise AnnotateError(f"bag {path} has no topic {name}; image topics in it: {listed}")
        if topics[name] not in IMAGE_TYPES:
            raise AnnotateError(f"topic {name} carries {topics[name]}, not an image; image topics in it: {listed}")
        if counts.get(name, 0) == 0:
            raise AnnotateError(f"topic {name} in bag {path} has no messages")
    if len(requested) == 1:
        name = requested[0]
        truth = _single_truth(path, name, topics, truth_topic, needs_truth)
        cameras = [CameraPlan(name, truth, counts[name], output_topics(output_ns, _jpeg_overlay(overlay_format, topics[name])), topics[name])]
    else:
        if truth_topic is not None:
            raise AnnotateError(f"--truth-topic names the ground truth of ONE camera, but {len(requested)} are labelled; "
                                f"with several, each camera reads the '{TRUTH_NAME}' topic in its own namespace")
        cameras = _cameras(path, requested, topics, counts, needs_truth, output_ns, overlay_format)
    for camera in cameras:
        if camera.truth_topic is not None and topics.get(camera.truth_topic) != msg_types.INSTANCE_MASK_ARRAY:
            raise AnnotateError(f"ground-truth topic {camera.truth_topic} is not an InstanceMaskArray topic in bag {path}")
    clashes = sorted({t for c in cameras for t in c.out_topics.values()} & set(topics))
    if clashes:
        raise AnnotateError(f"bag {path} already has {', '.join(clashes)}; write the annotations elsewhere with --output-ns")
    return BagPlan(tuple(cameras), topics)


def _single_truth(path: Path, topic: str, topics: dict[str, str], truth_topic: str | None, needs_truth: bool) -> str | None:
    """One camera's ground truth: the one asked for, else its namespace's, else any ``.../ground_truth`` topic."""
    if truth_topic is not None or not needs_truth:
        return truth_topic
    sibling = f"{camera_namespace(topic, topics[topic])}/{TRUTH_NAME}"
    if topics.get(sibling) == msg_types.INSTANCE_MASK_ARRAY:
        return sibling
    candidates = sorted(t for t, ty in topics.items() if ty == msg_types.INSTANCE_MASK_ARRAY and t.rsplit("/", 1)[-1] == TRUTH_NAME)
    if not candidates:
        raise AnnotateError(
            "no detector weights are installed, and the weight-free detector needs the ground truth that simulated "
            f"recordings carry on a '{TRUTH_NAME}' topic; bag {path} has none. To annotate real footage, {FETCH_WEIGHTS}."
        )
    return candidates[0]


def _cameras(path: Path, requested: list[str], topics: dict[str, str], counts: dict[str, int], needs_truth: bool,
             output_ns: str, overlay_format: str) -> list[CameraPlan]:
    """Several cameras: one per namespace, each with its namespace's truth and its own output topics."""
    by_ns: dict[str, list[str]] = {}
    for name in requested:
        by_ns.setdefault(camera_namespace(name, topics[name]), []).append(name)
    shared = {ns: names for ns, names in by_ns.items() if len(names) > 1}
    if shared:
        ns, names = min(shared.items())
        raise AnnotateError(
            f"image topics {' and '.join(sorted(names))} share the namespace {ns or '/'}, which names ONE camera's annotations "
            f"({output_ns.rstrip('/')}{ns}/tracks); label them in separate runs (--topic, and another --output-ns for the second)"
        )
    cameras = []
    for name in requested:
        ns = camera_namespace(name, topics[name])
        truth = f"{ns}/{TRUTH_NAME}" if needs_truth else None
        if truth is not None and truth not in topics:
            raise AnnotateError(
                f"camera {name} has no ground truth: the weight-free detector needs the InstanceMaskArray topic {truth} "
                f"next to it (simulated recordings carry one); bag {path} has none. Leave that camera out (--topic) or "
                f"{FETCH_WEIGHTS} to annotate real footage."
            )
        out = output_topics(f"{output_ns.rstrip('/')}{ns}", _jpeg_overlay(overlay_format, topics[name]))
        cameras.append(CameraPlan(name, truth, counts[name], out, topics[name]))
    return cameras


class _FrameDecoder:
    """Image messages -> RGB, refusing a stream whose encoding or size changes (one video per camera)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.first: tuple[str, tuple[int, int]] | None = None

    def __call__(self, msg: Any, index: int) -> np.ndarray:
        try:
            if msg.__msgtype__ == msg_types.COMPRESSED_IMAGE:
                rgb, encoding = decode_compressed(msg), "compressed"
            else:
                pixels, encoding = image_to_array(msg)
                rgb = to_rgb(pixels, encoding)
        except ImageError as exc:
            raise AnnotateError(f"frame {index} of {self.topic} cannot be decoded: {exc}") from exc
        key = (encoding, rgb.shape[:2])
        if self.first is None:
            self.first = key
        elif key != self.first:
            raise AnnotateError(
                f"frame {index} of {self.topic} is {key[0]} {key[1][1]}x{key[1][0]}, earlier frames are "
                f"{self.first[0]} {self.first[1][1]}x{self.first[1][0]}: mixed encodings or sizes in one stream; "
                "split the bag where the camera settings change and annotate each part"
            )
        return rgb


def _read_truth(path: Path, topic: str, window: tuple[int, int] | None = None) -> dict[int, FrameInstances]:
    truth = {}
    for message in read_messages(path, [topic], window):
        try:
            frame = frame_from_msg(message.decode())
        except (MaskCodecError, ValueError) as exc:
            raise AnnotateError(f"ground truth on {topic} at {message.timestamp_ns} is corrupt: {exc}") from exc
        truth[frame.stamp_ns] = frame
    return truth


def plan_bag(
    in_path: str | Path, *, needs_truth: bool, topic: str | Sequence[str] | None = None, all_cameras: bool = False,
    truth_topic: str | None = None, output_ns: str = OUTPUT_NS, overlay_format: str = "auto",
) -> BagPlan:
    """The cameras of ``in_path`` to label (see ``annotate_bag``), checked before a frame is decoded."""
    if overlay_format not in OVERLAY_FORMATS:
        raise AnnotateError(f"overlay format {overlay_format!r} is not one of {', '.join(OVERLAY_FORMATS)}")
    in_path = Path(in_path)
    try:  # names the user typed, by ROS's rules (an output namespace that is no ROS name made a bag no ROS tool reads)
        check_ros_name(output_ns, "output namespace", namespace=True, relative=False)
        for name in _requested(topic) + ([truth_topic] if truth_topic is not None else []):
            check_ros_name(name, "topic", relative=False)
    except ValidationError as exc:
        raise AnnotateError(str(exc)) from exc
    if not in_path.exists():
        raise AnnotateError(f"input bag {in_path} does not exist")
    try:
        return _plan(in_path, topic, all_cameras, truth_topic, needs_truth, output_ns, overlay_format)
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise AnnotateError(f"bag {in_path} is corrupt: {type(exc).__name__}: {exc}") from exc


def annotate_bag(
    in_path: str | Path,
    out_path: str | Path,
    pipeline: Pipeline | None = None,
    *,
    classes: Sequence[str] = (),
    topic: str | Sequence[str] | None = None,
    all_cameras: bool = False,
    truth_topic: str | None = None,
    storage: str = "mcap",
    output_ns: str = OUTPUT_NS,
    overlay: bool = True,
    overlay_format: str = "auto",
    offline: bool = True,
    progress: bool = True,
) -> AnnotateReport:
    """Annotate ``in_path`` into the new bag ``out_path`` (see the module docstring).

    ``topic``: one camera topic or several; ``all_cameras``: every image topic but overlays (not
    with ``topic``). ``truth_topic`` only when one camera is labelled. ``overlay_format``: ``auto``
    (as the camera: JPEG ``CompressedImage`` on ``.../overlay/compressed`` for a compressed camera, raw
    ``Image`` on ``.../overlay`` for a raw one), ``raw`` or ``jpeg``.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.exists():
        raise AnnotateError(f"output {out_path} already exists; remove it or choose another path")
    pipeline = pipeline or Pipeline.create(classes)
    plan = plan_bag(in_path, needs_truth=pipeline.needs_truth, topic=topic, all_cameras=all_cameras, truth_topic=truth_topic,
                    output_ns=output_ns, overlay_format=overlay_format)
    with staged_output(out_path) as stage:  # the finished bag appears at once, or not at all
        seconds = dict.fromkeys(("detector", "read_decode", "propagator", "flash"), 0.0)
        t0 = time.perf_counter()
        runs = [annotate_camera(in_path, camera, pipeline, stage.scratch / f"frames_{n}", offline=offline, progress=progress,
                                seconds=seconds)
                for n, camera in enumerate(plan.cameras)]
        report = write_annotations(in_path, stage.path, runs, plan.topics, pipeline.describe(), storage=storage,
                                   overlay=overlay, progress=progress)
    report.output = out_path
    report.seconds = {**seconds, **report.seconds, "total": time.perf_counter() - t0}
    return report


@dataclass
class CameraRun:
    """One camera's sequence after detect + track (``annotate_camera``), held until the write pass."""

    camera: CameraPlan
    stamps: list[int]
    receive: list[int]  # the bag's receive time of each frame
    frame_ids: list[str]
    det_frames: list[FrameInstances | None]
    tracks: list[FrameInstances]


def annotate_camera(
    in_path: str | Path, camera: CameraPlan, pipeline: Pipeline, scratch: Path, *, offline: bool = True, progress: bool = True,
    window: tuple[int, int] | None = None, on_frame: Callable[[], None] | None = None, seconds: dict[str, float] | None = None,
) -> CameraRun:
    """Read + detect, then FLASH, over one camera as a sequence of its own: the unit of work of a run.

    ``scratch`` (made here, removed on return) holds the frames between the passes. ``window``
    (receive times, ns, stop excluded) labels that stretch alone, as a sequence of its own.
    ``on_frame`` is called once per frame in each of the two passes; time goes into ``seconds``.
    """
    in_path = Path(in_path)
    seconds = {} if seconds is None else seconds
    scratch.mkdir(parents=True)
    images = frame_store(camera.msgtype, scratch / "frames", camera.frame_count)  # the count bounds a window's frames
    try:
        return _run_camera(in_path, images, pipeline, camera, offline, progress, seconds, window, on_frame)
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise AnnotateError(f"bag {in_path} is corrupt: {type(exc).__name__}: {exc}") from exc
    finally:
        images.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _run_camera(
    in_path: Path, images: FrameStore, pipeline: Pipeline, camera: CameraPlan, offline: bool, progress: bool, seconds: dict[str, float],
    window: tuple[int, int] | None, on_frame: Callable[[], None] | None,
) -> CameraRun:
    """Read + detect, then FLASH (adds its time to ``seconds``)."""
    for key in ("detector", "read_decode", "propagator", "flash"):
        seconds.setdefault(key, 0.0)
    t0 = time.perf_counter()
    pipeline.reset()
    truth = _read_truth(in_path, camera.truth_topic, window) if camera.truth_topic else {}
    decode = _FrameDecoder(camera.image_topic)
    stamps: list[int] = []
    receive: list[int] = []
    frame_ids: list[str] = []
    detections: list[Sequence[Instance] | None] = []
    det_frames: list[FrameInstances | None] = []
    detector_before = pipeline.timing.detector_s
    bar = tqdm(total=camera.frame_count, desc=f"{camera.image_topic} read+detect", unit="frame", disable=not progress)
    try:
        for index, message in enumerate(read_messages(in_path, [camera.image_topic], window)):
            msg = message.decode()
            rgb = decode(msg, index)
            images.append(msg, rgb)
            stamp = stamp_to_ns(msg.header.stamp)
            stamps.append(stamp)
            receive.append(message.timestamp_ns)
            frame_ids.append(str(msg.header.frame_id))
            if pipeline.wants_detection(index):
                gt = truth.get(stamp)
                if pipeline.needs_truth and gt is None:
                    raise AnnotateError(f"frame {index} of {camera.image_topic} (stamp {stamp}) has no ground truth on {camera.truth_topic}")
                found = pipeline.detect(rgb, stamp, gt, frame_ids[-1])
                detections.append(found.instances)
                det_frames.append(found)
            else:
                detections.append(None)
                det_frames.append(None)
            bar.update()
            if on_frame is not None:
                on_frame()
    except PipelineError as exc:
        raise AnnotateError(str(exc)) from exc
    finally:
        bar.close()
    if window is None and len(stamps) != camera.frame_count:
        raise AnnotateError(f"{camera.image_topic}: metadata promises {camera.frame_count} frames, the bag holds {len(stamps)}; "
                            "the bag is truncated or its metadata is wrong")
    if not stamps:
        raise AnnotateError(f"{camera.image_topic} has no frames between receive times {window[0]} and {window[1]} ns")  # type: ignore[index]
    detector_s = pipeline.timing.detector_s - detector_before
    seconds["detector"] += detector_s
    seconds["read_decode"] += time.perf_counter() - t0 - detector_s

    t1 = time.perf_counter()
    propagator_before = pipeline.propagator.seconds
    with tqdm(total=len(stamps), desc=f"{camera.image_topic} track", unit="frame", disable=not progress) as track_bar:
        tracks = pipeline.track(_Progress(images, track_bar, len(stamps), on_frame), stamps, detections, offline, frame_ids[0])
    propagator_s = pipeline.propagator.seconds - propagator_before
    seconds["propagator"] += propagator_s
    seconds["flash"] += time.perf_counter() - t1 - propagator_s
    return CameraRun(camera, stamps, receive, frame_ids, det_frames, tracks)


class _Progress(Sequence):
    """The frames as a lazy sequence that moves a progress bar on the first pass (FLASH's forward run)."""

    def __init__(self, images: Sequence[np.ndarray], bar: tqdm, count: int, on_frame: Callable[[], None] | None) -> None:
        self.images, self.bar, self.total, self.seen, self.on_frame = images, bar, count, 0, on_frame

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index):
        if self.seen < self.total and isinstance(index, int):
            self.seen += 1
            self.bar.update()
            if self.on_frame is not None:
                self.on_frame()
        return np.asarray(self.images[index])


def write_annotations(
    in_path: str | Path, bag: Path, runs: Sequence[CameraRun], topics: dict[str, str], info: dict[str, Any], *,
    storage: str = "mcap", overlay: bool = True, progress: bool = True, custom_data: dict[str, Any] | None = None,
) -> AnnotateReport:
    """Write the new bag ``bag``: every input message unchanged, each camera's annotations slotted in
    after its frames. ``topics`` are the input's (``BagPlan.topics``), ``info`` what ran
    (``Pipeline.describe()``); both go into the report and the bag's metadata with ``custom_data``."""
    in_path = Path(in_path)
    t0 = time.perf_counter()
    try:
        overlay_s, copied = _write(in_path, bag, storage, {**info, **(custom_data or {})}, runs, overlay, progress)
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise AnnotateError(f"bag {in_path} is corrupt: {type(exc).__name__}: {exc}") from exc
    seconds = {"overlay": overlay_s, "write": time.perf_counter() - t0 - overlay_s}
    topics = dict(topics)
    cameras = []
    for run in runs:
        out = run.camera.out_topics
        topics.update({out["detections"]: msg_types.INSTANCE_MASK_ARRAY, out["tracks"]: msg_types.INSTANCE_MASK_ARRAY,
                       out["annotations"]: msg_types.IMAGE_ANNOTATIONS})
        if overlay:
            topics[out["overlay"]] = msg_types.COMPRESSED_IMAGE if out["overlay"].endswith(COMPRESSED_SUFFIX) else msg_types.IMAGE
        cameras.append(CameraReport(run.camera.image_topic, run.camera.frame_count,
                                    len({i.track_id for f in run.tracks for i in f.instances}), out, run.camera.truth_topic))
    return AnnotateReport(output=bag, cameras=cameras, messages_copied=copied, topics=topics, info=info, seconds=seconds)


def _write(
    in_path: Path, bag: Path, storage: str, info: dict[str, Any], runs: Sequence[CameraRun], overlay: bool, progress: bool,
) -> tuple[float, int]:
    """Copy every input message unchanged and slot each camera's annotations in after its frames
    (the overlay is drawn on the frame decoded again from the message being copied)."""
    store = msg_types.typestore()
    classes, annotation_classes = MessageClasses.rosbags(), AnnotationClasses.rosbags()
    image_cls = store.types[msg_types.IMAGE]
    compressed_cls = store.types[msg_types.COMPRESSED_IMAGE]
    overlay_s = 0.0
    copied = 0
    by_topic = {run.camera.image_topic: run for run in runs}
    decoders = {topic: _FrameDecoder(topic) for topic in by_topic}
    written = dict.fromkeys(by_topic, 0)  # frames of each camera annotated so far
    with BagWriter(bag, storage=storage) as writer:
        for key, value in {**info, **_bag_custom_data(in_path, runs)}.items():
            writer.set_custom_data(key, value if isinstance(value, str) else _json(value))
        with tqdm(total=sum(run.camera.frame_count for run in runs), desc="write", unit="frame", disable=not progress) as bar:
            for message in read_messages(in_path):
                writer.write_raw(message.topic, message.msgtype, message.rawdata, message.timestamp_ns)
                copied += 1
                run = by_topic.get(message.topic)
                if run is None:
                    continue
                frame = written[message.topic]
                if frame >= len(run.tracks):
                    raise AnnotateError(f"{message.topic}: the bag holds more frames than the {len(run.tracks)} that were labelled")
                out = run.camera.out_topics
                ts, stamp, frame_id = run.receive[frame], run.stamps[frame], run.frame_ids[frame]
                found = run.det_frames[frame]
                if found is not None:
                    writer.write(out["detections"], frame_to_msg(_restamp(found, stamp, frame_id, frame), classes), ts)
                tracks = _restamp(run.tracks[frame], stamp, frame_id, frame)
                writer.write(out["tracks"], frame_to_msg(tracks, classes), ts)
                writer.write(out["annotations"], to_ros_msg(build_annotations(tracks), annotation_classes), ts)
                if overlay:
                    start = time.perf_counter()
                    drawn = render_overlay(decoders[message.topic](message.decode(), frame), run.tracks[frame])
                    header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id=frame_id)
                    if out["overlay"].endswith(COMPRESSED_SUFFIX):
                        fmt, data = encode_compressed(drawn, "jpeg", OVERLAY_JPEG_QUALITY)
                        writer.write(out["overlay"], compressed_cls(header=header, format=fmt, data=data), ts)
                    else:
                        writer.write(out["overlay"], image_cls(header=header, **image_fields(drawn)), ts)
                    overlay_s += time.perf_counter() - start
                written[message.topic] = frame + 1
                bar.update()
    short = {topic: (n, len(by_topic[topic].tracks)) for topic, n in written.items() if n != len(by_topic[topic].tracks)}
    if short:
        raise AnnotateError(f"the bag holds fewer frames than were labelled: {short}")
    return overlay_s, copied


def _bag_custom_data(in_path: Path, runs: Sequence[CameraRun]) -> dict[str, Any]:
    """Where the annotations came from: ``cameras`` maps every labelled image topic to its annotation
    topics; ``image_topic`` / ``annotation_topics`` (the one-camera keys readers pair frames by) only
    when one camera was labelled, so no reader pairs one camera's tracks with another's frames."""
    custom: dict[str, Any] = {"source_bag": str(in_path), "cameras": {run.camera.image_topic: run.camera.out_topics for run in runs}}
    if len(runs) == 1:
        custom.update(image_topic=runs[0].camera.image_topic, annotation_topics=runs[0].camera.out_topics)
    return custom


def _restamp(frame: FrameInstances, stamp: int, frame_id: str, index: int) -> FrameInstances:
    return FrameInstances(stamp, frame.height, frame.width, frame.instances, frame_id, index)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def record_scene_bag(
    frames: Iterable[Any], path: str | Path, storage: str = "mcap", image_topic: str = SIM_IMAGE_TOPIC,
    truth_topic: str = SIM_TRUTH_TOPIC, frame_id: str = "sim_camera", custom_data: dict[str, str] | None = None,
) -> Path:
    """Write simulator frames (``SimFrame``: image, stamp, gt) as a camera bag with its ground truth,
    the input the demo and the tests annotate. Topics match ``sim_camera_node`` in the ``/sam2auto`` namespace."""
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    image_cls = store.types[msg_types.IMAGE]
    with BagWriter(path, storage=storage) as writer:
        for key, value in (custom_data or {}).items():
            writer.set_custom_data(key, value)
        for sim in frames:
            header = classes.header(stamp=ns_to_stamp(sim.stamp_ns, classes.time), frame_id=frame_id)
            writer.write(image_topic, image_cls(header=header, **image_fields(sim.image)), sim.stamp_ns)
            gt = FrameInstances(sim.stamp_ns, sim.gt.height, sim.gt.width, sim.gt.instances, frame_id, sim.index)
            writer.write(truth_topic, frame_to_msg(gt, classes), sim.stamp_ns)
    return Path(path)

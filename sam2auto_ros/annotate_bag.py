"""Offline annotation of a recorded bag, in one process without a ROS runtime.

``annotate_bag(IN, OUT, classes=...)`` reads a rosbag2 (MCAP or sqlite3; ``Image`` or
``CompressedImage`` on the chosen camera topic), runs the :class:`~sam2auto_ros.pipeline.Pipeline`
over the whole sequence (offline mode: FLASH may use hindsight), and writes a NEW bag holding
every input message byte for byte plus ``detections``, ``tracks`` and ``overlay`` topics.

Three passes, each with a progress bar (rate and time left):

1. check + read: topics and types are checked before anything is decoded; frames are decoded to
   RGB, kept in a memory-mapped scratch file (memory stays flat for long bags), and detected;
2. track: FLASH over the whole sequence;
3. write: the input is copied message by message and the annotations are slotted in at each
   frame's receive time.

Everything is written under a scratch folder next to ``OUT`` and renamed to ``OUT`` only when the
bag is complete, so an interrupted or failed run never leaves something at ``OUT``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.serde import SerdeError
from tqdm import tqdm

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagError, BagWriter, open_reader, read_messages
from sam2auto_ros.io.images import ImageError, decode_compressed, image_fields, image_to_array, to_rgb
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp, stamp_to_ns
from sam2auto_ros.io.overlay import render_overlay
from sam2auto_ros.io.recorder import OPEN_DIR
from sam2auto_ros.pipeline import Pipeline, PipelineError

IMAGE_TYPES = (msg_types.IMAGE, msg_types.COMPRESSED_IMAGE)
OUTPUT_NS = "/sam2auto/annotated"
"""Where the annotations go: ``<ns>/detections``, ``<ns>/tracks``, ``<ns>/overlay``. Not the live
graph's ``/sam2auto/{detections,tracks}``, so a bag recorded from the live graph can be annotated
offline without a clash."""
TRUTH_NAME = "ground_truth"
SIM_IMAGE_TOPIC = "/sam2auto/image"
SIM_TRUTH_TOPIC = f"/sam2auto/{TRUTH_NAME}"


class AnnotateError(RuntimeError):
    """An input bag or request the annotator cannot honour; the message says what to do."""


# What rosbags' parsers raise on damaged bytes beyond the errors ``io.bags`` already turns into
# BagError (found by flipping random bytes of a bag): reported as a corrupt bag, not a crash.
# MemoryError: a damaged record length makes the reader ask for an impossible buffer at once.
_PARSE_ERRORS = (SerdeError, OverflowError, IndexError, struct.error, MemoryError)


@dataclass
class AnnotateReport:
    """What a run produced and where its time went (seconds)."""

    output: Path
    image_topic: str
    frames: int
    messages_copied: int
    tracks: int
    topics: dict[str, str]
    info: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def model_seconds(self) -> float:
        return self.seconds.get("detector", 0.0) + self.seconds.get("propagator", 0.0)


@dataclass(frozen=True)
class _Plan:
    image_topic: str
    image_type: str
    truth_topic: str | None
    frame_count: int
    topics: dict[str, str]  # every input topic -> type


def output_topics(ns: str = OUTPUT_NS) -> dict[str, str]:
    ns = ns.rstrip("/")
    return {
        "detections": f"{ns}/detections",
        "tracks": f"{ns}/tracks",
        "overlay": f"{ns}/overlay",
    }


def _plan(path: Path, topic: str | None, truth_topic: str | None, needs_truth: bool, out_topics: dict[str, str]) -> _Plan:
    """Check the input before decoding a frame: topics, types, counts."""
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
    if topic is None:
        if len(images) != 1:
            raise AnnotateError(
                f"bag {path} has {len(images)} image topics ({', '.join(images) or 'none'}); choose one with --topic"
            )
        topic = images[0]
    if topic not in topics:
        raise AnnotateError(f"bag {path} has no topic {topic}; image topics in it: {', '.join(images) or 'none'}")
    if topics[topic] not in IMAGE_TYPES:
        raise AnnotateError(
            f"topic {topic} carries {topics[topic]}, not an image; image topics in it: {', '.join(images) or 'none'}"
        )
    if counts.get(topic, 0) == 0:
        raise AnnotateError(f"topic {topic} in bag {path} has no messages")
    if truth_topic is None and needs_truth:
        candidates = sorted(t for t, ty in topics.items() if ty == msg_types.INSTANCE_MASK_ARRAY and t.rsplit("/", 1)[-1] == TRUTH_NAME)
        if not candidates:
            raise AnnotateError(
                "no detector weights are installed, and the weight-free detector needs the ground truth that simulated "
                f"recordings carry on a '{TRUTH_NAME}' topic; bag {path} has none. Install SMART-OD weights to annotate real footage."
            )
        truth_topic = candidates[0]
    if truth_topic is not None and topics.get(truth_topic) != msg_types.INSTANCE_MASK_ARRAY:
        raise AnnotateError(f"ground-truth topic {truth_topic} is not an InstanceMaskArray topic in bag {path}")
    clashes = sorted(set(out_topics.values()) & set(topics))
    if clashes:
        raise AnnotateError(f"bag {path} already has {', '.join(clashes)}; write the annotations elsewhere with --output-ns")
    return _Plan(topic, topics[topic], truth_topic, counts[topic], topics)


class _FrameDecoder:
    """Image messages -> RGB, refusing a stream whose encoding or size changes (one video per run)."""

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


def _read_truth(path: Path, topic: str) -> dict[int, FrameInstances]:
    truth = {}
    for message in read_messages(path, [topic]):
        try:
            frame = frame_from_msg(message.decode())
        except (MaskCodecError, ValueError) as exc:
            raise AnnotateError(f"ground truth on {topic} at {message.timestamp_ns} is corrupt: {exc}") from exc
        truth[frame.stamp_ns] = frame
    return truth


def annotate_bag(
    in_path: str | Path,
    out_path: str | Path,
    pipeline: Pipeline | None = None,
    *,
    classes: Sequence[str] = (),
    topic: str | None = None,
    truth_topic: str | None = None,
    storage: str = "mcap",
    output_ns: str = OUTPUT_NS,
    overlay: bool = True,
    offline: bool = True,
    progress: bool = True,
) -> AnnotateReport:
    """Annotate ``in_path`` into the new bag ``out_path`` (see the module docstring)."""
    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.exists():
        raise AnnotateError(f"output {out_path} already exists; remove it or choose another path")
    if not in_path.exists():
        raise AnnotateError(f"input bag {in_path} does not exist")
    pipeline = pipeline or Pipeline.create(classes)
    out_topics = output_topics(output_ns)
    try:
        plan = _plan(in_path, topic, truth_topic, pipeline.needs_truth, out_topics)
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise AnnotateError(f"bag {in_path} is corrupt: {type(exc).__name__}: {exc}") from exc
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.partial-", dir=out_path.parent))
    try:
        report = _annotate(in_path, work, out_path, pipeline, plan, storage, out_topics, overlay, offline, progress)
        os.replace(work / out_path.name, out_path)  # the finished bag appears at once, or not at all
        return report
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise AnnotateError(f"bag {in_path} is corrupt: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _annotate(
    in_path: Path, work: Path, out_path: Path, pipeline: Pipeline, plan: _Plan, storage: str,
    out_topics: dict[str, str], overlay: bool, offline: bool, progress: bool,
) -> AnnotateReport:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    truth = _read_truth(in_path, plan.truth_topic) if plan.truth_topic else {}
    decode = _FrameDecoder(plan.image_topic)
    images: np.memmap | None = None
    stamps, receive, frame_ids, detections, det_frames = [], [], [], [], []
    detector_before = pipeline.timing.detector_s
    bar = tqdm(total=plan.frame_count, desc="read+detect", unit="frame", disable=not progress)
    try:
        for index, message in enumerate(read_messages(in_path, [plan.image_topic])):
            msg = message.decode()
            rgb = decode(msg, index)
            if images is None:
                images = np.lib.format.open_memmap(work / "frames.npy", mode="w+", dtype=np.uint8,
                                                   shape=(plan.frame_count, *rgb.shape))
            images[index] = rgb
            stamp = stamp_to_ns(msg.header.stamp)
            stamps.append(stamp)
            receive.append(message.timestamp_ns)
            frame_ids.append(str(msg.header.frame_id))
            if pipeline.wants_detection(index):
                gt = truth.get(stamp)
                if pipeline.needs_truth and gt is None:
                    raise AnnotateError(f"frame {index} of {plan.image_topic} (stamp {stamp}) has no ground truth on {plan.truth_topic}")
                found = pipeline.detect(rgb, stamp, gt, frame_ids[-1])
                detections.append(found.instances)
                det_frames.append(found)
            else:
                detections.append(None)
                det_frames.append(None)
            bar.update()
    except PipelineError as exc:
        raise AnnotateError(str(exc)) from exc
    finally:
        bar.close()
    if images is None or len(stamps) != plan.frame_count:
        raise AnnotateError(f"{plan.image_topic}: metadata promises {plan.frame_count} frames, the bag holds {len(stamps)}; "
                            "the bag is truncated or its metadata is wrong")
    seconds["detector"] = pipeline.timing.detector_s - detector_before
    seconds["read_decode"] = time.perf_counter() - t0 - seconds["detector"]

    t1 = time.perf_counter()
    propagator_before = pipeline.propagator.seconds
    frame_id = frame_ids[0]
    with tqdm(total=plan.frame_count, desc="track", unit="frame", disable=not progress) as track_bar:
        tracks = pipeline.track(_Progress(images, track_bar, plan.frame_count), stamps, detections, offline, frame_id)
    seconds["propagator"] = pipeline.propagator.seconds - propagator_before
    seconds["flash"] = time.perf_counter() - t1 - seconds["propagator"]

    t2 = time.perf_counter()
    overlay_s, copied = _write(in_path, work / out_path.name, storage, pipeline, plan, out_topics, images, stamps, receive,
                               frame_ids, det_frames, tracks, overlay, progress)
    seconds["overlay"] = overlay_s
    seconds["write"] = time.perf_counter() - t2 - overlay_s
    seconds["total"] = time.perf_counter() - t0
    del images
    topics = dict(plan.topics)
    topics.update({out_topics["detections"]: msg_types.INSTANCE_MASK_ARRAY, out_topics["tracks"]: msg_types.INSTANCE_MASK_ARRAY})
    if overlay:
        topics[out_topics["overlay"]] = msg_types.IMAGE
    return AnnotateReport(
        output=out_path,
        image_topic=plan.image_topic,
        frames=plan.frame_count,
        messages_copied=copied,
        tracks=len({i.track_id for f in tracks for i in f.instances}),
        topics=topics,
        info=pipeline.describe(),
        seconds=seconds,
    )


class _Progress(Sequence):
    """The frames as a lazy sequence that moves a progress bar on the first pass (FLASH's forward run)."""

    def __init__(self, images: np.ndarray, bar: tqdm, count: int) -> None:
        self.images, self.bar, self.count, self.seen = images, bar, count, 0

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):  # type: ignore[override]
        if self.seen < self.count and isinstance(index, int):
            self.seen += 1
            self.bar.update()
        return np.asarray(self.images[index])


def _write(
    in_path: Path, bag: Path, storage: str, pipeline: Pipeline, plan: _Plan, out_topics: dict[str, str],
    images: np.ndarray, stamps: list[int], receive: list[int], frame_ids: list[str],
    det_frames: list[FrameInstances | None], tracks: list[FrameInstances], overlay: bool, progress: bool,
) -> tuple[float, int]:
    """Copy every input message unchanged and slot the annotations in after each frame."""
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    image_cls = store.types[msg_types.IMAGE]
    overlay_s = 0.0
    copied = 0
    frame = 0
    with BagWriter(bag, storage=storage) as writer:
        info = pipeline.describe()
        for key, value in {**info, "source_bag": str(in_path), "image_topic": plan.image_topic,
                           "annotation_topics": out_topics}.items():
            writer.set_custom_data(key, value if isinstance(value, str) else _json(value))
        with tqdm(total=plan.frame_count, desc="write", unit="frame", disable=not progress) as bar:
            for message in read_messages(in_path):
                writer.write_raw(message.topic, message.msgtype, message.rawdata, message.timestamp_ns)
                copied += 1
                if message.topic != plan.image_topic:
                    continue
                ts, stamp = receive[frame], stamps[frame]
                if det_frames[frame] is not None:
                    det = _restamp(det_frames[frame], stamp, frame_ids[frame], frame)
                    writer.write(out_topics["detections"], frame_to_msg(det, classes), ts)
                writer.write(out_topics["tracks"], frame_to_msg(_restamp(tracks[frame], stamp, frame_ids[frame], frame), classes), ts)
                if overlay:
                    start = time.perf_counter()
                    drawn = render_overlay(np.asarray(images[frame]), tracks[frame])
                    header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id=frame_ids[frame])
                    writer.write(out_topics["overlay"], image_cls(header=header, **image_fields(drawn)), ts)
                    overlay_s += time.perf_counter() - start
                frame += 1
                bar.update()
    return overlay_s, copied


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

"""Offline bag annotation on real rosbag2 files (MCAP and sqlite3), simulated scenes as input."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from sam2auto_ros.annotate_bag import (
    SIM_TRUTH_TOPIC,
    AnnotateError,
    annotate_bag,
    output_topics,
    record_scene_bag,
)
from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagWriter, read_messages
from sam2auto_ros.io.images import decode_compressed, encode_compressed, image_fields
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp
from sam2auto_ros.pipeline import Pipeline
from sam2auto_ros.sim import CLASS_NAMES, make_scene
from test.io.test_image_annotations import assert_matches_tracks

TOPICS = output_topics()


@pytest.fixture(scope="module")
def scene():
    return make_scene("crossing", seed=3, n_frames=30, height=128, width=160)


@pytest.fixture(scope="module")
def sim_bag(scene, tmp_path_factory) -> Path:
    return record_scene_bag(scene.frames(), tmp_path_factory.mktemp("in") / "sim")


def idf1(tracks: list[FrameInstances], truth: list[FrameInstances]) -> float:
    from sam2auto_ros.eval import evaluate

    return evaluate({"seq": (truth, tracks)}, with_jf=False).combined["IDF1"]


def test_round_trip_keeps_every_message_and_adds_annotations(sim_bag, scene, tmp_path):
    out = tmp_path / "labelled"
    report = annotate_bag(sim_bag, out, classes=CLASS_NAMES, progress=False)
    assert report.frames == 30 and report.messages_copied == 60
    original = list(read_messages(sim_bag))
    written = list(read_messages(out))
    copied = [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in written if m.topic not in TOPICS.values()]
    assert copied == [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in original]  # count, order, bytes
    per_topic = Counter(m.topic for m in written)
    assert per_topic[TOPICS["tracks"]] == per_topic[TOPICS["detections"]] == per_topic[TOPICS["overlay"]] == 30
    # independently of rosbags: mcap's reader and ROS 2 decoder read the new bag
    decoded = defaultdict(list)
    with next(out.glob("*.mcap")).open("rb") as handle:
        for _, channel, _, msg in make_reader(handle, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            decoded[channel.topic].append(msg)
    assert len(decoded[TOPICS["tracks"]]) == 30 and decoded[TOPICS["overlay"]][0].width == 160
    tracks = [frame_from_msg(m.decode()) for m in written if m.topic == TOPICS["tracks"]]
    truth = [f.gt for f in scene.frames()]
    assert [t.stamp_ns for t in tracks] == [g.stamp_ns for g in truth]  # stamped with the source frames
    assert idf1(tracks, truth) > 0.8  # weight-free backend; 1.0 measured on this seed
    # Foxglove annotations, read back with mcap's ROS 2 decoder: one per frame, showing its tracks
    annotations = decoded[TOPICS["annotations"]]
    assert len(annotations) == 30
    assert sum(assert_matches_tracks(t, a) for t, a in zip(tracks, annotations)) > 30
    assert not list(tmp_path.glob(".labelled.partial-*"))


def test_sqlite3_in_and_out_with_compressed_frames(scene, tmp_path):
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    compressed = store.types[msg_types.COMPRESSED_IMAGE]
    src = tmp_path / "compressed"
    with BagWriter(src, storage="sqlite3") as writer:
        for f in list(scene.frames())[:12]:
            fmt, data = encode_compressed(f.image, "png")  # lossless: the truth still fits the pixels
            header = classes.header(stamp=ns_to_stamp(f.stamp_ns, classes.time), frame_id="cam")
            writer.write("/cam/image/compressed", compressed(header=header, format=fmt, data=data), f.stamp_ns)
            writer.write(SIM_TRUTH_TOPIC, frame_to_msg(f.gt, classes), f.stamp_ns)
    out = tmp_path / "out"
    report = annotate_bag(src, out, classes=CLASS_NAMES, storage="sqlite3", overlay=False, progress=False)
    assert report.image_topic == "/cam/image/compressed" and next(out.glob("*.db3"))
    written = list(read_messages(out))
    assert [m.rawdata for m in written if m.topic == "/cam/image/compressed"] == [m.rawdata for m in read_messages(src, ["/cam/image/compressed"])]
    assert TOPICS["overlay"] not in {m.topic for m in written}


class _ScriptedDetector:
    """Test double of the Detector interface: detects nothing (and raises Ctrl-C on call ``interrupt_at``)."""

    name = "scripted"
    needs_truth = False

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls = 0
        self.interrupt_at = interrupt_at

    def detect(self, image, stamp_ns, truth=None):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return FrameInstances(stamp_ns, image.shape[0], image.shape[1])

    def reset(self) -> None:
        """Nothing per sequence to forget."""


def _scripted_pipeline(interrupt_at: int | None = None) -> Pipeline:
    from sam2auto_ros.fallback import OpticalFlowPropagator

    return Pipeline(_ScriptedDetector(interrupt_at), OpticalFlowPropagator())


def test_interrupted_run_leaves_nothing_that_looks_complete(sim_bag, tmp_path):
    pipeline = _scripted_pipeline(interrupt_at=5)
    with pytest.raises(KeyboardInterrupt):
        annotate_bag(sim_bag, tmp_path / "out", pipeline, progress=False)
    assert list(tmp_path.iterdir()) == []


def _write_bag(path: Path, frames, storage: str = "mcap") -> Path:
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    with BagWriter(path, storage=storage) as writer:
        for i, (pixels, encoding) in enumerate(frames):
            header = classes.header(stamp=ns_to_stamp(10**9 + i, classes.time), frame_id="cam")
            writer.write("/cam/image", store.types[msg_types.IMAGE](header=header, **image_fields(pixels, encoding)), 10**9 + i)
    return path


def _assert_refused(tmp_path: Path, bag: Path, match: str, **kwargs) -> None:
    out = tmp_path / "refused_out"
    with pytest.raises(AnnotateError, match=match):
        annotate_bag(bag, out, progress=False, **kwargs)
    assert not out.exists() and not list(tmp_path.glob(".refused_out*"))


def test_bad_inputs_give_one_clear_error_and_write_nothing(sim_bag, tmp_path):
    rgb = np.zeros((32, 40, 3), np.uint8)
    _assert_refused(tmp_path, tmp_path / "nope", "does not exist")
    _assert_refused(tmp_path, sim_bag, r"no topic /camera/image_raw; image topics in it: /sam2auto/image", topic="/camera/image_raw")
    _assert_refused(tmp_path, sim_bag, "not an image", topic=SIM_TRUTH_TOPIC)
    with BagWriter(tmp_path / "empty"):
        pass
    _assert_refused(tmp_path, tmp_path / "empty", "is empty")
    mixed = _write_bag(tmp_path / "mixed", [(rgb, "rgb8")] * 3 + [(rgb[..., 0], "mono8")])
    _assert_refused(tmp_path, mixed, r"frame 3 of /cam/image is mono8 40x32, earlier frames are rgb8 40x32: mixed encodings",
                    pipeline=_scripted_pipeline())
    resized = _write_bag(tmp_path / "resized", [(rgb, "rgb8"), (rgb[:16], "rgb8")])
    _assert_refused(tmp_path, resized, "frame 1 of /cam/image is rgb8 40x16", pipeline=_scripted_pipeline())
    # a bag with no ground truth and no detector weights: says what is missing
    _assert_refused(tmp_path, _write_bag(tmp_path / "real", [(rgb, "rgb8")] * 2),
                    "needs the ground truth.*`sam2auto models download sam2.1_hiera_tiny owlv2-base`")


def test_unknown_message_type_is_named(tmp_path):
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg("int32 x", "acme_msgs/msg/Widget"))
    with Writer(tmp_path / "acme", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/widget", "acme_msgs/msg/Widget", typestore=store)
        widget = store.types["acme_msgs/msg/Widget"](x=3)
        writer.write(conn, 1, store.serialize_cdr(widget, "acme_msgs/msg/Widget"))
    _assert_refused(tmp_path, tmp_path / "acme", r"/widget \(acme_msgs/msg/Widget\)")


def test_truncated_and_corrupt_bags(sim_bag, tmp_path):
    import shutil

    truncated = tmp_path / "truncated"
    shutil.copytree(sim_bag, truncated)
    data_file = next(truncated.glob("*.mcap"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    _assert_refused(tmp_path, truncated, "cannot open bag")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(sim_bag, corrupt)
    data_file = next(corrupt.glob("*.mcap"))
    raw = bytearray(data_file.read_bytes())
    raw[8:4000] = b"\xff" * (4000 - 8)  # header and first chunk overwritten
    data_file.write_bytes(bytes(raw))
    _assert_refused(tmp_path, corrupt, "corrupt|cannot open")
    garbage = tmp_path / "garbage"
    shutil.copytree(_write_bag(tmp_path / "sq", [(np.zeros((8, 8, 3), np.uint8), "rgb8")], "sqlite3"), garbage)
    next(garbage.glob("*.db3")).write_bytes(b"not a database" * 100)
    _assert_refused(tmp_path, garbage, "cannot open bag|corrupt")


def test_cli_annotate_then_export(sim_bag, tmp_path, capsys):
    out = tmp_path / "labelled"
    assert cli_main(["annotate-bag", str(sim_bag), str(out), "--classes", *CLASS_NAMES, "--quiet", "--no-overlay"]) == 0
    assert "60 input messages copied unchanged" in capsys.readouterr().out
    assert cli_main(["dataset", "export", str(out), "--out", str(tmp_path / "ds"), "--format", "coco", "mots"]) == 0
    assert (tmp_path / "ds" / "coco.json").exists() and (tmp_path / "ds" / "overlay.mp4").exists()
    assert len(list((tmp_path / "ds" / "images" / "video").glob("*.jpg"))) == 30
    assert cli_main(["annotate-bag", str(sim_bag), str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_damaged_bytes_never_crash_and_never_leave_an_output(tmp_path):
    """Random byte flips: either a clean result or one AnnotateError (pixel damage is undetectable:
    rosbags writes no CRCs), and a failed run leaves nothing at the output path."""
    import random
    import shutil

    src = record_scene_bag(make_scene("crossing", seed=1, n_frames=4, height=48, width=48).frames(), tmp_path / "src")
    rng = random.Random(7)
    outcomes = Counter()
    for trial in range(40):
        bag, out = tmp_path / f"bag{trial}", tmp_path / f"out{trial}"
        shutil.copytree(src, bag)
        data_file = next(bag.glob("*.mcap"))
        raw = bytearray(data_file.read_bytes())
        pos = rng.randrange(len(raw) - 8)
        raw[pos : pos + 4] = bytes(rng.randrange(256) for _ in range(4))
        data_file.write_bytes(bytes(raw))
        try:
            report = annotate_bag(bag, out, classes=CLASS_NAMES, progress=False)
        except AnnotateError:
            outcomes["refused"] += 1
            assert not out.exists()
            continue
        outcomes["done"] += 1
        # a finished run is a complete, readable bag: every frame it read has its tracks message
        per_topic = Counter(m.topic for m in read_messages(out))
        assert report.frames > 0 and per_topic["/sam2auto/annotated/tracks"] == report.frames
        assert sum(per_topic.values()) == report.messages_copied + sum(n for t, n in per_topic.items() if t.startswith("/sam2auto/annotated/"))
    assert outcomes["refused"] > 0 and outcomes["done"] > 0 and sum(outcomes.values()) == 40
    assert not list(tmp_path.glob(".out*"))


# -- several cameras in one run ---------------------------------------------------------------------


def _write_cameras_bag(path: Path, cameras: dict[str, list], compressed: tuple[str, ...] = (), truth: tuple[str, ...] | None = None) -> Path:
    """A multi-camera sim recording: per namespace ``<ns>/image`` (``<ns>/image/compressed``, PNG, for
    those in ``compressed``) and ``<ns>/ground_truth`` (for those in ``truth``; default all), all
    streams interleaved by stamp as a recorder would write them."""
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    truth = tuple(cameras) if truth is None else truth
    merged = sorted(((sim.stamp_ns, ns, sim) for ns, frames in cameras.items() for sim in frames), key=lambda x: (x[0], x[1]))
    with BagWriter(path) as writer:
        for stamp, ns, sim in merged:
            header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id=f"{ns.strip('/')}_camera")
            if ns in compressed:
                fmt, data = encode_compressed(sim.image, "png")
                writer.write(f"{ns}/image/compressed", store.types[msg_types.COMPRESSED_IMAGE](header=header, format=fmt, data=data), stamp)
            else:
                writer.write(f"{ns}/image", store.types[msg_types.IMAGE](header=header, **image_fields(sim.image)), stamp)
            if ns in truth:
                writer.write(f"{ns}/ground_truth", frame_to_msg(sim.gt, classes), stamp)
    return path


@pytest.fixture(scope="module")
def cameras():
    """Two cameras that differ in size, rate, stamps and encoding."""
    front = list(make_scene("crossing", seed=3, n_frames=16, height=64, width=96).frames())
    rear = list(make_scene("occlusion", seed=5, n_frames=14, height=80, width=64, fps=15.0, start_ns=1_000_000_000 + 7_000_000).frames())
    return {"/front": front, "/rear": rear}


@pytest.fixture(scope="module")
def two_camera_bag(cameras, tmp_path_factory) -> Path:
    return _write_cameras_bag(tmp_path_factory.mktemp("cams") / "two", cameras, compressed=("/rear",))


CAMERA_TOPICS = ["/front/image", "/rear/image/compressed"]


def _tracks_of(bag: Path, topic: str) -> list[FrameInstances]:
    return [frame_from_msg(m.decode()) for m in read_messages(bag, [topic])]


def test_two_cameras_labelled_in_one_run_each_as_its_own_sequence(two_camera_bag, cameras, tmp_path):
    from sam2auto_ros.export.from_bag import bag_custom_data

    out = tmp_path / "labelled"
    report = annotate_bag(two_camera_bag, out, classes=CLASS_NAMES, all_cameras=True, progress=False)
    assert [(c.image_topic, c.frames) for c in report.cameras] == [("/front/image", 16), ("/rear/image/compressed", 14)]
    assert report.frames == 30 and report.messages_copied == 60
    with pytest.raises(ValueError, match="2 cameras"):
        report.image_topic  # noqa: B018 (no single topic to name)
    original = list(read_messages(two_camera_bag))
    written = list(read_messages(out))
    # the compressed camera's overlay is a JPEG CompressedImage, in image_transport's naming
    per_camera = {ns: output_topics(f"/sam2auto/annotated{ns}", jpeg_overlay=ns == "/rear") for ns in cameras}
    assert per_camera["/rear"]["overlay"] == "/sam2auto/annotated/rear/overlay/compressed"
    ours = {t for topics in per_camera.values() for t in topics.values()}
    assert [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in written if m.topic not in ours] == \
        [(m.topic, m.msgtype, m.timestamp_ns, m.rawdata) for m in original]  # count, order, bytes
    counts = Counter(m.topic for m in written)
    custom = bag_custom_data(out)
    assert json.loads(custom["cameras"]) == {topic: per_camera[ns] for topic, ns in zip(CAMERA_TOPICS, cameras)}
    assert "image_topic" not in custom  # no single camera for one-camera readers to pair frames with
    ids = {}
    for (ns, frames), camera in zip(cameras.items(), report.cameras):
        topics = per_camera[ns]
        assert camera.annotation_topics == topics and camera.truth_topic == f"{ns}/ground_truth"
        assert counts[topics["detections"]] == counts[topics["tracks"]] == counts[topics["overlay"]] == len(frames)
        tracks = _tracks_of(out, topics["tracks"])
        # only this camera's frames: its stamps, its size, its frame_id
        assert [t.stamp_ns for t in tracks] == [f.stamp_ns for f in frames]
        assert {(t.height, t.width, t.frame_id) for t in tracks} == {(*frames[0].image.shape[:2], f"{ns.strip('/')}_camera")}
        overlay = next(read_messages(out, [topics["overlay"]])).decode()
        size = decode_compressed(overlay).shape[:2] if ns == "/rear" else (overlay.height, overlay.width)
        assert size == frames[0].image.shape[:2]
        assert idf1(tracks, [f.gt for f in frames]) > 0.5
        ids[ns] = {i.track_id for t in tracks for i in t.instances}
        assert camera.tracks == len(ids[ns])
    assert ids["/front"] & ids["/rear"]  # each camera numbers its own tracks from the start, as the live graph does
    assert report.tracks == len(ids["/front"]) + len(ids["/rear"])
    # each camera is its own sequence: the rear camera labelled alone gives the same tracks (the
    # detector's noise draws restart per camera; its truth is the one in its own namespace)
    alone = tmp_path / "rear_alone"
    single = annotate_bag(two_camera_bag, alone, classes=CLASS_NAMES, topic="/rear/image/compressed", progress=False)
    assert single.image_topic == "/rear/image/compressed" and single.cameras[0].truth_topic == "/rear/ground_truth"
    for kind in ("detections", "tracks"):
        assert [m.rawdata for m in read_messages(alone, [TOPICS[kind]])] == \
            [m.rawdata for m in read_messages(out, [per_camera["/rear"][kind]])]
    assert not list(tmp_path.glob(".*partial-*"))


def test_camera_choice_flags(two_camera_bag, tmp_path):
    _assert_refused(tmp_path, two_camera_bag, r"2 image topics \(/front/image, /rear/image/compressed\); choose one or more "
                    r"with --topic, or label every camera with --all-cameras")
    _assert_refused(tmp_path, two_camera_bag, "not both", topic=["/front/image"], all_cameras=True)
    _assert_refused(tmp_path, two_camera_bag, "named more than once", topic=["/front/image", "/front/image"])
    _assert_refused(tmp_path, two_camera_bag, "no topic /side/image", topic=["/front/image", "/side/image"])
    _assert_refused(tmp_path, two_camera_bag, r"--truth-topic names the ground truth of ONE camera, but 2 are labelled",
                    topic=CAMERA_TOPICS, truth_topic="/front/ground_truth")
    # clash checks cover every camera: /rear/tracks of a bag recorded from the live graph, with --output-ns /
    rgb = np.zeros((8, 8, 3), np.uint8)
    live = _write_topics_bag(tmp_path / "live", {"/front/image": [(rgb, "rgb8")], "/rear/image": [(rgb, "rgb8")]})
    with BagWriter(tmp_path / "live_tracks") as writer:
        for message in read_messages(live):
            writer.write_raw(message.topic, message.msgtype, message.rawdata, message.timestamp_ns)
        writer.write("/rear/tracks", frame_to_msg(FrameInstances(10**9, 8, 8), MessageClasses.rosbags()), 10**9)
    _assert_refused(tmp_path, tmp_path / "live_tracks", r"already has /rear/tracks; write the annotations elsewhere",
                    all_cameras=True, output_ns="/", pipeline=_scripted_pipeline())


def _write_topics_bag(path: Path, streams: dict[str, list]) -> Path:
    """Raw ``Image`` streams ``{topic: [(pixels, encoding), ...]}``, frame i of each at stamp 1 s + i ns."""
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    with BagWriter(path) as writer:
        for topic, frames in streams.items():
            for i, (pixels, encoding) in enumerate(frames):
                header = classes.header(stamp=ns_to_stamp(10**9 + i, classes.time), frame_id=topic)
                writer.write(topic, store.types[msg_types.IMAGE](header=header, **image_fields(pixels, encoding)), 10**9 + i)
    return path


class _CountingTruthDetector(_ScriptedDetector):
    """The scripted test double, claiming to need ground truth as the weight-free detector does."""

    needs_truth = True


def test_camera_without_truth_is_refused_before_anything_is_decoded(cameras, tmp_path):
    bag = _write_cameras_bag(tmp_path / "no_rear_truth", cameras, truth=("/front",))
    detector = _CountingTruthDetector()
    from sam2auto_ros.fallback import OpticalFlowPropagator

    _assert_refused(tmp_path, bag, r"camera /rear/image has no ground truth: .* InstanceMaskArray topic /rear/ground_truth",
                    all_cameras=True, pipeline=Pipeline(detector, OpticalFlowPropagator()))
    assert detector.calls == 0  # the front camera (first, with truth) was not processed either


def test_image_topics_sharing_a_namespace_are_refused(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    bag = _write_topics_bag(tmp_path / "raw_rect", {"/cam/image_raw": [(rgb, "rgb8")] * 2, "/cam/image_rect": [(rgb, "rgb8")] * 2,
                                                    "/aux/image": [(rgb, "rgb8")] * 2})
    _assert_refused(tmp_path, bag, r"image topics /cam/image_raw and /cam/image_rect share the namespace /cam, which names ONE "
                    r"camera's annotations \(/sam2auto/annotated/cam/tracks\); label them in separate runs",
                    all_cameras=True, pipeline=_scripted_pipeline())
    # one of them with another camera is fine; each alone keeps the one-camera layout
    report = annotate_bag(bag, tmp_path / "two", _scripted_pipeline(), topic=["/cam/image_rect", "/aux/image"], progress=False)
    assert [c.annotation_topics["tracks"] for c in report.cameras] == ["/sam2auto/annotated/cam/tracks", "/sam2auto/annotated/aux/tracks"]
    report = annotate_bag(bag, tmp_path / "one", _scripted_pipeline(), topic=["/cam/image_raw"], progress=False)
    assert report.cameras[0].annotation_topics == TOPICS


def test_a_failing_camera_leaves_nothing_even_after_others_succeeded(tmp_path):
    rgb = np.zeros((16, 24, 3), np.uint8)
    bag = _write_topics_bag(tmp_path / "bad_second", {"/a/image": [(rgb, "rgb8")] * 3, "/b/image": [(rgb, "rgb8"), (rgb[:8], "rgb8")]})
    _assert_refused(tmp_path, bag, "frame 1 of /b/image is rgb8 24x8", all_cameras=True, pipeline=_scripted_pipeline())


def test_all_cameras_skips_rendered_overlays(two_camera_bag, tmp_path):
    """An annotated bag labelled again: its overlay image topics (raw and JPEG) are outputs, not cameras."""
    first = tmp_path / "first"
    annotate_bag(two_camera_bag, first, _scripted_pipeline(), topic=CAMERA_TOPICS, progress=False)
    assert {"/sam2auto/annotated/front/overlay", "/sam2auto/annotated/rear/overlay/compressed"} <= {m.topic for m in read_messages(first)}
    report = annotate_bag(first, tmp_path / "again", _scripted_pipeline(), all_cameras=True, output_ns="/again", progress=False)
    assert [c.image_topic for c in report.cameras] == CAMERA_TOPICS


def test_cli_labels_several_cameras_and_prints_a_line_per_camera(two_camera_bag, tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli_main(["annotate-bag", str(two_camera_bag), str(out), "--classes", *CLASS_NAMES, "--quiet", "--no-overlay",
                     "--topic", *CAMERA_TOPICS]) == 0
    printed = capsys.readouterr().out
    assert "60 input messages copied unchanged, 2 cameras labelled" in printed
    assert re.search(r"^  /front/image: 16 frames, \d+ tracks -> /sam2auto/annotated/front/tracks$", printed, re.MULTILINE), printed
    assert re.search(r"^  /rear/image/compressed: 14 frames, \d+ tracks -> /sam2auto/annotated/rear/tracks$", printed, re.MULTILINE)
    with pytest.raises(SystemExit):
        cli_main(["annotate-bag", str(two_camera_bag), str(tmp_path / "x"), "--topic", "/front/image", "--all-cameras"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert cli_main(["annotate-bag", str(two_camera_bag), str(tmp_path / "y"), "--quiet", "--all-cameras",
                     "--truth-topic", "/front/ground_truth"]) == 2
    assert "ONE camera" in capsys.readouterr().err and not (tmp_path / "y").exists()


# -- compressed cameras: kept compressed between the passes, overlay as JPEG ------------------------


def _write_jpeg_bag(path: Path, frames, topic: str = "/cam/image/compressed", corrupt_at: int | None = None) -> Path:
    """A sim recording as a robot writes it: JPEG ``CompressedImage`` frames (+ ground truth)."""
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    with BagWriter(path) as writer:
        for i, f in enumerate(frames):
            fmt, data = encode_compressed(f.image, "jpeg", 80)
            if i == corrupt_at:
                data = data[: len(data) // 4]  # a torn frame: the JPEG stops a quarter in
            header = classes.header(stamp=ns_to_stamp(f.stamp_ns, classes.time), frame_id="cam")
            writer.write(topic, store.types[msg_types.COMPRESSED_IMAGE](header=header, format=fmt, data=data), f.stamp_ns)
            writer.write(SIM_TRUTH_TOPIC, frame_to_msg(f.gt, classes), f.stamp_ns)
    return path


def test_jpeg_camera_gives_the_tracks_of_its_decoded_frames_and_a_jpeg_overlay(scene, tmp_path):
    from sam2auto_ros.export.from_bag import bag_custom_data, export_bag

    frames = list(scene.frames())[:12]
    jpeg_bag = _write_jpeg_bag(tmp_path / "jpeg", frames)
    # the same frames as the read pass decodes them, recorded raw: the tracks must be the same bytes
    decoded = [decode_compressed(m.decode()) for m in read_messages(jpeg_bag, ["/cam/image/compressed"])]
    raw_bag = record_scene_bag([replace(f, image=img) for f, img in zip(frames, decoded)], tmp_path / "raw", frame_id="cam")
    out, out_raw = tmp_path / "out", tmp_path / "out_raw"
    report = annotate_bag(jpeg_bag, out, classes=CLASS_NAMES, progress=False)
    annotate_bag(raw_bag, out_raw, classes=CLASS_NAMES, progress=False)
    for kind in ("detections", "tracks"):
        ours = [m.rawdata for m in read_messages(out, [TOPICS[kind]])]
        assert len(ours) == 12 and ours == [m.rawdata for m in read_messages(out_raw, [TOPICS[kind]])]
    assert any(f.instances for f in _tracks_of(out, TOPICS["tracks"]))  # not trivially equal
    overlay_topic = "/sam2auto/annotated/overlay/compressed"
    assert report.cameras[0].annotation_topics["overlay"] == overlay_topic
    assert report.topics[overlay_topic] == msg_types.COMPRESSED_IMAGE and TOPICS["overlay"] not in report.topics
    assert json.loads(bag_custom_data(out)["annotation_topics"])["overlay"] == overlay_topic
    overlays = list(read_messages(out, [overlay_topic]))
    assert len(overlays) == 12 and {m.msgtype for m in overlays} == {msg_types.COMPRESSED_IMAGE}
    first = overlays[0].decode()
    assert first.format == "jpeg" and decode_compressed(first).shape == frames[0].image.shape
    # a JPEG overlay is about the size of the camera's own frames, not raw RGB
    raw_overlay = sum(len(m.rawdata) for m in read_messages(out_raw, [TOPICS["overlay"]]))
    camera = sum(len(m.rawdata) for m in read_messages(jpeg_bag, ["/cam/image/compressed"]))
    assert sum(len(m.rawdata) for m in overlays) < min(raw_overlay / 3, 3 * camera)
    # the exporter still takes the camera's frames (the .../overlay/compressed topic is no camera)
    written = export_bag(out, tmp_path / "ds", ["coco"], images=True, video=False)
    assert len(list(written["images"].rglob("*.jpg"))) == 12
    assert len(json.loads((tmp_path / "ds" / "coco.json").read_text())["images"]) == 12


def test_overlay_format_can_be_forced_either_way(scene, tmp_path, capsys):
    frames = list(scene.frames())[:4]
    jpeg_bag = _write_jpeg_bag(tmp_path / "jpeg", frames)
    raw = annotate_bag(jpeg_bag, tmp_path / "raw_overlay", _scripted_pipeline(), overlay_format="raw", progress=False)
    assert raw.topics[TOPICS["overlay"]] == msg_types.IMAGE
    assert next(read_messages(tmp_path / "raw_overlay", [TOPICS["overlay"]])).decode().encoding == "rgb8"
    sim = record_scene_bag(frames, tmp_path / "sim")
    assert cli_main(["annotate-bag", str(sim), str(tmp_path / "jpeg_overlay"), "--quiet", "--overlay-format", "jpeg",
                     "--classes", *CLASS_NAMES]) == 0
    assert "overlay -> /sam2auto/annotated/overlay/compressed" in capsys.readouterr().out
    assert [m.msgtype for m in read_messages(tmp_path / "jpeg_overlay", ["/sam2auto/annotated/overlay/compressed"])] == \
        [msg_types.COMPRESSED_IMAGE] * 4
    _assert_refused(tmp_path, sim, "overlay format 'png' is not one of auto, raw, jpeg", overlay_format="png")


def test_bad_compressed_frames_are_refused_by_frame_and_topic(scene, tmp_path):
    frames = list(scene.frames())[:5]
    _assert_refused(tmp_path, _write_jpeg_bag(tmp_path / "torn", frames, corrupt_at=3),
                    r"frame 3 of /cam/image/compressed cannot be decoded", pipeline=_scripted_pipeline())
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    with BagWriter(tmp_path / "resized") as writer:
        for i, image in enumerate((frames[0].image, frames[1].image[:64])):
            fmt, data = encode_compressed(image, "jpeg")
            header = classes.header(stamp=ns_to_stamp(10**9 + i, classes.time), frame_id="cam")
            writer.write("/cam/image/compressed", store.types[msg_types.COMPRESSED_IMAGE](header=header, format=fmt, data=data), 10**9 + i)
    _assert_refused(tmp_path, tmp_path / "resized", r"frame 1 of /cam/image/compressed is compressed 160x64, earlier frames are "
                    r"compressed 160x128", pipeline=_scripted_pipeline())


@pytest.mark.slow
def test_downloaded_weights_label_real_footage_with_no_configuration_file(tmp_path, monkeypatch, capsys):
    """What `sam2auto models download sam2.1_hiera_tiny owlv2-base` leaves in the models folder
    (random weights in the released layout here) is enough: `annotate-bag IN OUT --classes person`
    on a bag without ground truth runs SMART-OD (the default detector.model resolves through the
    registry) and SAM 2, no parameter file given."""
    from sam2auto_ros.sam2.loading import save_random_checkpoint
    from sam2auto_ros.sam2.registry import MODELS_DIR_ENV
    from test.smart_od.tiny_detectors import tiny_owlv2

    models = tmp_path / "models"
    save_random_checkpoint(models / "sam2.1_hiera_tiny.pt", "configs/sam2.1/sam2.1_hiera_t.yaml", image_size=256)
    owl, processor = tiny_owlv2()
    owl.save_pretrained(models / "detectors" / "owlv2-base")
    processor.save_pretrained(models / "detectors" / "owlv2-base")
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    frames = [(np.random.default_rng(i).integers(0, 255, (64, 80, 3), dtype=np.uint8), "rgb8") for i in range(1)]
    real = _write_bag(tmp_path / "real", frames)
    out = tmp_path / "out"
    # --image-size only keeps the random SAM 2 small enough for a test; nothing else is configured
    assert cli_main(["annotate-bag", str(real), str(out), "--classes", "person", "--quiet", "--no-overlay", "--image-size", "256"]) == 0
    assert "(smart-od + FLASH on" in capsys.readouterr().out
    detections = [m for m in read_messages(out, [TOPICS["detections"]])]
    assert len(detections) == 1  # a detections message for the frame, from SMART-OD

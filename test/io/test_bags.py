"""Bags written without rclpy must read back identically and be what rclpy itself would send."""

import json
from pathlib import Path

import numpy as np
import pytest

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagError, BagWriter, read_messages
from sam2auto_ros.io.images import image_fields, image_to_array
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp



def make_frame(seed: int, height: int = 48, width: int = 64) -> tuple[np.ndarray, FrameInstances]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    instances = []
    for k in range(3):
        mask = np.zeros((height, width), bool)
        y, x = rng.integers(0, height - 10), rng.integers(0, width - 10)
        mask[y : y + rng.integers(2, 10), x : x + rng.integers(2, 10)] = True
        mask &= rng.random((height, width)) > 0.2
        instances.append(
            Instance.from_mask_array(mask, label=f"class{k}", class_id=k, score=float(rng.random()), track_id=k + 10 * seed, status=InstanceStatus(k % 4))
        )
    instances.append(Instance(mask=None, box=[1.5, 2.5, 3.5, 4.5], label="box-only", score=0.25))
    return image, FrameInstances(stamp_ns=1_700_000_000_123_456_789 + seed, height=height, width=width, instances=tuple(instances), frame_id="cam")


def assert_same_frame(a: FrameInstances, b: FrameInstances) -> None:
    assert (a.stamp_ns, a.height, a.width, a.frame_id) == (b.stamp_ns, b.height, b.width, b.frame_id)
    assert len(a) == len(b)
    for x, y in zip(a.instances, b.instances):
        assert (x.label, x.class_id, x.track_id, x.status) == (y.label, y.class_id, y.track_id, y.status)
        assert x.score == pytest.approx(y.score, abs=1e-7)  # float32 on the wire
        assert np.array_equal(x.box, y.box)
        if x.mask is None:
            assert y.mask is None
        else:
            assert np.array_equal(x.mask.to_array(), y.mask.to_array())


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_roundtrip(tmp_path, storage):
    classes = MessageClasses.rosbags()
    image_cls = msg_types.typestore().types[msg_types.IMAGE]
    frames = [make_frame(s) for s in range(5)]
    bag = tmp_path / "bag"
    with BagWriter(bag, storage=storage) as writer:
        writer.set_custom_data("sam2auto.labels", json.dumps(["a", "b"]))
        for image, frame in frames:
            header = classes.header(stamp=ns_to_stamp(frame.stamp_ns, classes.time), frame_id="cam")
            writer.write("/image", image_cls(header=header, **image_fields(image)), frame.stamp_ns)
            writer.write("/tracks", frame_to_msg(frame, classes), frame.stamp_ns)
    messages = list(read_messages(bag))
    assert [m.topic for m in messages] == ["/image", "/tracks"] * 5
    for (image, frame), (img_msg, trk_msg) in zip(frames, zip(messages[::2], messages[1::2])):
        pixels, encoding = image_to_array(img_msg.decode())
        assert encoding == "rgb8" and np.array_equal(pixels, image)
        assert_same_frame(frame, frame_from_msg(trk_msg.decode()))
    metadata = (bag / "metadata.yaml").read_text()
    assert "sam2auto.labels" in metadata and f"storage_identifier: {storage}" in metadata


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_window_reads_the_messages_received_inside_it(tmp_path, storage):
    bag = tmp_path / "bag"
    stamps = [1_000 * k for k in range(40)]
    with BagWriter(bag, storage=storage) as writer:
        for stamp in stamps:
            writer.write_raw("/a", "std_msgs/msg/Empty", b"\x00\x01\x00\x00\x00", stamp)
    window = list(read_messages(bag, ["/a"], (7_000, 19_000)))
    assert [m.timestamp_ns for m in window] == [s for s in stamps if 7_000 <= s < 19_000]
    assert [m.timestamp_ns for m in read_messages(bag, None, (39_000, 99_000))] == [39_000]


@pytest.mark.ros
def test_bag_bytes_deserialize_with_rclpy_types(tmp_path):
    """The colcon-built rclpy classes read what rosbags wrote, and the type hashes agree."""
    from rclpy.serialization import deserialize_message, serialize_message

    from sam2auto_ros.msg import InstanceMaskArray
    from sensor_msgs.msg import Image

    classes = MessageClasses.rosbags()
    image_cls = msg_types.typestore().types[msg_types.IMAGE]
    image, frame = make_frame(1)
    bag = tmp_path / "bag"
    with BagWriter(bag) as writer:
        header = classes.header(stamp=ns_to_stamp(frame.stamp_ns, classes.time), frame_id="cam")
        writer.write("/image", image_cls(header=header, **image_fields(image)), frame.stamp_ns)
        writer.write("/tracks", frame_to_msg(frame, classes), frame.stamp_ns)
    img_raw, trk_raw = (m.rawdata for m in read_messages(bag))

    rclpy_tracks = deserialize_message(trk_raw, InstanceMaskArray)
    assert_same_frame(frame, frame_from_msg(rclpy_tracks))
    # And back: rosbags reads rclpy's serialization. (Not compared byte for byte: Fast CDR leaves
    # alignment padding uninitialised, rosbags writes zeros.)
    again = msg_types.typestore().deserialize_cdr(serialize_message(rclpy_tracks), msg_types.INSTANCE_MASK_ARRAY)
    assert_same_frame(frame, frame_from_msg(again))
    rclpy_image = deserialize_message(img_raw, Image)
    assert np.array_equal(image_to_array(rclpy_image)[0], image)

    from ament_index_python.packages import get_package_share_directory

    # rosidl's type hashes, from the colcon install space, for both packages the project builds
    packages = {msg_types.PACKAGE: msg_types.MESSAGE_NAMES, msg_types.FOXGLOVE_PACKAGE: msg_types.FOXGLOVE_NAMES}
    for package, names in packages.items():
        share = Path(get_package_share_directory(package)) / "msg"
        for name in names:
            described = json.loads((share / f"{name}.json").read_text())
            type_name = f"{package}/msg/{name}"
            rosidl_hash = next(h["hash_string"] for h in described["type_hashes"] if h["type_name"] == type_name)
            assert msg_types.typestore().hash_rihs01(type_name) == rosidl_hash, type_name


def test_writer_refuses_existing_path_and_unknown_storage(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="already exists"):
        BagWriter(tmp_path / "exists")
    with pytest.raises(BagError, match="unknown storage"):
        BagWriter(tmp_path / "x", storage="rosbag1")


def test_reader_errors_name_the_problem(tmp_path):
    with pytest.raises(BagError, match="does not exist"):
        list(read_messages(tmp_path / "missing"))
    (tmp_path / "notabag").mkdir()
    with pytest.raises(BagError, match="cannot open bag"):
        list(read_messages(tmp_path / "notabag"))
    classes = MessageClasses.rosbags()
    with BagWriter(tmp_path / "bag") as writer:
        writer.write("/tracks", frame_to_msg(make_frame(0)[1], classes), 1)
    with pytest.raises(BagError, match="no topic /camera"):
        list(read_messages(tmp_path / "bag", ["/camera"]))


def test_truncated_mcap_is_reported(tmp_path):
    classes = MessageClasses.rosbags()
    bag = tmp_path / "bag"
    with BagWriter(bag) as writer:
        for s in range(20):
            writer.write("/tracks", frame_to_msg(make_frame(s)[1], classes), s + 1)
    data_file = next(bag.glob("*.mcap"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    with pytest.raises(BagError):
        list(read_messages(bag))


def test_decoded_mask_message_rejects_corrupt_rle():
    classes = MessageClasses.rosbags()
    msg = frame_to_msg(make_frame(0)[1], classes)
    msg.instances[0].mask_counts = np.array([1, 2, 3], dtype=np.uint32)
    from sam2auto_ros.core.masks import MaskCodecError

    with pytest.raises(MaskCodecError, match="corrupt RLE"):
        frame_from_msg(msg)

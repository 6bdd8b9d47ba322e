"""One rosbags typestore for bags read under Jazzy and Kilted alike."""

from __future__ import annotations

from rosbags.typesys import Stores, get_typestore

from sam2auto_ros.io import msg_types


def test_jazzy_and_kilted_define_every_shared_type_alike():
    """The bags are written with Jazzy's definitions; Kilted's must hash the same, or a Kilted
    reader would see other types under the same names."""
    jazzy, kilted = get_typestore(Stores.ROS2_JAZZY), get_typestore(Stores.ROS2_KILTED)
    shared = sorted(set(jazzy.types) & set(kilted.types))
    assert {msg_types.IMAGE, msg_types.COMPRESSED_IMAGE, "std_msgs/msg/Header"} <= set(shared)
    differing = [t for t in shared if jazzy.hash_rihs01(t) != kilted.hash_rihs01(t)]
    assert differing == []


def test_the_store_knows_the_foxglove_annotation_types():
    store = msg_types.typestore()
    points = store.types["foxglove_msgs/msg/PointsAnnotation"]
    assert points.LINE_LOOP == 2
    assert [f for f in store.types[msg_types.IMAGE_ANNOTATIONS].__dataclass_fields__ if not f.isupper()][:3] == [
        "circles", "points", "texts"]

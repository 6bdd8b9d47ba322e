"""``sam2auto demo``: the whole mission on an embedded default, no weights or internet needed.

Today it records a synthetic labelled sequence as a rosbag2 and reads it back; it grows into
sim scene -> bag -> SMART-OD + FLASH -> exports -> metrics as those stages land.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagWriter, read_messages
from sam2auto_ros.io.images import image_fields
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the embedded demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    parser.add_argument("--frames", type=int, default=30)
    parser.set_defaults(func=run)


def _scene(frames: int, height: int = 256, width: int = 256):
    yy, xx = np.mgrid[:height, :width]
    for t in range(frames):
        image = np.full((height, width, 3), 40, dtype=np.uint8)
        instances = []
        for obj, (cx, cy, r, color) in enumerate([(40 + 5 * t, 90, 25, (220, 60, 60)), (200 - 3 * t, 170, 30, (60, 200, 90))]):
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            image[mask] = color
            instances.append(Instance.from_mask_array(mask, label=("ball", "box")[obj], score=0.9, track_id=obj + 1, status=InstanceStatus.CONFIRMED))
        yield t, image, FrameInstances(stamp_ns=1_000_000_000 + t * 33_333_333, height=height, width=width, instances=tuple(instances), frame_id="camera")


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    bag = args.out / f"demo_{time.strftime('%Y%m%d_%H%M%S')}"
    classes = MessageClasses.rosbags()
    image_cls = msg_types.typestore().types[msg_types.IMAGE]
    with BagWriter(bag) as writer:
        for _, image, frame in _scene(args.frames):
            header = classes.header(stamp=ns_to_stamp(frame.stamp_ns, classes.time), frame_id=frame.frame_id)
            writer.write("/sam2auto/image", image_cls(header=header, **image_fields(image)), frame.stamp_ns)
            writer.write("/sam2auto/tracks", frame_to_msg(frame, classes), frame.stamp_ns)
    tracks = [frame_from_msg(m.decode()) for m in read_messages(bag, ["/sam2auto/tracks"])]
    ids = sorted({i.track_id for f in tracks for i in f.instances})
    print(f"wrote and re-read {bag}: {len(tracks)} frames of tracks, track ids {ids}")
    return 0

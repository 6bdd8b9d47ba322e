"""``vision_msgs/Detection2DArray`` for planners that speak vision_msgs, when it is installed.

vision_msgs is on every ROS 2 distribution's apt repository but on no Python registry, so the
import is guarded: on pip-only installs ``AVAILABLE`` is False and nothing is published. The
track id goes into ``Detection2D.id`` (the field meant for tracking ids) and the label into
``results[0].hypothesis.class_id``. Not exercised by this repository's tests (no vision_msgs here).
"""

from __future__ import annotations

from typing import Any

from sam2auto_ros.core.instance import FrameInstances

try:
    from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesisWithPose

    AVAILABLE = True
except ImportError:
    AVAILABLE = False


def detection2d_array(frame: FrameInstances, header: Any) -> Any:
    """One Detection2D per instance: box centre/size, label + score, ``id`` = track id."""
    detections = []
    for inst in frame.instances:
        x0, y0, x1, y1 = (float(v) for v in inst.box)
        bbox = BoundingBox2D(size_x=x1 - x0, size_y=y1 - y0)
        bbox.center.position.x, bbox.center.position.y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = inst.label
        hypothesis.hypothesis.score = float(inst.score)
        detections.append(Detection2D(header=header, results=[hypothesis], bbox=bbox,
                                      id=str(inst.track_id) if inst.has_track else ""))
    return Detection2DArray(header=header, detections=detections)

"""smart_od_node's SMART-OD adapter: several cameras share one loaded detector, each with its own
vocabulary copy and statistics (the node-level tests run the sim-noise detector over DDS)."""

from __future__ import annotations

import pytest

from sam2auto_ros.ros.smart_od_node import _SmartOdAdapter
from sam2auto_ros.smart_od.pipeline import SmartOD
from test.smart_od.test_pipeline import BlobDetector, _config, _frame

pytestmark = pytest.mark.ros  # imports rclpy


def _boxes(instances) -> list[tuple]:
    return sorted((i.label, tuple(i.box.tolist())) for i in instances)


def test_another_camera_shares_the_detector_but_not_the_state():
    detector = BlobDetector()
    front = _SmartOdAdapter(SmartOD(_config(generate_masks=False), detector=detector))
    rear = front.for_another_camera()
    assert rear.pipeline.detector is detector and rear.pipeline is not front.pipeline
    assert rear.pipeline.config is not front.pipeline.config

    image = _frame()
    classes = ("cat", "dog")
    for _ in range(5):  # the front camera builds up score statistics; the rear one starts fresh
        seen_front = front.detect(image, classes)
    fresh = _SmartOdAdapter(SmartOD(_config(generate_masks=False), detector=BlobDetector()))
    assert _boxes(rear.detect(image, classes)) == _boxes(fresh.detect(image, classes))
    assert {i.label for i in seen_front} == {"cat", "dog"}

    front.detect(image, ("cat",))  # a vocabulary change on one camera's pipeline leaves the other's config alone
    assert front.pipeline.config.detector.class_names == ["cat"]
    assert rear.pipeline.config.detector.class_names == ["cat", "dog"]


def test_the_text_embedding_cache_is_reported_once_for_all_cameras():
    """/diagnostics values of smart_od_node come from ``detector_values``: a vocabulary change
    shows as misses for the new names only."""
    from test.smart_od.tiny_detectors import tiny_owlv2

    from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers

    detector = Owlv2Detector(TorchOwlv2Towers(tiny_owlv2()[0]), tiny_owlv2()[1], score_floor=0.0)
    front = _SmartOdAdapter(SmartOD(_config(generate_masks=False), detector=detector))
    rear = front.for_another_camera()
    front.detect(_frame(), ("cat", "dog"))
    rear.detect(_frame(), ("cat", "dog", "car"))
    values = front.detector_values()
    assert values == rear.detector_values()
    assert (values["text_cache.misses"], values["text_cache.hits"], values["text_cache.size"]) == (3, 2, 3)
    assert _SmartOdAdapter(SmartOD(_config(generate_masks=False), detector=BlobDetector())).detector_values() == {}

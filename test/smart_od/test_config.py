"""SMART-OD configuration: the shipped YAML mirrors the dataclass defaults; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2auto_ros.smart_od.config import ConfigError, SmartODConfig

YAML = Path(__file__).resolve().parents[2] / "config" / "smart_od.yaml"


def test_shipped_yaml_equals_the_defaults():
    assert SmartODConfig.from_yaml(YAML).to_dict() == SmartODConfig().to_dict()


def test_dotted_and_nested_keys():
    cfg = SmartODConfig.from_dict({"amg.points_per_side": 16, "threshold": {"method": "kmeans"}, "generate_masks": False})
    assert cfg.amg.points_per_side == 16 and cfg.threshold.method == "kmeans" and not cfg.generate_masks
    assert cfg.amg.points_per_batch == 64


@pytest.mark.parametrize(
    "params, message",
    [
        ({"amg.points_per_sid": 16}, "unknown SMART-OD parameter amg.points_per_sid; known: "),
        ({"thresholds": {"method": "kmeans"}}, "unknown SMART-OD parameter"),
        ({"threshold.method": "otsu"}, "unknown threshold.method"),
        ({"threshold.theta_min": 1.5}, "theta_min"),
        ({"detector.backend": "yolo"}, "unknown detector.backend"),
        ({"slicing.slice_size": 4}, "slice_size"),
        # the cases: a string where a number belongs (was a TypeError traceback), a boolean
        # given as the string "no" (was taken as true), a section given as a scalar (was kept)
        ({"amg": {"points_per_side": "16"}}, "amg.points_per_side must be an integer, got the string '16'"),
        ({"slicing.enabled": "no"}, "slicing.enabled must be true or false, got the string 'no'"),
        ({"amg": 5}, r"amg is a section \(a mapping of parameters: points_per_side"),
        ({"generate_masks": {"on": True}}, "generate_masks is a single value, not a section"),
        ({"detector.class_names": ["car", ""]}, r"detector.class_names\[1\] is empty"),
        ({"detector.class_names": ["car", "car"]}, "detector.class_names name 'car' more than once"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ConfigError, match=message):
        SmartODConfig.from_dict(params)


def test_yaml_without_the_node_section(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("other_node:\n  ros__parameters: {}\n")
    with pytest.raises(ConfigError, match="smart_od_node"):
        SmartODConfig.from_yaml(path)

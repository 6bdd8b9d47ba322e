"""FlashConfig: defaults documented in config/flash.yaml, bad values refused with the name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sam2auto_ros.flash import FlashConfig, FlashConfigError

YAML = Path(__file__).resolve().parents[2] / "config" / "flash.yaml"


def test_yaml_mirrors_every_default():
    params = yaml.safe_load(YAML.read_text())["/**/flash_node"]["ros__parameters"]
    assert set(params) == set(FlashConfig().to_dict())
    assert FlashConfig.from_yaml(str(YAML)) == FlashConfig()


def test_every_field_is_documented_in_the_yaml():
    text = YAML.read_text().splitlines()
    for name in FlashConfig().to_dict():
        line = next(i for i, l in enumerate(text) if l.strip().startswith(f"{name}:"))
        assert text[line - 1].strip().startswith("#"), f"{name} has no comment above it"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"match_iou": 1.5}, "match_iou must lie in"),
        ({"confirm_hits": 0}, "confirm_hits must be at least 1"),
        ({"gallery_size": -1}, "gallery_size must not be negative"),
        ({"admit_score": float("nan")}, "admit_score must be a finite number"),
        ({"max_objects": 2.5}, "max_objects must be an integer"),
        ({"non_overlapping": "yes"}, "non_overlapping must be true or false"),
        ({"keepalive_init": 40}, "must not exceed keepalive_max"),
    ],
)
def test_bad_values_name_the_parameter(changes, message):
    with pytest.raises(FlashConfigError, match=message):
        FlashConfig(**changes)


def test_unknown_names_are_an_error_not_ignored(tmp_path):
    with pytest.raises(FlashConfigError, match="unknown FLASH parameter"):
        FlashConfig.from_dict({"match_iuo": 0.4})
    bad = tmp_path / "flash.yaml"
    bad.write_text("other_node:\n  ros__parameters:\n    match_iou: 0.4\n")
    with pytest.raises(FlashConfigError, match="no section for node '/flash_node'"):
        FlashConfig.from_yaml(str(bad))


def test_integers_are_accepted_for_floats():
    assert FlashConfig(match_iou=1).match_iou == 1.0

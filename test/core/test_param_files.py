"""Parameter-file matching: the offline reader must pick what rcl itself gives a node."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sam2auto_ros.core.param_files import ParamFileError, node_parameters, read_node_parameters

DOCUMENT = {
    "/**": {"ros__parameters": {"everyone": 1, "overridden": "wildcard"}},
    "/**/flash_node": {"ros__parameters": {"any_ns": 2, "overridden": "any_ns"}},
    "flash_node": {"ros__parameters": {"root_only": 3}},
    "/robot/*": {"ros__parameters": {"one_token": 4}},
    "robot": {"front": {"flash_node": {"ros__parameters": {"nested": 6}}}},
    "/other_node": {"ros__parameters": {"other": 7}},
}
BUILT_IN = {"use_sim_time", "start_type_description_service"}  # every rclpy node declares these
PLACES = [("flash_node", ""), ("flash_node", "/robot"), ("flash_node", "/robot/front"),
          ("flash_node", "/robot/left/low"), ("other_node", ""), ("smart_od_node", "/a/b/c")]


@pytest.mark.parametrize(("node", "namespace", "expected"), [
    ("flash_node", "", {"everyone": 1, "overridden": "any_ns", "any_ns": 2, "root_only": 3}),
    ("flash_node", "/robot", {"everyone": 1, "overridden": "any_ns", "any_ns": 2, "one_token": 4}),
    ("flash_node", "/robot/front", {"everyone": 1, "overridden": "any_ns", "any_ns": 2, "nested": 6}),
    ("flash_node", "/robot/left/low", {"everyone": 1, "overridden": "any_ns", "any_ns": 2}),
    ("smart_od_node", "/a/b/c", {"everyone": 1, "overridden": "wildcard"}),
])
def test_sections_match_by_name_pattern(node, namespace, expected):
    assert node_parameters(DOCUMENT, node, namespace) == expected


def test_no_matching_section_is_none_and_a_clear_error_from_a_file(tmp_path: Path):
    doc = {"/other": {"ros__parameters": {"x": 1}}}
    assert node_parameters(doc, "flash_node", "/ns") is None
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ParamFileError, match=r"no section for node '/ns/flash_node'.*'/\*\*/flash_node"):
        read_node_parameters(path, "flash_node", "/ns")


@pytest.mark.parametrize(("text", "match"), [
    ("/ns/cam*/n:\n  ros__parameters: {}\n", "whole name tokens"),
    (None, "cannot read"), ("a: [1, 2\n", "not valid YAML"), ("- 1\n- 2\n", "mapping of node names"),
    ("/**/n:\n  ros__parameters: [1]\n", "must be a mapping"),
])
def test_bad_files_are_clear_errors(tmp_path: Path, text, match):
    path = tmp_path / "p.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ParamFileError, match=match):
        read_node_parameters(path, "n")


@pytest.mark.ros
def test_matches_what_rcl_gives_a_node(rclpy_context, tmp_path: Path):
    """The same file through rcl (``--params-file``) and through node_parameters, node by node."""
    import rclpy

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    for node_name, namespace in PLACES:
        node = rclpy.create_node(
            node_name, namespace=namespace or None, context=rclpy_context,
            cli_args=["--ros-args", "--params-file", str(path)],
            automatically_declare_parameters_from_overrides=True)
        try:
            from_rcl = {name: param.value for name, param in node.get_parameters_by_prefix("").items()
                        if name not in BUILT_IN}
        finally:
            node.destroy_node()
        assert from_rcl == (node_parameters(DOCUMENT, node_name, namespace) or {}), (node_name, namespace)

"""Parameter tables: descriptions from the core's config docs, and the change gate."""

import re

import pytest
from rclpy.parameter import Parameter

from sam2auto_ros.core.validation import check_class_names
from sam2auto_ros.flash import FlashConfig
from sam2auto_ros.ros.params import CONFIGURE, RUNTIME, ParamSpec, check_change, dataclass_specs, declare, to_config_value


def test_config_dataclass_becomes_described_parameters():
    specs = {s.name: s for s in dataclass_specs(FlashConfig)}
    assert specs["match_iou"].default == FlashConfig().match_iou
    assert "IoU" in specs["match_iou"].description  # the field's own docstring
    assert set(specs) <= {f for f in FlashConfig.__dataclass_fields__}
    assert FlashConfig.from_dict({n: to_config_value(s.default, s.default) for n, s in specs.items()}) == FlashConfig()


def test_nested_config_sections_become_dotted_names():
    from dataclasses import dataclass, field

    @dataclass
    class Inner:
        size: int = 3  # the size

    @dataclass
    class Outer:
        inner: Inner = field(default_factory=Inner)
        names: tuple = ("a", "b")
        empty: tuple = ()

    specs = {s.name: s for s in dataclass_specs(Outer)}
    assert specs["inner.size"].default == 3 and specs["inner.size"].description == "the size"
    assert specs["names"].default == ["a", "b"] and "empty" not in specs  # ROS cannot type an empty array


def test_configure_time_parameters_are_refused_while_configured():
    model = ParamSpec("model", "x", "m", when=CONFIGURE)
    classes = ParamSpec("classes", ["a"], "c", when=RUNTIME)
    backend = ParamSpec("backend", "a", "b", choices=("a", "b"))
    rate = ParamSpec("rate", 1.0, "r")
    assert "configure" in check_change(model, "model", "y", configured=True)
    assert check_change(model, "model", "y", configured=False) is None
    assert check_change(classes, "classes", ["b"], configured=True) is None
    assert "backend must be one of a, b; got the string 'c'" == check_change(backend, "backend", "c", configured=False)
    assert check_change(rate, "rate", 3, configured=False) is None  # ints are fine for floats
    assert "number" in check_change(rate, "rate", "fast", configured=False)
    assert check_change(None, "use_sim_time", True, configured=True) is None


def test_the_change_gate_checks_through_the_validation_layer():
    """The node gate refuses what the offline tools refuse, with the same words."""
    flag = ParamSpec("publish_masks", True, "p", when=RUNTIME)
    classes = ParamSpec("classes", ["a"], "c", when=RUNTIME, rule=check_class_names)
    size = ParamSpec("queue_depth", 100, "q", low=1, high=10000)
    assert check_change(flag, "publish_masks", "no", configured=True) == (
        "publish_masks must be true or false, got the string 'no' (write true or false without quotes)")
    assert check_change(classes, "classes", ["car", "car"], configured=True).startswith("classes name 'car' more than once")
    assert check_change(classes, "classes", ["car", ""], configured=True).startswith("classes[1] is empty")
    assert check_change(size, "queue_depth", 0, configured=False) == "queue_depth must lie in [1, 10000], got 0"
    assert check_change(size, "queue_depth", 7, configured=False) is None


@pytest.mark.ros
def test_a_parameter_file_value_of_the_wrong_type_stops_the_node_with_one_line(rclpy_context, tmp_path):
    """``autostart: "no"`` in a parameter file: rclpy's own type error (or a value our rules refuse) becomes
    one ValueError line naming the parameter, which run_node prints before exiting with 2."""
    import rclpy
    from rclpy.node import Node

    specs = [ParamSpec("autostart", False, "a"), ParamSpec("classes", ["x"], "c", rule=check_class_names)]
    for override, message in (
        (Parameter("autostart", value="no"), "parameter autostart must be true or false, got the string 'no'"),
        (Parameter("classes", value=["car", "car"]), "parameter classes name 'car' more than once"),
    ):
        node = Node("params_probe", context=rclpy_context, parameter_overrides=[override])
        try:
            with pytest.raises(ValueError, match=re.escape(message)):
                declare(node, specs)
        finally:
            node.destroy_node()
    assert rclpy.ok(context=rclpy_context)

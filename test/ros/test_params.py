"""Parameter tables: descriptions from the core's config docs, and the change gate."""

from sam2auto_ros.flash import FlashConfig
from sam2auto_ros.ros.params import CONFIGURE, RUNTIME, ParamSpec, check_change, dataclass_specs, to_config_value


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
    assert "not one of" in check_change(backend, "backend", "c", configured=False)
    assert check_change(rate, "rate", 3, configured=False) is None  # ints are fine for floats
    assert "number" in check_change(rate, "rate", "fast", configured=False)
    assert check_change(None, "use_sim_time", True, configured=True) is None

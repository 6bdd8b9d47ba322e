"""The one validation layer: typed values, sections vs scalars, class names, ROS names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest

from sam2auto_ros.core.validation import (
    Spec,
    ValidationError,
    build_dataclass,
    check_class_names,
    check_fields,
    check_fps,
    check_ros_name,
    check_value,
    kind_of,
)


@pytest.mark.parametrize("given", ["no", "false", "False", "0", "", 0, 1, None, [True]])
def test_a_boolean_is_true_or_false_never_a_truthy_string(given):
    with pytest.raises(ValidationError, match=r"^flag must be true or false, got "):
        check_value("flag", given, "bool")
    assert check_value("flag", False, "bool") is False


def test_numbers_integers_strings_and_lists():
    assert check_value("x", 3, "float") == 3.0 and isinstance(check_value("x", 3, "float"), float)
    for bad in (True, "3", math.nan, math.inf, None):
        with pytest.raises(ValidationError, match="x must be a finite number"):
            check_value("x", bad, "float")
    for bad in (2.5, True, "2"):
        with pytest.raises(ValidationError, match="n must be an integer"):
            check_value("n", bad, "int")
    with pytest.raises(ValidationError, match=r"n must lie in \[1, 10\], got 0"):
        check_value("n", 0, "int", low=1, high=10)
    with pytest.raises(ValidationError, match="mode must be one of a, b; got the string 'c'"):
        check_value("mode", "c", "str", choices=("a", "b"))
    assert check_value("xs", (1, 2), "float_list") == [1.0, 2.0]
    with pytest.raises(ValidationError, match=r"xs\[1\] must be a finite number, got the string 'b'"):
        check_value("xs", [1, "b"], "float_list")
    with pytest.raises(ValidationError, match="xs must be a list of a number values, got the string"):
        check_value("xs", "1,2", "float_list")
    assert [kind_of(v) for v in (True, 1, 1.0, "s", ["a"], [1.0])] == ["bool", "int", "float", "str", "str_list", "float_list"]


def test_a_spec_raises_the_callers_own_error_type():
    class MyError(ValueError):
        pass

    with pytest.raises(MyError, match="rate must be a finite number"):
        Spec("rate", "float").check("fast", MyError)


@pytest.mark.parametrize(
    "names, message",
    [
        (["person", ""], r"classes\[1\] is empty"),
        (["person", "   "], r"classes\[1\] is empty"),
        (["car", "person", "car"], "classes name 'car' more than once"),
        (["person "], r"classes\[0\] 'person ' has spaces around it; write 'person'"),
        ("person", "classes must be a list of class names, got the string 'person'"),
        ([1], r"classes\[0\] must be a class name \(a string\)"),
    ],
)
def test_class_names_none_empty_none_twice(names, message):
    with pytest.raises(ValidationError, match=message):
        check_class_names(names)


def test_good_class_names_pass_unchanged():
    assert check_class_names(("traffic light", "person")) == ["traffic light", "person"]
    assert check_class_names([]) == []


@pytest.mark.parametrize("name", ["/sam2auto/annotated", "cam/image", "/a_b/c1", "~/private", "x"])
def test_valid_ros_names(name):
    assert check_ros_name(name, "topic") == name


@pytest.mark.parametrize(
    "name, problem",
    [
        ("", "it is empty"),
        ("/a//b", "it holds '//'"),
        ("/a/b/", "it ends with '/'"),
        ("/a b", "'a b' is not a name token"),
        ("/1cam/image", "'1cam' is not a name token"),
        ("/cam-1", "'cam-1' is not a name token"),
        ("/ns/{node}", "'{node}' is not a name token"),
    ],
)
def test_invalid_ros_names_say_why(name, problem):
    with pytest.raises(ValidationError, match=f"is not a valid ROS topic name: {re.escape(problem)}"):
        check_ros_name(name, "topic")


def test_namespaces_allow_the_root_and_absolute_names_need_the_slash():
    assert check_ros_name("/", "ns", namespace=True) == "/"
    with pytest.raises(ValidationError, match="must start with '/'"):
        check_ros_name("sam2auto/annotated", "--output-ns", namespace=True, relative=False)
    with pytest.raises(ValidationError, match="not a valid ROS namespace"):
        check_ros_name("/my ns", "--output-ns", namespace=True)


def test_frame_rates_a_video_can_have():
    assert check_fps(30) == 30.0
    for absurd in (0, -5, 1e9, math.inf):
        with pytest.raises(ValidationError, match=r"--fps must"):
            check_fps(absurd)


@dataclass
class _Inner:
    size: int = 3
    ratio: float = 0.5
    on: bool = True

    def __post_init__(self) -> None:
        check_fields(self, "inner.")


@dataclass(frozen=True)
class _Outer:
    inner: _Inner = field(default_factory=_Inner)
    names: list[str] = field(default_factory=lambda: ["a"])
    rate: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self)


def test_dataclass_fields_are_checked_and_normalised():
    outer = build_dataclass(_Outer, {"inner.size": 5, "inner": {"ratio": 1}, "rate": 2})
    assert outer.inner.size == 5 and outer.inner.ratio == 1.0 and isinstance(outer.inner.ratio, float)
    assert outer.rate == 2.0 and isinstance(outer.rate, float)  # frozen: set through object.__setattr__


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inner": 5}, r"inner is a section \(a mapping of parameters: size, ratio, on\), got 5"),
        ({"rate": {"x": 1}}, r"rate is a single value, not a section; got a section \({x}\)"),
        ({"inner.on": "no"}, "inner.on must be true or false, got the string 'no'"),
        ({"inner.size": "16"}, "inner.size must be an integer, got the string '16'"),
        ({"names": "a"}, "names must be a list of a string values"),
        ({"inner.sise": 1}, "unknown parameter inner.sise; known: on, ratio, size"),
        ({"rate": 1, "rate.x": 2}, "rate is given both as a value and as a section"),
    ],
)
def test_parameter_files_with_wrong_shapes_or_types_are_refused_by_name(data, message):
    with pytest.raises(ValidationError, match=message):
        build_dataclass(_Outer, data)

"""Node parameters declared from one table: name, default, description, and when it may change.

Each node lists its parameters as ``ParamSpec`` rows; ``declare`` turns them into ROS parameters
with descriptors (shown by ``ros2 param describe``) and checks the values a parameter file or
``--ros-args`` gave them, and ``check_change`` is the gate a node's set-parameters callback uses.
Both check through :mod:`sam2auto_ros.core.validation`, the layer the offline tools use too, so
``autostart: "no"`` is refused with the same words as in a SMART-OD file. The gate: ``runtime`` parameters change any time (the node applies them on
its next frame), ``configure`` parameters only while the node is unconfigured (they pick models
and backends, so changing them means cleanup -> set -> configure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException

from sam2auto_ros.core.validation import Spec, ValidationError, kind_of

RUNTIME = "runtime"
CONFIGURE = "configure"


@dataclass(frozen=True)
class ParamSpec:
    """One parameter. ``choices`` limits a string; ``low``/``high`` bound a number; ``rule`` is a further
    check from :mod:`sam2auto_ros.core.validation` (class names, ROS names) taking (value, name)."""

    name: str
    default: Any
    description: str
    when: str = CONFIGURE
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    rule: Callable[[Any, str], Any] | None = None

    @property
    def spec(self) -> Spec:
        """The core validation layer's view of this parameter (its kind comes from the default)."""
        return Spec(self.name, kind_of(self.default), self.choices, self.low, self.high, self.rule)

    def check(self, value: Any) -> Any:
        """``value`` as the node takes it; ValidationError (one line, the name and the value) when not."""
        if isinstance(value, tuple) or hasattr(value, "tolist"):
            value = list(value)  # ROS arrays arrive as array.array / tuples
        return self.spec.check(value)

    def descriptor(self) -> ParameterDescriptor:
        text = self.description
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        text += " Changeable at run time." if self.when == RUNTIME else " Read at configure."
        desc = ParameterDescriptor(description=text)
        if self.low is not None and self.high is not None:
            if isinstance(self.default, bool):
                pass
            elif isinstance(self.default, int):
                desc.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)]
            elif isinstance(self.default, float):
                desc.floating_point_range = [FloatingPointRange(from_value=float(self.low), to_value=float(self.high), step=0.0)]
        return desc


def declare(node: Any, specs: Sequence[ParamSpec]) -> None:
    """Declare every parameter of ``specs`` on ``node`` (values from YAML/--ros-args override) and check
    the values given through the validation layer.

    Float parameters also take integers (``fps:=30``), as users write them. A value of the wrong type
    (``autostart: "no"``), out of range or breaking a rule raises ValueError with one line naming the
    parameter, what it takes and what it got.
    """
    for spec in specs:
        descriptor = spec.descriptor()
        descriptor.dynamic_typing = isinstance(spec.default, float)
        try:
            value = node.declare_parameter(spec.name, spec.default, descriptor).value
        except ParameterException as exc:  # rclpy's type and range checks on the given value
            given = node._parameter_overrides.get(spec.name)
            if given is None:
                raise ValueError(f"parameter {spec.name}: {exc}") from None
            value = given.value
        try:
            spec.check(value)
        except ValidationError as exc:
            raise ValueError(f"parameter {exc}") from None


def values(node: Any, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """Current values of ``specs`` as plain Python (lists for arrays, floats for float parameters)."""
    out = {}
    for spec in specs:
        value = node.get_parameter(spec.name).value
        if isinstance(spec.default, float):
            value = float(value)
        out[spec.name] = list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else value
    return out


def check_change(spec: ParamSpec | None, name: str, value: Any, configured: bool) -> str | None:
    """Why setting ``name`` to ``value`` is refused, or None when it is allowed."""
    if spec is None:
        return None  # not ours (use_sim_time and other rclpy parameters)
    if spec.when == CONFIGURE and configured:
        return f"{name} is read at configure: deactivate and clean up the node, set it, then configure again"
    try:
        spec.check(value)
    except ValidationError as exc:
        return str(exc)
    return None


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string literal right after the field) or trailing ``# comments``."""
    import ast
    import inspect
    import textwrap

    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    class_def = ast.parse(textwrap.dedent(source)).body[0]
    if not isinstance(class_def, ast.ClassDef):
        return {}
    body = class_def.body
    docs: dict[str, str] = {}
    for node, nxt in zip(body, [*body[1:], None]):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        doc = nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
        if isinstance(doc, str):
            docs[name] = " ".join(doc.split())
        elif "#" in lines[node.lineno - 1]:
            docs[name] = lines[node.lineno - 1].split("#", 1)[1].strip()
    return docs


def dataclass_specs(cls: type, prefix: str = "", when: str = CONFIGURE) -> tuple[ParamSpec, ...]:
    """One ``ParamSpec`` per field of a config dataclass (nested dataclasses become ``section.field``).

    Descriptions come from the fields' docstrings/comments, so the core's documentation is what
    ``ros2 param describe`` shows. Tuples become arrays; fields without a plain default are skipped.
    """
    import dataclasses

    docs = _field_docs(cls)
    specs: list[ParamSpec] = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            continue
        if dataclasses.is_dataclass(default):
            specs.extend(dataclass_specs(type(default), f"{prefix}{f.name}.", when))
            continue
        if isinstance(default, tuple):
            default = list(default)
            if not default or len({type(v) for v in default}) != 1:
                continue  # ROS arrays need one element type and a non-empty default
        if not isinstance(default, (bool, int, float, str, list)):
            continue
        text = docs.get(f.name) or f"{cls.__name__}.{f.name} (see {cls.__module__})."
        specs.append(ParamSpec(prefix + f.name, default, text, when=when))
    return tuple(specs)


def to_config_value(value: Any, default: Any) -> Any:
    """A ROS parameter value as the dataclass field wants it (lists back to tuples)."""
    if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
        return tuple(value)
    return value

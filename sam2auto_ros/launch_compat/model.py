"""The launch entities the compatibility layer understands, and how they evaluate.

Semantics follow the real ``launch`` / ``launch_ros`` for the subset covered: a substitution
value may be a string, a substitution, or a list of them (concatenated); launch arguments are
``name:=value`` strings; parameter values that are substitutions are evaluated and then read as
YAML (``"true"`` -> bool, ``"[a, b]"`` -> list), as ``launch_ros`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from sam2auto_ros.launch_compat import LaunchCompatError


@dataclass
class LaunchContext:
    """The values of the launch arguments while a description is evaluated."""

    arguments: dict[str, str] = field(default_factory=dict)

    @property
    def launch_configurations(self) -> dict[str, str]:
        """The name ``launch.LaunchContext`` gives the same values (read by ``OpaqueFunction`` bodies)."""
        return self.arguments


class Substitution:
    """Something evaluated to text when the launch description runs."""

    def perform(self, context: LaunchContext) -> str:
        raise NotImplementedError


SomeSubstitutions = Union[str, Substitution, Sequence[str | Substitution]]


def perform(value: SomeSubstitutions, context: LaunchContext) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Substitution):
        return value.perform(context)
    if isinstance(value, (list, tuple)):
        return "".join(perform(v, context) for v in value)
    raise LaunchCompatError(f"cannot substitute a {type(value).__name__} ({value!r})")


def is_substitution(value: Any) -> bool:
    if isinstance(value, Substitution):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, (str, Substitution)) for v in value) \
        and any(isinstance(v, Substitution) for v in value)


class TextSubstitution(Substitution):
    def __init__(self, *, text: str) -> None:
        self.text = text

    def perform(self, context: LaunchContext) -> str:
        return self.text


class LaunchConfiguration(Substitution):
    """The value of a launch argument (``name:=value`` or its declared default)."""

    def __init__(self, variable_name: SomeSubstitutions, *, default: SomeSubstitutions | None = None) -> None:
        self.variable_name = variable_name
        self.default = default

    def perform(self, context: LaunchContext) -> str:
        name = perform(self.variable_name, context)
        if name in context.arguments:
            return context.arguments[name]
        if self.default is not None:
            return perform(self.default, context)
        raise LaunchCompatError(f"launch configuration {name!r} is not set and has no default")


class Condition:
    def __init__(self, predicate_expression: SomeSubstitutions) -> None:
        self.predicate = predicate_expression

    def _truth(self, context: LaunchContext) -> bool:
        text = perform(self.predicate, context).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise LaunchCompatError(f"condition expects true/false/1/0, got {text!r}")

    def evaluate(self, context: LaunchContext) -> bool:
        raise NotImplementedError


class IfCondition(Condition):
    def evaluate(self, context: LaunchContext) -> bool:
        return self._truth(context)


class UnlessCondition(Condition):
    def evaluate(self, context: LaunchContext) -> bool:
        return not self._truth(context)


class Action:
    def __init__(self, condition: Condition | None = None) -> None:
        self.condition = condition

    def enabled(self, context: LaunchContext) -> bool:
        return self.condition is None or self.condition.evaluate(context)


class DeclareLaunchArgument(Action):
    def __init__(self, name: str, *, default_value: SomeSubstitutions | None = None, description: str = "",
                 choices: Sequence[str] | None = None, **kwargs: Any) -> None:
        _no_extra("DeclareLaunchArgument", kwargs)
        super().__init__()
        self.name, self.default_value, self.description = name, default_value, description
        self.choices = list(choices) if choices is not None else None


class LogInfo(Action):
    def __init__(self, *, msg: SomeSubstitutions, condition: Condition | None = None) -> None:
        super().__init__(condition)
        self.msg = msg


class OpaqueFunction(Action):
    """``launch.actions.OpaqueFunction``: ``function(context, *args, **kwargs)`` returns more actions,
    evaluated where it stands; how a launch file decides from argument values what to start."""

    def __init__(self, *, function: Callable[..., Iterable[Action] | None], args: Sequence[Any] | None = None,
                 kwargs: dict[str, Any] | None = None, condition: Condition | None = None) -> None:
        super().__init__(condition)
        self.function, self.args, self.kwargs = function, list(args or []), dict(kwargs or {})

    def expand(self, context: LaunchContext) -> list[Action]:
        return list(self.function(context, *self.args, **self.kwargs) or [])


@dataclass
class NodeCall:
    """A node to start, with everything evaluated."""

    package: str
    executable: str
    name: str | None
    namespace: str | None
    parameters: list[str | dict[str, Any]]  # params-file paths and evaluated dicts
    remappings: list[tuple[str, str]]
    arguments: list[str]
    ros_arguments: list[str]

    @property
    def label(self) -> str:
        return self.name or self.executable


class Node(Action):
    """``launch_ros.actions.Node`` for the keyword arguments the project's launch files use."""

    def __init__(self, *, executable: SomeSubstitutions, package: SomeSubstitutions | None = None,
                 name: SomeSubstitutions | None = None, namespace: SomeSubstitutions | None = None,
                 parameters: Iterable[Any] | None = None, remappings: Iterable[tuple[Any, Any]] | None = None,
                 arguments: Iterable[SomeSubstitutions] | None = None, ros_arguments: Iterable[SomeSubstitutions] | None = None,
                 output: str = "log", emulate_tty: bool = False, condition: Condition | None = None, **kwargs: Any) -> None:
        _no_extra("launch_ros.actions.Node", kwargs)
        super().__init__(condition)
        self.executable, self.package, self.name, self.namespace = executable, package, name, namespace
        self.parameters = list(parameters or [])
        self.remappings = list(remappings or [])
        self.arguments = list(arguments or [])
        self.ros_arguments = list(ros_arguments or [])
        self.output = output

    def evaluate(self, context: LaunchContext) -> NodeCall:
        def opt(value: SomeSubstitutions | None) -> str | None:
            return None if value is None else perform(value, context)

        params: list[str | dict[str, Any]] = []
        for entry in self.parameters:
            if isinstance(entry, dict):
                params.append(_evaluate_dict(entry, context))
            else:
                params.append(perform(entry, context))  # a parameter file
        return NodeCall(
            package=opt(self.package) or "",
            executable=perform(self.executable, context),
            name=opt(self.name),
            namespace=opt(self.namespace),
            parameters=params,
            remappings=[(perform(a, context), perform(b, context)) for a, b in self.remappings],
            arguments=[perform(a, context) for a in self.arguments],
            ros_arguments=[perform(a, context) for a in self.ros_arguments],
        )


def _evaluate_dict(params: dict[Any, Any], context: LaunchContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        key = perform(key, context)
        if isinstance(value, dict):
            out[key] = _evaluate_dict(value, context)
        elif is_substitution(value):
            out[key] = _yaml_value(key, perform(value, context))
        elif isinstance(value, (list, tuple)):
            out[key] = [perform(v, context) if isinstance(v, Substitution) else v for v in value]
        else:
            out[key] = value
    return out


def _yaml_value(key: str, text: str) -> Any:
    """Evaluated text read as YAML, as launch_ros does: '' stays '', lists need one element type."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LaunchCompatError(f"parameter {key}: cannot read {text!r} as YAML: {exc}") from None
    if value is None:
        return ""
    if isinstance(value, list):
        if len({type(v) for v in value}) > 1:
            raise LaunchCompatError(f"parameter {key}: list {text!r} mixes element types")
        return value
    if isinstance(value, (bool, int, float, str)):
        return value
    raise LaunchCompatError(f"parameter {key}: {text!r} is a {type(value).__name__}, not a parameter value")


class LaunchDescription:
    def __init__(self, initial_entities: Iterable[Action] | None = None) -> None:
        self.entities: list[Action] = []
        for entity in initial_entities or []:
            self.add_action(entity)

    def add_action(self, action: Action) -> None:
        self._check(action)
        self.entities.append(action)

    @staticmethod
    def _check(action: Any) -> None:
        if not isinstance(action, Action):
            raise LaunchCompatError(
                f"{type(action).__module__}.{type(action).__name__} is not covered by the launch compatibility layer; "
                "run this file with the real `ros2 launch`"
            )

    @property
    def arguments(self) -> list[DeclareLaunchArgument]:
        return [e for e in self.entities if isinstance(e, DeclareLaunchArgument)]

    def evaluate(self, given: dict[str, str]) -> tuple[LaunchContext, list[NodeCall], list[str]]:
        """Resolve the arguments, then the enabled nodes and log messages, in file order."""
        declared = {a.name: a for a in self.arguments}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise LaunchCompatError(f"unknown launch argument(s) {unknown}; this file declares: {', '.join(declared) or 'none'}")
        context = LaunchContext(dict(given))
        for arg in self.arguments:
            if arg.name not in context.arguments:
                if arg.default_value is None:
                    raise LaunchCompatError(f"launch argument {arg.name!r} is required ({arg.description})")
                context.arguments[arg.name] = perform(arg.default_value, context)
            if arg.choices is not None and context.arguments[arg.name] not in arg.choices:
                raise LaunchCompatError(f"launch argument {arg.name}:={context.arguments[arg.name]!r} is not one of {arg.choices}")
        nodes: list[NodeCall] = []
        logs: list[str] = []
        pending = list(self.entities)
        while pending:
            entity = pending.pop(0)
            if not entity.enabled(context):
                continue
            if isinstance(entity, Node):
                nodes.append(entity.evaluate(context))
            elif isinstance(entity, LogInfo):
                logs.append(perform(entity.msg, context))
            elif isinstance(entity, OpaqueFunction):
                try:
                    expanded = entity.expand(context)
                except (ValueError, OSError) as exc:  # how a launch file refuses argument values
                    raise LaunchCompatError(str(exc)) from None
                for action in expanded:
                    self._check(action)
                    if isinstance(action, DeclareLaunchArgument):
                        raise LaunchCompatError(f"launch argument {action.name!r} is declared inside an OpaqueFunction; "
                                                "declare it in the launch description itself")
                pending[:0] = expanded
        return context, nodes, logs


def _no_extra(what: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise LaunchCompatError(
            f"{what}({', '.join(kwargs)}=...) is not covered by the launch compatibility layer; use the real `ros2 launch`"
        )

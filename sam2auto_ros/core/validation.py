"""One validation layer for every value a user hands the project, wherever it comes from.

Parameter files read offline (SMART-OD's and FLASH's config dataclasses), command-line values,
node parameters (``ros/params.py``) and launch arguments (``ros/launch_params.py``) are all checked
here, so a value means the same everywhere and is refused with the same one-line message:

* **typed values** (``check_value``): a boolean is ``true`` or ``false``, never a string (YAML reads
  ``"no"`` quoted as a string, and a string is truthy); an integer is not a boolean; a number is
  finite; a string is one of its ``choices``; numbers lie in ``[low, high]``;
* **sections vs scalars** (``build_dataclass``): a nested section is a mapping, a scalar is not,
  and unknown names are refused;
* **class names** (``check_class_names``): no empty or blank name, none twice, no spaces around;
* **ROS names** (``check_ros_name``): the rules rcl applies to topic names and namespaces.

Messages name the parameter, what it must be and what it got (``classes: ... got ['person', '']``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class ValidationError(ValueError):
    """A value that is not what its parameter takes; the message names both."""


def shown(value: Any) -> str:
    """A value as a message shows it: strings say they are strings (``the string 'no'``)."""
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, Mapping):
        return f"a section ({{{', '.join(map(str, list(value)[:4]))}{', ...' if len(value) > 4 else ''}}})"
    return repr(value)


@dataclass(frozen=True)
class Spec:
    """What one parameter takes. ``kind``: bool, int, float, str, str_list, int_list, float_list or
    bool_list; ``choices`` limit a string (or each string of a list); ``low``/``high`` bound a number
    (or each number of a list); ``rule`` is a further check that returns the value (possibly
    normalised) or raises ValidationError."""

    name: str
    kind: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    rule: Callable[[Any, str], Any] | None = None

    def check(self, value: Any, error: type[Exception] = ValidationError) -> Any:
        """``value`` as this parameter takes it (an int given for a float becomes a float); ``error``
        (the caller's own exception type) when it is not acceptable."""
        try:
            return _check(self, value)
        except ValidationError as exc:
            if error is ValidationError:
                raise
            raise error(str(exc)) from exc


KINDS = ("bool", "int", "float", "str", "str_list", "int_list", "float_list", "bool_list")
_PHRASES = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}


def kind_of(default: Any) -> str:
    """The kind of a parameter from its default value (ROS parameters are typed by their default)."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(default, types):
            return kind
    if isinstance(default, (list, tuple)):
        items = {kind_of(v) for v in default}
        if len(items) == 1:
            return f"{items.pop()}_list"
        raise ValidationError(f"a list parameter's default must hold one type, got {default!r}")
    raise ValidationError(f"no parameter kind for {default!r}")


def _scalar(name: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            hint = " (write true or false without quotes)" if isinstance(value, str) else ""
            raise ValidationError(f"{name} must be true or false, got {shown(value)}{hint}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{name} must be an integer, got {shown(value)}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(f"{name} must be a finite number, got {shown(value)}")
        return float(value)
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {shown(value)}")
    return value


def _bounded(spec: Spec, value: Any, name: str) -> None:
    if spec.choices and value not in spec.choices:
        raise ValidationError(f"{name} must be one of {', '.join(spec.choices)}; got {shown(value)}")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        low = "-inf" if spec.low is None else f"{spec.low:g}"
        high = "inf" if spec.high is None else f"{spec.high:g}"
        raise ValidationError(f"{name} must lie in [{low}, {high}], got {value!r}")


def _check(spec: Spec, value: Any) -> Any:
    if spec.kind not in KINDS:
        raise ValidationError(f"{spec.name}: unknown parameter kind {spec.kind!r}")
    if spec.kind.endswith("_list"):
        item = spec.kind[: -len("_list")]
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise ValidationError(f"{spec.name} must be a list of {_PHRASES[item]} values, got {shown(value)}")
        checked = [_scalar(f"{spec.name}[{i}]", item, v) for i, v in enumerate(value)]
        for i, v in enumerate(checked):
            _bounded(spec, v, f"{spec.name}[{i}]")
    else:
        checked = _scalar(spec.name, spec.kind, value)
        _bounded(spec, checked, spec.name)
    return spec.rule(checked, spec.name) if spec.rule is not None else checked


def check_value(name: str, value: Any, kind: str, *, choices: Sequence[str] = (), low: float | None = None,
                high: float | None = None, error: type[Exception] = ValidationError) -> Any:
    """One value checked without a ``Spec`` table (CLI values, launch arguments)."""
    return Spec(name, kind, tuple(choices), low, high).check(value, error)


# -- rules -------------------------------------------------------------------------------------------
def check_class_names(names: Any, what: str = "classes") -> list[str]:
    """A label map: a list of names, none empty or blank, none with spaces around it, none twice.

    Exported datasets number their categories by name, so an empty or repeated name is refused here,
    before a run, not by ``dataset export`` after it."""
    if isinstance(names, (str, bytes, Mapping)) or not isinstance(names, Sequence):
        raise ValidationError(f"{what} must be a list of class names, got {shown(names)}")
    out = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise ValidationError(f"{what}[{i}] must be a class name (a string), got {shown(name)}")
        if not name.strip():
            raise ValidationError(f"{what}[{i}] is empty; every class needs a name (got {list(names)!r})")
        if name != name.strip():
            raise ValidationError(f"{what}[{i}] {name!r} has spaces around it; write {name.strip()!r}")
        out.append(name)
    twice = sorted({n for n in out if out.count(n) > 1})
    if twice:
        raise ValidationError(f"{what} name {', '.join(map(repr, twice))} more than once; name each class once "
                              f"(got {out!r})")
    return out


MIN_FPS, MAX_FPS = 1e-3, 1e4
"""Frame rates a video can have: beyond 10 kHz consecutive stamps come within 100 us of each other
(at 1e9 fps ``dataset import`` gave every frame the same stamp)."""


def check_fps(value: Any, what: str = "--fps") -> float:
    """A video frame rate in [MIN_FPS, MAX_FPS]."""
    return float(check_value(what, value, "float", low=MIN_FPS, high=MAX_FPS))


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_ros_name(name: Any, what: str, *, namespace: bool = False, relative: bool = True) -> str:
    """A topic name (or, with ``namespace``, a namespace, where ``/`` alone is the root) by rcl's rules:
    tokens of letters, digits and ``_`` that do not start with a digit, separated by single ``/``,
    no ``/`` at the end, ``~/`` first for a private name; ``relative=False`` wants the leading ``/``."""
    if not isinstance(name, str):
        raise ValidationError(f"{what} must be a ROS name (a string), got {shown(name)}")
    if namespace and name == "/":
        return name
    problem = None
    if not name:
        problem = "it is empty"
    elif not relative and not name.startswith("/"):
        problem = "it must start with '/'"
    elif name.endswith("/"):
        problem = "it ends with '/'"
    elif "//" in name:
        problem = "it holds '//'"
    else:
        tokens = name.lstrip("/").split("/")
        if relative and tokens[0] == "~":  # ~/name: in the node's private namespace
            tokens = tokens[1:]
        bad = [t for t in tokens if not _TOKEN.fullmatch(t)]
        if bad:
            problem = (f"{bad[0]!r} is not a name token (letters, digits and '_', not starting with a digit)")
    if problem:
        kind = "namespace" if namespace else "topic name"
        raise ValidationError(f"{what} {name!r} is not a valid ROS {kind}: {problem}")
    return name


# -- dataclass configs ------------------------------------------------------------------------------
def _field_kind(hint: Any) -> str | type | None:
    """A dataclass field's kind from its type hint: a Spec kind, a nested dataclass type, or None (not checked)."""
    if dataclasses.is_dataclass(hint):
        return hint  # type: ignore[return-value]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, tuple, Sequence) and args:
        item = args[0]
        if all(a in (item, Ellipsis) for a in args) and item in (bool, int, float, str):
            return f"{item.__name__}_list"
        return None
    if hint in (bool, int, float, str):
        return hint.__name__
    return None


def check_fields(obj: Any, prefix: str = "", error: type[Exception] = ValidationError) -> None:
    """Check every field of a config dataclass against its type hint (see the module docstring);
    ints given for floats become floats, lists for tuples become tuples. Call it first in ``__post_init__``."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        kind = _field_kind(hints.get(f.name))
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if kind is None:
            continue
        if isinstance(kind, type):
            if not isinstance(value, kind):
                raise error(f"{name} is a section (a mapping of parameters: "
                            f"{', '.join(x.name for x in dataclasses.fields(kind))}), got {shown(value)}")
            continue
        checked = Spec(name, kind).check(value, error)
        if isinstance(value, tuple) and isinstance(checked, list):
            checked = tuple(checked)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)  # frozen dataclasses too


def build_dataclass(cls: type[T], data: Mapping[str, Any] | None, prefix: str = "",
                    error: type[Exception] = ValidationError, what: str = "") -> T:
    """``cls`` from a (possibly nested) mapping, as a parameter file gives it: dotted keys
    (``amg.points_per_side``) or nested sections; unknown names, a scalar where a section belongs
    and a section where a scalar belongs are refused, naming the parameter (``what``: whose, for the
    message: ``"FLASH "``)."""
    if data is not None and not isinstance(data, Mapping):
        raise error(f"{prefix.rstrip('.') or cls.__name__} must be a mapping of parameters, got {shown(data)}")
    nested: dict[str, Any] = {}
    for key, value in (data or {}).items():
        head, _, tail = str(key).partition(".")
        if tail:
            nested.setdefault(head, {})
            if not isinstance(nested[head], dict):
                raise error(f"{prefix}{head} is given both as a value and as a section")
            nested[head][tail] = value
        elif head in nested and isinstance(nested[head], dict) and isinstance(value, Mapping):
            nested[head].update(value)
        else:
            nested[head] = value
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(nested) - set(fields))
    if unknown:
        raise error(f"unknown {what}parameter{'s' if len(unknown) > 1 else ''} {', '.join(prefix + u for u in unknown)}; "
                    f"known: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, value in nested.items():
        kind = _field_kind(hints.get(name))
        if isinstance(kind, type):
            if not isinstance(value, Mapping):
                raise error(f"{prefix}{name} is a section (a mapping of parameters: "
                            f"{', '.join(x.name for x in dataclasses.fields(kind))}), got {shown(value)}")
            kwargs[name] = build_dataclass(kind, value, f"{prefix}{name}.", error, what)
        elif isinstance(value, Mapping):
            raise error(f"{prefix}{name} is a single value, not a section; got {shown(value)}")
        else:
            kwargs[name] = value
    return cls(**kwargs)

"""ROS 2 parameter files (``--params-file`` YAML) read without rclpy, matched as rcl matches them.

The same config/*.yaml feeds the live nodes (rcl reads it) and the offline tools (this module
reads it), so both must pick the same sections. rcl's rules: a section applies to a node when its
key, a node name pattern, matches the node's fully qualified name; a key without a leading ``/``
is rooted; a ``*`` token matches one name token and ``**`` any number of them (rcl refuses
partial globs such as ``cam*``), so ``/**/flash_node``
matches ``flash_node`` in any namespace; namespaces may also be nested mappings; every matching
section applies, later ones overriding earlier ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

PARAMS_KEY = "ros__parameters"


class ParamFileError(ValueError):
    """A parameter file that cannot be read, or has no section for the node asked for."""


def _pattern(key: str) -> re.Pattern[str]:
    regex = ""
    for token in key.strip("/").split("/"):
        if token == "**":
            regex += r"(?:/[^/]+)*"
        elif token == "*":
            regex += r"/[^/]+"
        elif "*" in token:
            raise ParamFileError(f"section {key!r}: wildcards must be whole name tokens ('*' or '**'), as rcl requires")
        else:
            regex += "/" + re.escape(token)
    return re.compile(regex + "$")


def _sections(document: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(node name pattern, parameters) for every ``ros__parameters`` section, in file order."""
    for key, value in document.items():
        if not isinstance(value, Mapping):
            continue
        name = f"{prefix}/{str(key).strip('/')}"
        if PARAMS_KEY in value:
            yield name, value[PARAMS_KEY] or {}
        else:
            yield from _sections(value, name)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: where and what (PyYAML's own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{' '.join(str(problem).split())}"


def fully_qualified(node: str, namespace: str = "") -> str:
    return "/".join(("", *namespace.strip("/").split("/"), node)).replace("//", "/")


def node_parameters(document: Mapping[str, Any], node: str, namespace: str = "") -> dict[str, Any] | None:
    """The parameters a node named ``node`` in ``namespace`` gets from ``document``; None: no section."""
    name = fully_qualified(node, namespace)
    found: dict[str, Any] | None = None
    for pattern, params in _sections(document):
        if _pattern(pattern).match(name):
            if not isinstance(params, Mapping):
                raise ParamFileError(f"section {pattern!r}: '{PARAMS_KEY}' must be a mapping, got {type(params).__name__}")
            found = {**(found or {}), **params}
    return found


def read_node_parameters(path: str | Path, node: str, namespace: str = "",
                         error: type[Exception] = ParamFileError) -> dict[str, Any]:
    """``node_parameters`` of a file; a missing file, bad YAML or no matching section raises
    ``error`` (the caller's own error type, so its callers need catch nothing new)."""
    try:
        return _read(Path(path), node, namespace)
    except ParamFileError as exc:
        if error is ParamFileError:
            raise
        raise error(str(exc)) from exc


def load_document(path: str | Path) -> Mapping[str, Any]:
    """A parameter file's YAML document; ParamFileError (one line) when it cannot be read or is not a mapping."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ParamFileError(f"cannot read parameter file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ParamFileError(f"parameter file {path} is not UTF-8 text (byte {exc.start}); is it the right file?") from exc
    except yaml.YAMLError as exc:
        raise ParamFileError(f"parameter file {path} is not valid YAML: {yaml_problem(exc)}") from exc
    if not isinstance(document, Mapping):
        raise ParamFileError(f"parameter file {path} must hold a mapping of node names, not {type(document).__name__}")
    return document


def _read(path: Path, node: str, namespace: str) -> dict[str, Any]:
    params = node_parameters(load_document(path), node, namespace)
    if params is None:
        raise ParamFileError(f"{path} has no section for node {fully_qualified(node, namespace)!r}: add "
                             f"'/**/{node}: {PARAMS_KEY}: ...' (matches any namespace)")
    return params

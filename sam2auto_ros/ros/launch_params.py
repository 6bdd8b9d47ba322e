"""The parameters each node gets from the project's launch files, and in which order.

Lowest precedence first: the package's config files, the user's ``params_file:=``, then the launch
arguments typed on the command line. Node-setting launch arguments default to '' and an empty one
is not passed at all, so a value from the user's file is never overwritten by a launch default -
the reason nav2 rewrites its YAML instead. Imported only by launch files (real ``launch`` or the
compatibility layer's stand-in, whichever is importable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sam2auto_ros.core.param_files import load_document
from sam2auto_ros.core.param_files import node_parameters as file_node_parameters
from sam2auto_ros.core.validation import check_class_names, check_ros_name
from sam2auto_ros.io.camera_topics import check_camera_names

PARAMS_FILE_ARGUMENT = ("params_file", "",
                        "Your parameter file (keys /**/<node_name>), applied over the package's config/*.yaml; "
                        "launch arguments given on the command line still win.")


def node_parameters(context: Any, config_dir: Path, config_files: Sequence[str], from_arguments: Mapping[str, str],
                    fixed: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> list[Any]:
    """``parameters=`` for one node: config files that exist, ``fixed`` values, the user's file,
    ``{parameter: LaunchConfiguration(argument)}`` for each argument given a non-empty value, then
    ``overrides`` (values the launch file itself must decide, such as one camera of several).

    ``context`` is the launch context an ``OpaqueFunction`` receives.
    """
    from launch.substitutions import LaunchConfiguration

    check_arguments(context)
    values = context.launch_configurations
    out: list[Any] = [str(config_dir / name) for name in config_files if (config_dir / name).is_file()]
    if fixed:
        out.append(dict(fixed))
    path = _user_file(context)
    if path is not None:
        out.append(str(path))
    given = {param: LaunchConfiguration(arg) for param, arg in from_arguments.items() if values.get(arg, "") != ""}
    if given:
        out.append(given)
    if overrides:
        out.append(dict(overrides))
    return out


def check_arguments(context: Any) -> None:
    """The launch arguments that name things, by the rules the nodes and offline tools apply
    (:mod:`sam2auto_ros.core.validation`), so a bad one stops the launch before any node starts:
    ``namespace`` a ROS namespace, ``image_topic`` a topic name, ``classes`` a YAML list of class names."""
    values = context.launch_configurations
    if values.get("namespace", ""):
        check_ros_name(values["namespace"], "namespace:=", namespace=True)
    if values.get("image_topic", ""):
        check_ros_name(values["image_topic"], "image_topic:=")
    text = values.get("classes", "").strip()
    if text:
        try:
            classes = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"classes:={text} is not a YAML list: {exc}") from exc
        check_class_names(classes, "classes:=")


def _user_file(context: Any) -> Path | None:
    user_file = context.launch_configurations.get("params_file", "").strip()
    if not user_file:
        return None
    path = Path(user_file).expanduser()
    if not path.is_file():
        raise ValueError(f"params_file:={user_file} does not exist; pass a ROS 2 parameter file "
                         "(keys /**/<node_name>: ros__parameters: ...)")
    return path.resolve()


def produced_values(context: Any, sources: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """Values the user's params_file sets on the nodes that produce them, for a node that records
    them: ``{"labels": ("smart_od_node", "classes")}`` gives the recorder's ``labels`` the classes
    the file gives smart_od_node, so a file that changes the classes or the backend does not leave
    the bag's label map stale. Meant as ``node_parameters``' ``fixed``: the file's own section for
    the recording node and the typed arguments still win."""
    path = _user_file(context)
    if path is None:
        return {}
    out = {}
    for param, (node, source) in sources.items():
        found = _file_section(path, node, context)
        if source in found:
            out[param] = found[source]
    return out


def file_value(context: Any, config_dir: Path, config_files: Sequence[str], node: str, name: str, default: Any) -> Any:
    """``node``'s parameter ``name`` as the package's config files and the user's params_file set it
    (the later wins), for a launch file that derives values from it."""
    value = default
    for path in [config_dir / f for f in config_files if (config_dir / f).is_file()] + [p for p in [_user_file(context)] if p]:
        value = _file_section(path, node, context).get(name, value)
    return value


def _file_section(path: Path, node: str, context: Any) -> dict[str, Any]:
    return file_node_parameters(load_document(path), node, context.launch_configurations.get("namespace", "")) or {}


def launch_cameras(context: Any) -> tuple[str, ...]:
    """The ``cameras:=`` launch argument (a YAML list) checked as the nodes check it; ``("",)``: one
    unnamed camera."""
    text = context.launch_configurations.get("cameras", "").strip()
    if not text:
        return ("",)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"cameras:={text} is not a YAML list: {exc}") from exc
    if not isinstance(value, list):
        raise ValueError(f"cameras:={text} must be a YAML list, e.g. cameras:=\"[front, rear]\"")
    return check_camera_names(value)

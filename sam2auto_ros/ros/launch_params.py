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

PARAMS_FILE_ARGUMENT = ("params_file", "",
                        "Your parameter file (keys /**/<node_name>), applied over the package's config/*.yaml; "
                        "launch arguments given on the command line still win.")


def node_parameters(context: Any, config_dir: Path, config_files: Sequence[str], from_arguments: Mapping[str, str],
                    fixed: Mapping[str, Any] | None = None) -> list[Any]:
    """``parameters=`` for one node: config files that exist, ``fixed`` values, the user's file,
    then ``{parameter: LaunchConfiguration(argument)}`` for each argument given a non-empty value.

    ``context`` is the launch context an ``OpaqueFunction`` receives.
    """
    from launch.substitutions import LaunchConfiguration

    values = context.launch_configurations
    out: list[Any] = [str(config_dir / name) for name in config_files if (config_dir / name).is_file()]
    if fixed:
        out.append(dict(fixed))
    user_file = values.get("params_file", "").strip()
    if user_file:
        path = Path(user_file).expanduser()
        if not path.is_file():
            raise ValueError(f"params_file:={user_file} does not exist; pass a ROS 2 parameter file "
                             "(keys /**/<node_name>: ros__parameters: ...)")
        out.append(str(path.resolve()))
    given = {param: LaunchConfiguration(arg) for param, arg in from_arguments.items() if values.get(arg, "") != ""}
    if given:
        out.append(given)
    return out

"""``sam2auto launch [sam2auto_ros] FILE [name:=value ...]``: run a project launch file.

Where ROS 2's ``launch``/``launch_ros`` are installed this hands the file to the real
``launch.LaunchService`` (same as ``ros2 launch sam2auto_ros FILE``). On pip-only installs, which
have neither, it runs the same file through ``sam2auto_ros.launch_compat``, a minimal
compatibility layer covering exactly what the project's launch files use.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

PACKAGE = "sam2auto_ros"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("launch", help="run a launch file (annotate.launch.py, sim.launch.py)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-args", action="store_true", help="list the file's launch arguments and exit")
    parser.add_argument("--loopback", action="store_true",
                        help="confine DDS to this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) for every node")
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID for every node (with --loopback)")
    parser.add_argument("target", nargs="+", metavar="ARG",
                        help="[sam2auto_ros] FILE [name:=value ...]: the launch file (a path, or a name in the "
                             "package's launch folder) and its launch arguments")
    parser.set_defaults(func=run)


def find_launch_file(name: str) -> Path:
    """A path as given, else ``name`` in the source tree's or the installed package's launch folder."""
    path = Path(name)
    if path.is_file():
        return path
    candidates = [Path(__file__).resolve().parents[2] / "launch" / name]
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            candidates.append(Path(get_package_share_directory(PACKAGE)) / "launch" / name)
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SystemExit(f"launch file {name!r} not found (looked in {', '.join(str(c.parent) for c in candidates)})")


def parse_target(tokens: list[str]) -> tuple[Path, dict[str, str]]:
    if len(tokens) > 1 and tokens[0] == PACKAGE and ":=" not in tokens[1]:
        tokens = tokens[1:]
    file, rest = tokens[0], tokens[1:]
    arguments = {}
    for token in rest:
        name, sep, value = token.partition(":=")
        if not sep or not name:
            raise SystemExit(f"launch arguments are name:=value, got {token!r}")
        arguments[name] = value
    return find_launch_file(file), arguments


def run(args: argparse.Namespace) -> int:
    from sam2auto_ros.launch_compat import LaunchCompatError, real_launch_available

    path, arguments = parse_target(args.target)
    env = dict(os.environ)
    if args.loopback:
        from sam2auto_ros.ros.dds import loopback_env

        domain = args.domain_id if args.domain_id is not None else int(env.get("ROS_DOMAIN_ID", "0"))
        env = loopback_env(domain, env)
    if real_launch_available():
        os.environ.update(env)
        return _run_real(path, arguments, args.show_args)
    from sam2auto_ros.launch_compat import runner

    try:
        if args.show_args:
            print(runner.describe_arguments(path))
            return 0
        print(f"[launch] {path.name} through sam2auto's launch compatibility layer (no launch_ros installed)", file=sys.stderr)
        return runner.run(path, arguments, env)
    except LaunchCompatError as exc:
        print(f"sam2auto launch: {exc}", file=sys.stderr)
        return 2


def _run_real(path: Path, arguments: dict[str, str], show_args: bool) -> int:
    """The real ROS 2 launch API (not exercised here: no launch_ros on pip-only installs)."""
    import importlib

    # imported by name: the real ROS 2 packages exist only where ROS 2 is installed
    launch: Any = importlib.import_module("launch")
    actions: Any = importlib.import_module("launch.actions")
    sources: Any = importlib.import_module("launch.launch_description_sources")

    source = sources.PythonLaunchDescriptionSource(str(path))
    if show_args:
        for arg in source.get_launch_description(launch.LaunchContext()).get_launch_arguments():
            print(f"{arg.name}: {arg.description} (default: {arg.default_value})")
        return 0
    service = launch.LaunchService(argv=[f"{k}:={v}" for k, v in arguments.items()])
    service.include_launch_description(
        launch.LaunchDescription([actions.IncludeLaunchDescription(source, launch_arguments=list(arguments.items()))])
    )
    return int(service.run())

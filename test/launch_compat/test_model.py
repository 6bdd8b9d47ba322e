"""The launch compatibility layer evaluates the project's launch files as launch_ros would."""

import sys
from pathlib import Path

import pytest

from sam2auto_ros.launch_compat import LaunchCompatError, real_launch_available
from sam2auto_ros.launch_compat.model import (
    DeclareLaunchArgument,
    IfCondition,
    LaunchConfiguration,
    LaunchDescription,
    Node,
    OpaqueFunction,
    UnlessCondition,
)
from sam2auto_ros.launch_compat.runner import command, load

ROOT = Path(__file__).resolve().parents[2]


def _description() -> LaunchDescription:
    arg = LaunchConfiguration
    return LaunchDescription([
        DeclareLaunchArgument("topic", default_value="image"),
        DeclareLaunchArgument("classes", default_value="[a, b]"),
        DeclareLaunchArgument("flag", default_value="false"),
        DeclareLaunchArgument("mode", default_value="x", choices=["x", "y"]),
        Node(package="sam2auto_ros", executable="flash_node", name="f", namespace=arg("mode"),
             parameters=[{"classes": arg("classes"), "on": arg("flag"), "n": "5", "path": arg("topic")}],
             remappings=[("image", arg("topic")), ("image/compressed", [arg("topic"), "/compressed"])]),
        Node(package="sam2auto_ros", executable="sim_camera_node", condition=IfCondition(arg("flag"))),
        Node(package="sam2auto_ros", executable="smart_od_node", condition=UnlessCondition(arg("flag"))),
    ])


def test_arguments_substitutions_and_conditions():
    _, calls, _ = _description().evaluate({"topic": "/cam/raw", "flag": "true"})
    assert [c.executable for c in calls] == ["flash_node", "sim_camera_node"]
    flash = calls[0]
    assert flash.namespace == "x"
    assert flash.remappings == [("image", "/cam/raw"), ("image/compressed", "/cam/raw/compressed")]
    params = flash.parameters[0]
    assert params["classes"] == ["a", "b"] and params["on"] is True  # substitutions read as YAML
    assert params["n"] == "5"  # plain strings stay strings
    _, calls, _ = _description().evaluate({})
    assert [c.executable for c in calls] == ["flash_node", "smart_od_node"]


def test_bad_arguments_are_refused_with_the_name():
    with pytest.raises(LaunchCompatError, match="unknown launch argument"):
        _description().evaluate({"topik": "x"})
    with pytest.raises(LaunchCompatError, match="not one of"):
        _description().evaluate({"mode": "z"})
    with pytest.raises(LaunchCompatError, match="not covered"):
        Node(package="sam2auto_ros", executable="flash_node", respawn=True)


def test_command_line_matches_ros_arguments(tmp_path):
    _, calls, _ = _description().evaluate({"topic": "/cam/raw"})
    cmd = command(calls[0], tmp_path)
    assert cmd[1:3] == ["-m", "sam2auto_ros.ros.flash_node"]
    assert cmd[cmd.index("--ros-args") + 1:][:4] == ["-r", "__node:=f", "-r", "__ns:=/x"]
    params_file = Path(cmd[cmd.index("--params-file") + 1])
    assert "/**" in params_file.read_text() and "ros__parameters" in params_file.read_text()
    assert "image:=/cam/raw" in cmd
    bad = calls[0].__class__(**{**calls[0].__dict__, "package": "other_pkg"})
    with pytest.raises(LaunchCompatError, match="only sam2auto_ros"):
        command(bad, tmp_path)


@pytest.mark.parametrize("name", ["annotate.launch.py", "sim.launch.py"])
def test_project_launch_files_evaluate(name):
    description = load(ROOT / "launch" / name)
    _, calls, _ = description.evaluate({"record": "true", "bag": "/tmp/x"})
    names = [c.executable for c in calls]
    assert "flash_node" in names and "smart_od_node" in names and names[-1] == "recorder_node"
    assert calls[-1].parameters[-1]["bag_path"] == "/tmp/x"
    _, calls, _ = description.evaluate({})
    assert "recorder_node" not in [c.executable for c in calls]
    flash = next(c for c in calls if c.executable == "flash_node")
    # Nothing typed: the package's config files alone decide.
    assert flash.parameters and all(isinstance(p, str) and Path(p).parent == ROOT / "config" for p in flash.parameters)


@pytest.mark.parametrize("name", ["annotate.launch.py", "sim.launch.py"])
def test_names_and_classes_typed_at_launch_follow_the_validation_layer(name):
    """The rules the nodes and the offline tools apply stop a launch before any node starts."""
    description = load(ROOT / "launch" / name)
    cases = [({"namespace": "my robot"}, r"namespace:= 'my robot' is not a valid ROS namespace"),
             ({"namespace": "/robot/"}, "it ends with '/'")]
    if name == "annotate.launch.py":  # the one that takes classes
        cases += [({"classes": "[person, person]"}, "classes:= name 'person' more than once"),
                  ({"classes": "[person, '']"}, r"classes:=\[1\] is empty"),
                  ({"classes": "person"}, "classes:= must be a list of class names")]
    for bad, match in cases:
        with pytest.raises(LaunchCompatError, match=match):
            description.evaluate(bad)
    description.evaluate({"namespace": "/robot/cam_1"})


@pytest.mark.parametrize("name", ["annotate.launch.py", "sim.launch.py"])
def test_params_file_goes_between_the_package_config_and_typed_arguments(name, tmp_path):
    description = load(ROOT / "launch" / name)
    user = tmp_path / "mine.yaml"
    user.write_text("/**/flash_node:\n  ros__parameters:\n    propagator: onnx\n")
    _, calls, _ = description.evaluate({"params_file": str(user), "propagator": "flow-fallback", "use_sim_time": "true"})
    flash = next(c for c in calls if c.executable == "flash_node")
    files = [p for p in flash.parameters if isinstance(p, str)]
    assert files[-1] == str(user.resolve()) and all(Path(p).parent == ROOT / "config" for p in files[:-1])
    assert flash.parameters[-1] == {"propagator": "flow-fallback", "use_sim_time": True}  # typed: read as YAML, last
    with pytest.raises(LaunchCompatError, match="params_file:=.*does not exist"):
        description.evaluate({"params_file": str(tmp_path / "missing.yaml")})


def test_opaque_function_expands_in_place_with_the_argument_values():
    seen = []

    def body(context, suffix, *, extra):
        seen.append((dict(context.launch_configurations), suffix, extra))
        if context.launch_configurations["mode"] == "bad":
            raise ValueError("mode bad is refused")
        return [Node(package="sam2auto_ros", executable="flash_node" + suffix),
                Node(package="sam2auto_ros", executable="never", condition=IfCondition("false"))]

    description = LaunchDescription([
        DeclareLaunchArgument("mode", default_value="x"),
        Node(package="sam2auto_ros", executable="first"),
        OpaqueFunction(function=body, args=["_a"], kwargs={"extra": 1}),
        Node(package="sam2auto_ros", executable="last"),
    ])
    _, calls, _ = description.evaluate({})
    assert [c.executable for c in calls] == ["first", "flash_node_a", "last"]
    assert seen == [({"mode": "x"}, "_a", 1)]
    with pytest.raises(LaunchCompatError, match="mode bad is refused"):
        description.evaluate({"mode": "bad"})
    late = LaunchDescription([OpaqueFunction(function=lambda context: [DeclareLaunchArgument("late")])])
    with pytest.raises(LaunchCompatError, match="declare it in the launch description"):
        late.evaluate({})


@pytest.mark.parametrize(("packages", "real"), [
    ({}, False),  # pip-only install: the compatibility layer runs
    ({"launch": "", "launch_ros": ""}, False),  # PyPI's unrelated `launch` 0.1.3 has no LaunchService
    ({"launch": "class LaunchService: pass\n"}, False),  # launch without launch_ros
    ({"launch": "class LaunchService: pass\n", "launch_ros": ""}, True),  # a ROS 2 install: real launch
])
def test_real_launch_is_recognised(packages, real, tmp_path, monkeypatch):
    # the importable packages are set here, so what this machine has installed decides nothing
    for name, body in packages.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(body)
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    for name in ("launch", "launch_ros"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # restored after the test
    try:
        assert real_launch_available() is real
    finally:
        for name in ("launch", "launch_ros"):
            sys.modules.pop(name, None)


def _effective(call, node: str, namespace: str = "sam2auto") -> dict:
    """What a node ends up with from its ``parameters=`` list, files read as rcl reads them."""
    from sam2auto_ros.core.param_files import ParamFileError, read_node_parameters

    merged: dict = {}
    for item in call.parameters:
        if isinstance(item, str):
            try:
                merged.update(read_node_parameters(item, node, namespace))
            except ParamFileError:  # a file without a section for this node
                continue
        else:
            merged.update(item)
    return merged


def test_recorder_follows_the_pipeline_values_of_the_users_file(tmp_path):
    description = load(ROOT / "launch" / "annotate.launch.py")
    user = tmp_path / "mine.yaml"
    user.write_text("/**/smart_od_node:\n  ros__parameters:\n    classes: [person, forklift]\n    cameras: [front, rear]\n"
                    "/**/flash_node:\n  ros__parameters:\n    propagator: onnx\n")

    def recorder(**typed):
        _, calls, _ = description.evaluate({"params_file": str(user), "record": "true", **typed})
        return _effective(next(c for c in calls if c.executable == "recorder_node"), "recorder_node")

    got = recorder()
    assert (got["labels"], got["backend"], got["cameras"]) == (["person", "forklift"], "onnx", ["front", "rear"])
    assert got["model"] == "sam2.1_hiera_tiny"  # not in the user's file: the package's config
    assert recorder(classes="[dog]")["labels"] == ["dog"]  # typed arguments still win
    user.write_text(user.read_text() + "/**/recorder_node:\n  ros__parameters:\n    labels: [mine]\n")
    assert recorder()["labels"] == ["mine"]  # and so does the file's own recorder section
    user.write_text("/**/smart_od_node: [unclosed\n")
    with pytest.raises(LaunchCompatError, match="not valid YAML"):
        recorder()


def test_sim_launch_with_several_cameras_starts_one_simulated_camera_each(tmp_path):
    description = load(ROOT / "launch" / "sim.launch.py")
    _, calls, _ = description.evaluate({"cameras": "[front, rear]", "seed": "4", "record": "true"})
    cams = [c for c in calls if c.executable == "sim_camera_node"]
    assert [c.namespace for c in cams] == ["sam2auto/front", "sam2auto/rear"]
    got = [_effective(c, "sim_camera_node", c.namespace) for c in cams]
    assert [(g["seed"], g["frame_id"]) for g in got] == [(4, "sim_front"), (5, "sim_rear")]  # distinct scenes
    for node in ("smart_od_node", "flash_node", "recorder_node"):
        assert _effective(next(c for c in calls if c.executable == node), node)["cameras"] == ["front", "rear"]
    user = tmp_path / "mine.yaml"  # the seed comes from the user's file when not typed
    user.write_text("/**/sim_camera_node:\n  ros__parameters:\n    seed: 9\n")
    _, calls, _ = description.evaluate({"cameras": "[a, b, c]", "params_file": str(user)})
    assert [_effective(c, "sim_camera_node", c.namespace)["seed"] for c in calls if c.executable == "sim_camera_node"] == [9, 10, 11]
    _, calls, _ = description.evaluate({})  # one camera: as before, in the namespace itself
    assert [c.namespace for c in calls if c.executable == "sim_camera_node"] == ["sam2auto"]
    for bad, match in (({"cameras": "[front, front]"}, "names a camera twice"), ({"cameras": "front"}, "must be a YAML list"),
                       ({"cameras": "[front, rear]", "use_sim_time": "true"}, "one simulated clock")):
        with pytest.raises(LaunchCompatError, match=match):
            description.evaluate(bad)

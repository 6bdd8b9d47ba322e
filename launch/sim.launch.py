"""The whole graph on a simulated camera, without weights: sim camera, simulated detector, FLASH.

    ros2 launch sam2auto_ros sim.launch.py [seed:=3] [record:=true bag:=out/sim_bag]
    ros2 launch sam2auto_ros sim.launch.py cameras:="[front, rear]"   # one simulated camera each
    sam2auto launch sim.launch.py          # pip-only installs

Settings come from config/sim.yaml and flash.yaml, then ``params_file:=``, then the launch
arguments you type (see annotate.launch.py).
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

import yaml

from sam2auto_ros.ros.launch_params import PARAMS_FILE_ARGUMENT, file_value, launch_cameras, node_parameters, produced_values

CONFIG = Path(__file__).resolve().parent.parent / "config"

ARGUMENTS = (
    ("namespace", "sam2auto", "Namespace of every node and topic."),
    PARAMS_FILE_ARGUMENT,
    # Node settings: '' leaves the value of the parameter files (default named in the text).
    ("scene", "", "Simulated scene preset: default, crossing, occlusion, reentry, mixed (the default)."),
    ("seed", "", "Scene seed (default 0)."),
    ("size", "", "Frame width and height in pixels (default 256)."),
    ("fps", "", "Camera rate (default 30.0)."),
    ("cameras", "", "Simulated cameras, as a YAML list: camera i renders scene seed + i in <namespace>/<camera>/ and "
                    "one detector and one tracker serve them all (default: one camera in <namespace>)."),
    ("sim_noise", "", "Simulated detector noise: perfect, mild (default), benchmark."),
    ("sim_latency", "", "Simulated detector time per frame, seconds (default 0.1)."),
    ("propagator", "", "Mask propagation backend: flow-fallback (default), sam2 or onnx."),
    ("model", "", "SAM 2 model name (propagator:=sam2; default sam2.1_hiera_tiny)."),
    ("checkpoint", "", "SAM 2 checkpoint file (propagator:=sam2)."),
    ("image_size", "", "SAM 2 input side; 0 (default): the model's own."),
    ("use_sim_time", "", "Drive /clock from the simulated camera and run every node on it (default false)."),
    # Recording.
    ("record", "false", "Also record frames, detections and tracks to a bag."),
    ("bag", "", "Output bag directory for record:=true."),
    ("storage", "", "Bag storage for record:=true: mcap (default) or sqlite3."),
)


def nodes(context):
    arg = LaunchConfiguration
    cameras = launch_cameras(context)
    namespace = context.launch_configurations["namespace"]
    if len(cameras) > 1 and yaml.safe_load(context.launch_configurations.get("use_sim_time") or "false"):
        raise ValueError("use_sim_time:=true runs the graph on one simulated clock, which only one simulated camera "
                         "can drive; run several simulated cameras on wall time")
    seed = context.launch_configurations.get("seed") or file_value(context, CONFIG, ["sim.yaml"], "sim_camera_node", "seed", 0)
    if not str(seed).isdigit():
        raise ValueError(f"seed {seed!r} is not a non-negative integer")
    pipeline = {"cameras": "cameras"} if cameras != ("",) else {}
    return [
        *(Node(
            package="sam2auto_ros", executable="sim_camera_node", name="sim_camera_node",
            namespace=f"{namespace}/{camera}" if camera else namespace,
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "scene": "scene", "seed": "seed", "width": "size", "height": "size", "fps": "fps",
                "publish_clock": "use_sim_time"},
                overrides={"seed": int(seed) + i, "frame_id": f"sim_{camera}"} if camera else None),
            output="screen",
        ) for i, camera in enumerate(cameras)),
        Node(
            package="sam2auto_ros", executable="smart_od_node", name="smart_od_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "use_sim_time": "use_sim_time", "sim_noise": "sim_noise", "sim_latency": "sim_latency", **pipeline}),
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="flash_node", name="flash_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["flash.yaml", "sim.yaml"], {
                "use_sim_time": "use_sim_time", "propagator": "propagator", "model": "model",
                "checkpoint": "checkpoint", "image_size": "image_size", **pipeline}),
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="recorder_node", name="recorder_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "use_sim_time": "use_sim_time", "bag_path": "bag", "storage": "storage", "model": "propagator",
                "backend": "propagator", **pipeline},
                # bag metadata follows what your params_file gives flash_node
                produced_values(context, {"model": ("flash_node", "propagator"), "backend": ("flash_node", "propagator")})),
            condition=IfCondition(arg("record")), output="screen",
        ),
    ]


def generate_launch_description():
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS),
        OpaqueFunction(function=nodes),
    ])

"""The whole graph on a simulated camera, without weights: sim camera, simulated detector, FLASH.

    ros2 launch sam2auto_ros sim.launch.py [seed:=3] [record:=true bag:=out/sim_bag]
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

from sam2auto_ros.ros.launch_params import PARAMS_FILE_ARGUMENT, node_parameters, produced_values

CONFIG = Path(__file__).resolve().parent.parent / "config"

ARGUMENTS = (
    ("namespace", "sam2auto", "Namespace of every node and topic."),
    PARAMS_FILE_ARGUMENT,
    # Node settings: '' leaves the value of the parameter files (default named in the text).
    ("scene", "", "Simulated scene preset: default, crossing, occlusion, reentry, mixed (the default)."),
    ("seed", "", "Scene seed (default 0)."),
    ("size", "", "Frame width and height in pixels (default 256)."),
    ("fps", "", "Camera rate (default 30.0)."),
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
    return [
        Node(
            package="sam2auto_ros", executable="sim_camera_node", name="sim_camera_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "scene": "scene", "seed": "seed", "width": "size", "height": "size", "fps": "fps",
                "publish_clock": "use_sim_time"}),
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="smart_od_node", name="smart_od_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "use_sim_time": "use_sim_time", "sim_noise": "sim_noise", "sim_latency": "sim_latency"}),
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="flash_node", name="flash_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["flash.yaml", "sim.yaml"], {
                "use_sim_time": "use_sim_time", "propagator": "propagator", "model": "model",
                "checkpoint": "checkpoint", "image_size": "image_size"}),
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="recorder_node", name="recorder_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["sim.yaml"], {
                "use_sim_time": "use_sim_time", "bag_path": "bag", "storage": "storage", "model": "propagator",
                "backend": "propagator"},
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

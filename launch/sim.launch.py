"""The whole graph on a simulated camera, without weights: sim camera, simulated detector, FLASH.

    ros2 launch sam2auto_ros sim.launch.py [seed:=3] [record:=true bag:=out/sim_bag]
    sam2auto launch sim.launch.py          # pip-only installs

Written against the real ``launch`` / ``launch_ros`` API (see annotate.launch.py).
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = Path(__file__).resolve().parent.parent / "config"

ARGUMENTS = (
    ("namespace", "sam2auto", "Namespace of every node and topic."),
    ("scene", "mixed", "Simulated scene preset: default, crossing, occlusion, reentry, mixed."),
    ("seed", "0", "Scene seed."),
    ("size", "256", "Frame width and height in pixels."),
    ("fps", "30.0", "Camera rate."),
    ("sim_noise", "mild", "Simulated detector noise: perfect, mild, benchmark."),
    ("sim_latency", "0.1", "Simulated detector time per frame, seconds."),
    ("propagator", "flow-fallback", "Mask propagation backend: flow-fallback, sam2 or onnx."),
    ("model", "sam2.1_hiera_tiny", "SAM 2 model name (propagator:=sam2)."),
    ("checkpoint", "", "SAM 2 checkpoint file (propagator:=sam2)."),
    ("image_size", "0", "SAM 2 input side; 0: the model's own."),
    ("use_sim_time", "false", "Drive /clock from the simulated camera and run every node on it."),
    ("record", "false", "Also record frames, detections and tracks to a bag."),
    ("bag", "", "Output bag directory for record:=true."),
    ("storage", "mcap", "Bag storage for record:=true: mcap or sqlite3."),
)


def param_files(*names: str) -> list[str]:
    """config/<name> files that exist, as parameter files; their ``/**/<node>`` keys match the node
    in any namespace, so each node takes its own section."""
    return [str(CONFIG / name) for name in names if (CONFIG / name).is_file()]


def generate_launch_description():
    arg = LaunchConfiguration
    timing = {"autostart": True, "use_sim_time": arg("use_sim_time")}
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS),
        Node(
            package="sam2auto_ros", executable="sim_camera_node", name="sim_camera_node", namespace=arg("namespace"),
            parameters=[*param_files("sim.yaml"),
                        {"autostart": True, "scene": arg("scene"), "seed": arg("seed"), "width": arg("size"),
                         "height": arg("size"), "fps": arg("fps"), "publish_clock": arg("use_sim_time")}],
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="smart_od_node", name="smart_od_node", namespace=arg("namespace"),
            parameters=[*param_files("sim.yaml"),
                        {**timing, "sim_noise": arg("sim_noise"), "sim_latency": arg("sim_latency")}],
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="flash_node", name="flash_node", namespace=arg("namespace"),
            parameters=[*param_files("flash.yaml", "sim.yaml"),
                        {**timing, "propagator": arg("propagator"), "model": arg("model"),
                         "checkpoint": arg("checkpoint"), "image_size": arg("image_size")}],
            output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="recorder_node", name="recorder_node", namespace=arg("namespace"),
            parameters=[{**timing, "bag_path": arg("bag"), "storage": arg("storage"), "model": arg("propagator"),
                         "backend": arg("propagator"), "labels": ["ball", "box", "bottle", "cone", "ring"]}],
            condition=IfCondition(arg("record")), output="screen",
        ),
    ])

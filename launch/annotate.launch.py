"""Live annotation: SMART-OD detector + FLASH tracker on a camera topic, optional bag recorder.

    ros2 launch sam2auto_ros annotate.launch.py image_topic:=/camera/image_raw classes:="[person, car]"
    sam2auto launch annotate.launch.py image_topic:=/camera/image_raw     # pip-only installs

Written against the real ``launch`` / ``launch_ros`` API; ``sam2auto launch`` runs this same file
through its compatibility layer where those packages are not installed.
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = Path(__file__).resolve().parent.parent / "config"  # share/sam2auto_ros/config when installed

ARGUMENTS = (
    ("namespace", "sam2auto", "Namespace of every node and topic."),
    ("image_topic", "image", "Camera topic (sensor_msgs/Image), relative to the namespace or absolute."),
    ("compressed", "false", "Read <image_topic>/compressed (sensor_msgs/CompressedImage) instead."),
    ("image_reliability", "reliable", "Image QoS: reliable (default camera drivers) or best_effort (sensor-data QoS)."),
    ("classes", "[ball, box, bottle, cone, ring]", "Class names to detect, as a YAML list."),
    ("detector", "smart-od", "Detection backend: smart-od or sim-noise."),
    ("propagator", "sam2", "Mask propagation backend: sam2, onnx or flow-fallback."),
    ("model", "sam2.1_hiera_tiny", "SAM 2 model name."),
    ("checkpoint", "", "SAM 2 checkpoint file; empty: look it up in $SAM2AUTO_MODELS_DIR and models/."),
    ("device", "cpu", "Torch device for the models (cpu, cuda)."),
    ("publish_masks", "true", "false: tracks carry boxes, labels, scores and ids only."),
    ("use_sim_time", "false", "Use /clock (simulation or bag replay)."),
    ("record", "false", "Also record frames, detections and tracks to a bag."),
    ("bag", "", "Output bag directory for record:=true; empty: recordings/sam2auto_<UTC time>."),
    ("storage", "mcap", "Bag storage for record:=true: mcap or sqlite3."),
)


def param_files(*names: str) -> list[str]:
    """config/<name> files that exist, as parameter files; their ``/**/<node>`` keys match the node
    in any namespace, so each node takes its own section."""
    return [str(CONFIG / name) for name in names if (CONFIG / name).is_file()]


def generate_launch_description():
    arg = LaunchConfiguration
    common = {"autostart": True, "use_sim_time": arg("use_sim_time"),
              "image_reliability": arg("image_reliability"), "compressed_input": arg("compressed")}
    backend = {"model": arg("model"), "checkpoint": arg("checkpoint"), "device": arg("device")}
    image_remaps = [("image", arg("image_topic")), ("image/compressed", [arg("image_topic"), "/compressed"])]
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS),
        Node(
            package="sam2auto_ros", executable="smart_od_node", name="smart_od_node", namespace=arg("namespace"),
            parameters=[*param_files("annotate.yaml"),
                        {**common, **backend, "detector": arg("detector"), "classes": arg("classes"),
                         "smart_od_config": str(CONFIG / "smart_od.yaml") if (CONFIG / "smart_od.yaml").is_file() else ""}],
            remappings=image_remaps, output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="flash_node", name="flash_node", namespace=arg("namespace"),
            parameters=[*param_files("flash.yaml", "annotate.yaml"),
                        {**common, **backend, "propagator": arg("propagator"), "publish_masks": arg("publish_masks")}],
            remappings=image_remaps, output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="recorder_node", name="recorder_node", namespace=arg("namespace"),
            parameters=[{"autostart": True, "use_sim_time": arg("use_sim_time"), "bag_path": arg("bag"),
                         "storage": arg("storage"), "image_topic": arg("image_topic"), "compressed": arg("compressed"),
                         "labels": arg("classes"), "model": arg("model"), "backend": arg("propagator")}],
            condition=IfCondition(arg("record")), output="screen",
        ),
    ])

"""Live annotation: SMART-OD detector + FLASH tracker on a camera topic, optional bag recorder.

    ros2 launch sam2auto_ros annotate.launch.py image_topic:=/camera/image_raw classes:="[person, car]"
    ros2 launch sam2auto_ros annotate.launch.py params_file:=my_robot.yaml
    sam2auto launch annotate.launch.py image_topic:=/camera/image_raw     # pip-only installs

Node settings come from config/annotate.yaml, flash.yaml and smart_od.yaml, then your
``params_file:=``, then the launch arguments you type; an argument left empty leaves the files'
value. Written against the real ``launch`` / ``launch_ros`` API; ``sam2auto launch`` runs this same
file through its compatibility layer where those packages are not installed.
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from sam2auto_ros.ros.launch_params import PARAMS_FILE_ARGUMENT, node_parameters, produced_values

CONFIG = Path(__file__).resolve().parent.parent / "config"  # share/sam2auto_ros/config when installed

ARGUMENTS = (
    ("namespace", "sam2auto", "Namespace of every node and topic."),
    ("image_topic", "image", "Camera topic (sensor_msgs/Image), relative to the namespace or absolute."),
    PARAMS_FILE_ARGUMENT,
    # Node settings: '' leaves the value of the parameter files (default named in the text).
    ("compressed", "", "Read <image_topic>/compressed (sensor_msgs/CompressedImage) instead (default false)."),
    ("image_reliability", "", "Image QoS: reliable (default camera drivers, the default) or best_effort (sensor-data QoS)."),
    ("cameras", "", "Cameras served by one detector and one tracker (models loaded once), as a YAML list: each "
                    "reads <namespace>/<camera>/image and writes under <namespace>/<camera>/ (default: one camera "
                    "on image_topic)."),
    ("classes", "", "Class names to detect, as a YAML list (default [ball, box, bottle, cone, ring])."),
    ("detector", "", "Detection backend: smart-od (default) or sim-noise."),
    ("propagator", "", "Mask propagation backend: sam2 (default), onnx or flow-fallback."),
    ("model", "", "SAM 2 model name (default sam2.1_hiera_tiny)."),
    ("checkpoint", "", "SAM 2 checkpoint file (default: look it up in $SAM2AUTO_MODELS_DIR and models/)."),
    ("device", "", "Torch device for the models: cpu (default), cuda."),
    ("publish_masks", "", "false: tracks carry boxes, labels, scores and ids only (default true)."),
    ("use_sim_time", "", "Use /clock (simulation or bag replay; default false)."),
    # Recording.
    ("record", "false", "Also record frames, detections and tracks to a bag."),
    ("bag", "", "Output bag directory for record:=true; empty: recordings/sam2auto_<UTC time>."),
    ("storage", "", "Bag storage for record:=true: mcap (default) or sqlite3."),
)
IMAGE = {"use_sim_time": "use_sim_time", "image_reliability": "image_reliability", "compressed_input": "compressed",
         "cameras": "cameras"}
BACKEND = {"model": "model", "checkpoint": "checkpoint", "device": "device"}


def nodes(context):
    arg = LaunchConfiguration
    image_remaps = [("image", arg("image_topic")), ("image/compressed", [arg("image_topic"), "/compressed"])]
    smart_od_yaml = {"smart_od_config": str(CONFIG / "smart_od.yaml")} if (CONFIG / "smart_od.yaml").is_file() else None
    return [
        Node(
            package="sam2auto_ros", executable="smart_od_node", name="smart_od_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["annotate.yaml"],
                                       {**IMAGE, **BACKEND, "detector": "detector", "classes": "classes"}, smart_od_yaml),
            remappings=image_remaps, output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="flash_node", name="flash_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["flash.yaml", "annotate.yaml"],
                                       {**IMAGE, **BACKEND, "propagator": "propagator", "publish_masks": "publish_masks"}),
            remappings=image_remaps, output="screen",
        ),
        Node(
            package="sam2auto_ros", executable="recorder_node", name="recorder_node", namespace=arg("namespace"),
            parameters=node_parameters(context, CONFIG, ["annotate.yaml"], {
                "use_sim_time": "use_sim_time", "bag_path": "bag", "storage": "storage", "compressed": "compressed",
                "labels": "classes", "model": "model", "backend": "propagator", "cameras": "cameras",
                # named cameras are recorded as <camera>/image, like the nodes read them
                **({} if context.launch_configurations.get("cameras") else {"image_topic": "image_topic"})},
                # the recorder follows what your params_file gives the pipeline nodes (bag metadata, inputs)
                produced_values(context, {"labels": ("smart_od_node", "classes"), "model": ("flash_node", "model"),
                                          "backend": ("flash_node", "propagator"), "cameras": ("smart_od_node", "cameras"),
                                          "compressed": ("smart_od_node", "compressed_input")})),
            condition=IfCondition(arg("record")), output="screen",
        ),
    ]


def generate_launch_description():
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS),
        OpaqueFunction(function=nodes),
    ])

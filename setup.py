"""pip / setuptools entry for sam2auto_ros (the Python side; messages are built by colcon)."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="sam2auto_ros",
    version="0.1.0",
    description="Fully automatic video annotation for robots: SAM 2 + SMART-OD + FLASH on ROS 2",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["sam2auto_ros", "sam2auto_ros.*"]),
    package_data={"sam2auto_ros": ["py.typed"]},
    data_files=[
        # the ament index marker, so ament_index_python finds the package in a pip install too
        ("share/ament_index/resource_index/packages", ["resource/sam2auto_ros"]),
        ("share/sam2auto_ros", ["package.xml"]),
        ("share/sam2auto_ros/msg", [str(p) for p in sorted(Path("msg").glob("*.msg"))]),
        ("share/sam2auto_ros/config", [str(p) for p in sorted(Path("config").glob("*.yaml"))]),
        ("share/sam2auto_ros/launch", [str(p) for p in sorted(Path("launch").glob("*.py"))]),
    ],
    # Exact versions: requirements/constraints.txt; the heavy ML stack is installed by
    # scripts/setup.sh (sam2 must be built without its torchvision dependency).
    install_requires=["numpy>=1.23", "pycocotools>=2.0.7", "rosbags>=0.10", "pyyaml"],
    entry_points={"console_scripts": [
        "sam2auto = sam2auto_ros.cli:main",
        "smart_od_node = sam2auto_ros.ros.smart_od_node:main",
        "flash_node = sam2auto_ros.ros.flash_node:main",
        "sim_camera_node = sam2auto_ros.ros.sim_camera_node:main",
        "recorder_node = sam2auto_ros.ros.recorder_node:main",
        "annotate_bag = sam2auto_ros.cli.annotate_bag:main",
    ]},
)

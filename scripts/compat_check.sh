#!/usr/bin/env bash
# Checks that the ROS-free core (sam2auto_ros.core, sam2auto_ros.io) runs on the oldest stack
# users have: Python 3.10 (Humble) with numpy 1.x and OpenCV 4.x. Not part of the default
# test run (it builds a second venv); run it after touching core/ or io/:
#   bash scripts/compat_check.sh [/path/to/python3.10]
# It selects the tests that neither start DDS (marked `ros`) nor use rclpy's types (named `rclpy`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY310="${1:-}"
if [ -z "$PY310" ]; then
  for c in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do [ -x "$c" ] && PY310="$c" && break; done
fi
[ -x "$PY310" ] || { echo "no python3.10 found; pass its path" >&2; exit 2; }
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/sam2auto_ros/compat-py310-numpy1"
[ -x "$VENV/bin/python" ] || "$PY310" -m venv "$VENV"
"$VENV/bin/pip" install -q "numpy<2" pycocotools rosbags "opencv-python-headless<4.11" pytest
cd "$ROOT"
"$VENV/bin/python" -c 'import numpy, sys; print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}")'
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider test/core test/io/test_bags.py test/io/test_images.py test/io/test_msg_types.py \
  -m "not ros" -k "not rclpy" -W ignore::DeprecationWarning

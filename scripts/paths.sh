# Where this checkout's virtual environment and colcon spaces live (sourced by the other scripts).
# One venv per checkout and ROS 2 distribution (SAM2AUTO_ROS_DISTRO, default jazzy): two
# distributions' wheels never share a venv, nor their messages an install space.
# The venv is outside the source tree: CMake refuses to export include paths (numpy's) that lie
# inside the package it builds.
_sam2auto_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sam2auto_key="$(printf '%s' "$_sam2auto_root" | sha256sum | cut -c1-10)"
SAM2AUTO_ROS_DISTRO="${SAM2AUTO_ROS_DISTRO:-jazzy}"
_sam2auto_default_venv="${XDG_CACHE_HOME:-$HOME/.cache}/sam2auto_ros/venv-$_sam2auto_key-$SAM2AUTO_ROS_DISTRO"
# A SAM2AUTO_VENV that this file chose earlier (for another distribution, say) is chosen again;
# only one the user set stays.
if [ -z "${SAM2AUTO_VENV:-}" ] || [ "$SAM2AUTO_VENV" = "${_SAM2AUTO_VENV_CHOSEN:-}" ]; then
  VENV="$_sam2auto_default_venv"
else
  VENV="$SAM2AUTO_VENV"
fi
# colcon's build and install spaces, per distribution.
SAM2AUTO_BUILD="$_sam2auto_root/build/$SAM2AUTO_ROS_DISTRO"
SAM2AUTO_INSTALL="$_sam2auto_root/install/$SAM2AUTO_ROS_DISTRO"
export SAM2AUTO_ROS_DISTRO SAM2AUTO_VENV="$VENV" _SAM2AUTO_VENV_CHOSEN="$_sam2auto_default_venv" SAM2AUTO_BUILD SAM2AUTO_INSTALL

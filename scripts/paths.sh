# Where this checkout's virtual environment lives (sourced by the other scripts).
# Outside the source tree: CMake refuses to export include paths (numpy's) that lie inside the
# package it builds. One venv per checkout, keyed by the checkout's path.
_sam2auto_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sam2auto_key="$(printf '%s' "$_sam2auto_root" | sha256sum | cut -c1-10)"
VENV="${SAM2AUTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sam2auto_ros/venv-$_sam2auto_key}"
export SAM2AUTO_VENV="$VENV"

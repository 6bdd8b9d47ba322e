# source scripts/activate.sh: activate this checkout's venv (made by scripts/setup.sh).
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/paths.sh"
. "$VENV/bin/activate"
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ros_env.sh"

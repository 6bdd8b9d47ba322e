#!/usr/bin/env bash
# The demo, set-up included: bash scripts/demo.sh [sam2auto demo args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
. "$ROOT/scripts/paths.sh"
cd "$ROOT"
. "$ROOT/scripts/ros_env.sh"
exec "$VENV/bin/sam2auto" demo "$@"

#!/usr/bin/env bash
# The demo, set-up included: bash scripts/demo.sh [sam2auto demo args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
. "$ROOT/scripts/paths.sh"
cd "$ROOT"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 100 ))}"
exec "$VENV/bin/sam2auto" demo "$@"

#!/usr/bin/env bash
# The whole test suite, set-up included: bash scripts/test.sh [pytest args]
# Tests run with DDS confined to loopback, inside a private network namespace (only `lo`) when
# this machine allows one (root or user namespaces), after the installs that need the network.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
. "$ROOT/scripts/paths.sh"
cd "$ROOT"

. "$ROOT/scripts/ros_env.sh"
export PYTHONDONTWRITEBYTECODE=1

run=("$VENV/bin/python" -m pytest "$@")
if [ -z "${SAM2AUTO_NO_NETNS:-}" ] && unshare --net --map-root-user true 2>/dev/null; then
  exec unshare --net --map-root-user sh -c 'ip link set lo up 2>/dev/null || true; export SAM2AUTO_PRIVATE_NETNS=1; exec "$@"' sh "${run[@]}"
elif [ -z "${SAM2AUTO_NO_NETNS:-}" ] && unshare --net true 2>/dev/null; then
  exec unshare --net sh -c 'ip link set lo up; export SAM2AUTO_PRIVATE_NETNS=1; exec "$@"' sh "${run[@]}"
else
  echo "[test] no private network namespace here; DDS stays on loopback through ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST" >&2
  exec "${run[@]}"
fi

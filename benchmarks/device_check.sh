#!/usr/bin/env bash
# The GPU check in one command: installs the CUDA flavour, runs every section script in
# benchmarks/device/ in name order (NN_name.py or NN_name.sh) and writes ONE table.
#
#   bash benchmarks/device_check.sh                 # on a machine with an NVIDIA GPU (< 8 minutes)
#   bash benchmarks/device_check.sh --dry-run       # CPU, small sizes: checks every section's path
#   options: --out FILE (default benchmarks/device_check.md) --only REGEX (sections to run)
#
# On the GPU it first runs `SAM2AUTO_ACCEL=cuda bash scripts/setup.sh` (torch's CUDA build and
# onnxruntime-gpu, from PyPI; on a machine without internet point pip at a wheel folder with
# PIP_FIND_LINKS=/wheels PIP_NO_INDEX=1) and refuses to go on if torch sees no CUDA device.
# The dry run installs nothing: it uses this checkout's venv as it is.
#
# Every section gets the same environment (see benchmarks/device/section.py): DEVICE_CHECK_DEVICE
# (cuda | cpu), DEVICE_CHECK_DRY (0 | 1), DEVICE_CHECK_WORK (shared scratch: random checkpoints
# saved in the real format, exports), DEVICE_CHECK_ROWS, DEVICE_CHECK_SECTION, DEVICE_CHECK_PY (the
# venv's python), and benchmarks/device + benchmarks on PYTHONPATH. A Python section adds rows with
# section.row(check, setting, value, note), a shell one with "$DEVICE_CHECK_PY" -m section --row
# CHECK SETTING VALUE [NOTE]; adding a check is adding a file, nobody edits this one.
# A section that fails or runs out of its time adds a FAILED row and the run goes on; the exit
# status is 1 when any section failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECTIONS="${DEVICE_CHECK_SECTIONS:-$ROOT/benchmarks/device}"  # another folder: the runner's own test
dry=0
out="$ROOT/benchmarks/device_check.md"
only=""
budget_s="${DEVICE_CHECK_BUDGET_S:-450}"  # the sections' time in all; set-up comes before it
min_left_s="${DEVICE_CHECK_MIN_LEFT_S:-20}"  # a section is not started with less than this left
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --out) out="$2"; shift ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "device_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[device_check] %s\n' "$*" >&2; }
started=$(date +%s)

if [ "$dry" = 1 ]; then
  device=cpu
  # shellcheck source=scripts/paths.sh
  . "$ROOT/scripts/paths.sh"
  [ -x "$VENV/bin/python" ] || { log "no venv at $VENV: run bash scripts/setup.sh first"; exit 1; }
else
  device=cuda
  log "installing the CUDA flavour (SAM2AUTO_ACCEL=cuda bash scripts/setup.sh)"
  SAM2AUTO_ACCEL=cuda bash "$ROOT/scripts/setup.sh" || { log "set-up failed"; exit 1; }
  # shellcheck source=scripts/paths.sh
  . "$ROOT/scripts/paths.sh"
  "$VENV/bin/python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
    log "torch sees no CUDA device (torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')): is this a GPU machine with its driver loaded? nvidia-smi: $(nvidia-smi -L 2>&1 | head -1)"
    exit 1
  }
fi
PY="$VENV/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/device_check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
logs="${out%.*}_logs"  # each section's output, kept beside the table
rm -rf "$logs" && mkdir -p "$logs"
rows="$work/rows.jsonl"
: > "$rows"
export DEVICE_CHECK_DEVICE="$device" DEVICE_CHECK_DRY="$dry" DEVICE_CHECK_WORK="$work/scratch" DEVICE_CHECK_ROWS="$rows" DEVICE_CHECK_PY="$PY"
export PYTHONPATH="$ROOT/benchmarks/device:$ROOT/benchmarks:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
mkdir -p "$DEVICE_CHECK_WORK"

failed=0
sections_started=$(date +%s)
for script in $(ls "$SECTIONS" | grep -E '^[0-9]+_.*\.(py|sh)$' | sort); do
  name="${script%.*}"
  if [ -n "$only" ] && ! [[ "$name" =~ $only ]]; then continue; fi
  left=$(( budget_s - ($(date +%s) - sections_started) ))
  if [ "$left" -lt "$min_left_s" ]; then
    log "$name: skipped, the sections' ${budget_s} s are spent"
    "$PY" "$ROOT/benchmarks/device/section.py" --row "section" "-" "SKIPPED" "no time left of ${budget_s} s" >/dev/null
    failed=1; continue
  fi
  log "$name (up to ${left} s)"
  t0=$(date +%s)
  case "$script" in
    *.py) runner=("$PY" "$SECTIONS/$script") ;;
    *.sh) runner=(bash "$SECTIONS/$script") ;;
  esac
  DEVICE_CHECK_SECTION="$name" timeout --kill-after=10 "$left" "${runner[@]}" > "$logs/$name.log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    why="exit status $rc"; [ "$rc" -eq 124 ] && why="ran out of its ${left} s"
    log "$name FAILED ($why); last lines of its log:"; tail -5 "$logs/$name.log" >&2
    DEVICE_CHECK_SECTION="$name" "$PY" "$ROOT/benchmarks/device/section.py" --row "section" "-" "FAILED" "$why: $(tail -1 "$logs/$name.log" | cut -c1-160)" >/dev/null
    failed=1
  fi
  log "$name: $(( $(date +%s) - t0 )) s"
done

device_name="$("$PY" - "$device" <<'EOF'
import platform, sys, torch
if sys.argv[1] == "cuda":
    print(f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, torch {torch.__version__}")
else:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    print(f"CPU dry run ({cpu}), torch {torch.__version__}")
EOF
)"
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
title="## Device check: $device_name; $(date -u +%F), commit $commit, $(( $(date +%s) - started )) s in all$([ "$dry" = 1 ] && echo '; DRY RUN: small sizes, figures mean nothing')"
"$PY" "$ROOT/benchmarks/device/section.py" --assemble "$rows" --title "$title" > "$out"
cat "$out"
log "table written to $out, section logs in $logs"
exit "$failed"

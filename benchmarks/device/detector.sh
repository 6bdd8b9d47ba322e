#!/usr/bin/env bash
# GPU rows of bench_detector.py (SMART-OD's OWLv2 detector): torch on CUDA against onnxruntime's
# CUDA and TensorRT providers, fp32 and fp16, OWLv2 base configuration with random weights at 960 px.
# A section of benchmarks/device_check.sh (run on a GPU machine); runs alone too:
#   bash benchmarks/device/detector.sh [WORK_DIR]
# The first TensorRT run builds and caches one engine per graph (minutes); the timed rounds follow
# a warm-up call. A provider that does not start is an error (strict), never a CPU row.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/paths.sh
work="${1:-${TMPDIR:-/tmp}/sam2auto_detector_bench}"
py="$VENV/bin/python"
"$py" benchmarks/bench_detector.py --work "$work" --stage export
echo "== CUDA provider, torch on cuda"
"$py" benchmarks/bench_detector.py --work "$work" --stage run --repeats 5 --device cuda --providers cuda cpu --no-gdino
echo "== TensorRT provider (engines cached in $work/<precision>/trt_cache)"
"$py" benchmarks/bench_detector.py --work "$work" --stage run --repeats 5 --device cuda --providers tensorrt cuda cpu

"""``sam2auto export``: write a SAM 2 checkpoint's four ONNX graphs for the onnxruntime backend.

Example: ``sam2auto export --model sam2.1_hiera_tiny --image-size 1024 --fp16`` writes
``models/onnx/sam2.1_hiera_tiny-1024-fp16/``; the engine loads it with ``backend: onnx``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export SAM 2 to ONNX graphs", description=__doc__)
    parser.add_argument("--model", required=True, help="registry name, e.g. sam2.1_hiera_tiny (see `sam2auto models list`)")
    parser.add_argument("--image-size", type=int, default=None, help="input side in pixels (default: the model's, 1024)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (default: resolved like the torch engine does)")
    parser.add_argument("--models-dir", type=Path, default=None, help="extra directory to look for checkpoints in")
    parser.add_argument("--fp16", action="store_true", help="export float16 graphs (float32 inputs/outputs)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset, 18..20 (default 18)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default models/onnx/<model>-<size>-<precision>)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here so that `sam2auto --help` and other subcommands do not load torch
    from sam2auto_ros.onnx.exporter import DEFAULT_OPSET, ExportError, default_export_dir, export_sam2
    from sam2auto_ros.sam2.loading import build_model
    from sam2auto_ros.sam2.registry import CheckpointError, resolve_checkpoint

    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    precision = "fp16" if args.fp16 else "fp32"
    try:
        checkpoint = resolve_checkpoint(args.model, args.checkpoint, args.models_dir)
        model = build_model(args.model, checkpoint, args.models_dir, device="cpu", image_size=args.image_size)
        out = args.out or default_export_dir(args.model, model.image_size, precision)
        result = export_sam2(model, args.model, checkpoint, out, precision=precision, opset=args.opset or DEFAULT_OPSET, progress=print)
    except (CheckpointError, ExportError, ValueError) as exc:
        print(f"sam2auto export: {exc}", file=sys.stderr)
        return 2
    print(f"{result.info.describe()} -> {result.directory}")
    print(f"{'graph':<18} {'MB':>8} {'seconds':>8}  TensorRT")
    for name, path in result.graphs.items():
        trt = "; ".join(result.tensorrt_problems.get(name, [])) or "ok"
        print(f"{name:<18} {path.stat().st_size / 1e6:8.1f} {result.seconds[name]:8.1f}  {trt}")
    print(f"total {result.seconds['total']:.1f} s")
    return 1 if result.tensorrt_problems else 0

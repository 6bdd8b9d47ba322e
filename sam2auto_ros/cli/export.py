"""``sam2auto export``: write ONNX graphs for the onnxruntime backends.

SAM 2: ``sam2auto export --model sam2.1_hiera_tiny --image-size 1024 --fp16`` writes
``models/onnx/sam2.1_hiera_tiny-1024-fp16/``; the engine loads it with ``backend: onnx``.

OWLv2 (SMART-OD's detector): ``sam2auto export --detector owlv2 --model owlv2-base`` writes the
text tower and the image tower with its heads to ``models/onnx/owlv2-base-960-fp32/``, from the
registry's weights (``sam2auto models download owlv2-base``) or ``--weights DIR`` (a
``save_pretrained`` folder); SMART-OD loads it with ``detector.backend: onnx``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DETECTOR_FAMILIES = ("owlv2",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export SAM 2 or the OWLv2 detector to ONNX graphs", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", choices=DETECTOR_FAMILIES, default=None, help="export this detector instead of SAM 2")
    parser.add_argument("--model", default=None, help="registry name, e.g. sam2.1_hiera_tiny or owlv2-base (see `sam2auto models list`); "
                        "with --detector the default is owlv2-base")
    parser.add_argument("--weights", type=Path, default=None, help="--detector: a save_pretrained folder instead of the registry's")
    parser.add_argument("--image-size", type=int, default=None, help="SAM 2 input side in pixels (default: the model's, 1024); "
                        "OWLv2 is exported at its configuration's size")
    parser.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (default: resolved like the torch engine does)")
    parser.add_argument("--models-dir", type=Path, default=None, help="extra directory to look for checkpoints and weights in")
    parser.add_argument("--fp16", action="store_true", help="export float16 graphs (float32 inputs/outputs)")
    parser.add_argument("--max-classes", type=int, default=None, help="--detector: class names one image call takes (default 100)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset, 18..20 (default 18)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default models/onnx/<model>-<size>-<precision>)")
    parser.set_defaults(func=run)


def _quiet_exporters() -> None:
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _report(description: str, directory: Path, graphs: dict[str, Path], seconds: dict[str, float], problems: dict[str, list[str]]) -> int:
    print(f"{description} -> {directory}")
    print(f"{'graph':<18} {'MB':>8} {'seconds':>8}  TensorRT")
    for name, path in graphs.items():
        trt = "; ".join(problems.get(name, [])) or "ok"
        print(f"{name:<18} {path.stat().st_size / 1e6:8.1f} {seconds[name]:8.1f}  {trt}")
    print(f"total {seconds['total']:.1f} s")
    return 1 if problems else 0


def run(args: argparse.Namespace) -> int:
    _quiet_exporters()
    if args.detector:
        return _run_detector(args)
    # imported here so that `sam2auto --help` and other subcommands do not load torch
    from sam2auto_ros.onnx.exporter import DEFAULT_OPSET, ExportError, default_export_dir, export_sam2
    from sam2auto_ros.sam2.loading import build_model
    from sam2auto_ros.sam2.registry import CheckpointError, resolve_checkpoint

    if not args.model:
        print("sam2auto export: --model is required (a SAM 2 registry name), or --detector owlv2", file=sys.stderr)
        return 2
    precision = "fp16" if args.fp16 else "fp32"
    try:
        checkpoint = resolve_checkpoint(args.model, args.checkpoint, args.models_dir)
        model = build_model(args.model, checkpoint, args.models_dir, device="cpu", image_size=args.image_size)
        out = args.out or default_export_dir(args.model, model.image_size, precision)
        result = export_sam2(model, args.model, checkpoint, out, precision=precision, opset=args.opset or DEFAULT_OPSET, progress=print)
    except (CheckpointError, ExportError, ValueError) as exc:
        print(f"sam2auto export: {exc}", file=sys.stderr)
        return 2
    return _report(result.info.describe(), result.directory, result.graphs, result.seconds, result.tensorrt_problems)


def _run_detector(args: argparse.Namespace) -> int:
    from sam2auto_ros.onnx.detector_export import DEFAULT_MAX_QUERIES, export_owlv2
    from sam2auto_ros.onnx.exporter import DEFAULT_OPSET, ExportError, default_export_dir
    from sam2auto_ros.onnx.metadata import file_sha256
    from sam2auto_ros.sam2.registry import DEFAULT_DETECTOR, WEIGHTS_FILE, CheckpointError, detector_info, resolve_detector
    from sam2auto_ros.smart_od.detectors import DetectorError
    from sam2auto_ros.smart_od.detectors.hf import load_owlv2_weights

    precision = "fp16" if args.fp16 else "fp32"
    try:
        if args.weights is not None:
            folder, name = args.weights, args.model or args.weights.name
        else:
            name = args.model or DEFAULT_DETECTOR
            if detector_info(name).family != args.detector:
                raise DetectorError(f"{name} is not an {args.detector} model; see `sam2auto models list`")
            folder = resolve_detector(name, args.models_dir)
        model, processor = load_owlv2_weights(str(folder))
        size = int(model.config.vision_config.image_size)
        if args.image_size not in (None, size):
            raise DetectorError(f"{name} is configured for {size} px input; OWLv2 is exported at its own size (drop --image-size)")
        weights = folder / WEIGHTS_FILE
        out = args.out or default_export_dir(name, size, precision)
        print(f"exporting {name} from {folder}")
        result = export_owlv2(
            model, processor, name, out, weights_sha256=file_sha256(weights) if weights.is_file() else "", precision=precision,
            opset=args.opset or DEFAULT_OPSET, max_queries=args.max_classes or DEFAULT_MAX_QUERIES, progress=print,
        )
    except (CheckpointError, DetectorError, ExportError, ValueError, OSError) as exc:
        print(f"sam2auto export: {exc}", file=sys.stderr)
        return 2
    return _report(result.info.describe(), result.directory, result.graphs, result.seconds, result.tensorrt_problems)

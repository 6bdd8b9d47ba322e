"""Per-frame time of the streaming engine on torch-CPU vs onnxruntime-CPU, and export time.

Both engines run in this process on the same frames with the same prompts (random weights in
the real checkpoint format), frame by frame in turn so that load from other processes hits
both alike. Reported: median milliseconds per ``step`` (all objects), the split by part, the
speed ratio, the worst mask IoU between the two engines (parity), and the export time.

    python benchmarks/bench_onnx.py --sizes 512 1024 --frames 10 --objects 3
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from sam2auto_ros.core.propagation import Prompt
from sam2auto_ros.onnx.exporter import export_sam2
from sam2auto_ros.onnx.parts import OnnxSam2Parts
from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.loading import build_model, save_random_checkpoint
from sam2auto_ros.sam2.parts import TorchSam2Parts

PART_METHODS = ("encode_image", "memory_attention", "sam_heads", "encode_memory")


class TimedParts:
    """Delegates to a ``Sam2Parts`` and adds up the seconds each method takes."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.seconds: dict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._inner, name)
        if name not in PART_METHODS:
            return attr

        def timed(*args: object, **kwargs: object) -> object:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0

        return timed


def frames(n: int, w: int = 640, h: int = 480, seed: int = 0) -> list[np.ndarray]:
    """Moving textured discs on a textured background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        frame = background.copy()
        for k in range(4):
            cx, cy = w * (0.2 + 0.2 * k) + 30 * np.sin(0.2 * t + k), h / 2 + 60 * np.cos(0.15 * t + k)
            frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 50**2] = (60 * k, 255 - 50 * k, 128)
        out.append(frame)
    return out


def prompts(objects: int, w: int = 640, h: int = 480) -> list[Prompt]:
    return [Prompt(box=[w * (0.2 + 0.2 * k) - 50, h / 2 - 50, w * (0.2 + 0.2 * k) + 50, h / 2 + 50]) for k in range(objects)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def bench_size(size: int, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    ckpt = save_random_checkpoint(workdir / f"{args.model}-{size}.pt", args.config, image_size=size)
    model = build_model(args.model, ckpt, image_size=size)
    t0 = time.perf_counter()
    export = export_sam2(model, args.model, ckpt, workdir / f"onnx-{size}-{args.precision}", precision=args.precision)
    export_s = time.perf_counter() - t0
    engines = {
        "torch": TimedParts(TorchSam2Parts(model)),
        "onnx": TimedParts(OnnxSam2Parts(export.directory, providers=["cpu"], threads=args.threads)),
    }
    runners = {name: Sam2StreamEngine(parts) for name, parts in engines.items()}  # type: ignore[arg-type]
    video = frames(args.warmup + args.frames)
    step_s: dict[str, list[float]] = {name: [] for name in runners}
    worst_iou = 1.0
    for f, frame in enumerate(video):
        masks = {}
        for name, engine in runners.items():
            if f == args.warmup:
                engines[name].seconds.clear()
            t = time.perf_counter()
            preds = engine.step(frame)
            if f == 0:
                preds = {k: engine.add_object(k, p) for k, p in enumerate(prompts(args.objects))}
            elif f >= args.warmup:
                step_s[name].append(time.perf_counter() - t)
            masks[name] = preds
        worst_iou = min([worst_iou] + [iou(masks["torch"][k].mask, masks["onnx"][k].mask) for k in masks["torch"]])
    row: dict[str, object] = {"size": size, "export_s": export_s, "iou": worst_iou}
    for name in runners:
        row[f"{name}_ms"] = 1000 * statistics.median(step_s[name])
        row[f"{name}_parts"] = {m: 1000 * engines[name].seconds[m] / args.frames for m in PART_METHODS}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--frames", type=int, default=10, help="timed frames per size (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32", help="precision of the onnxruntime graphs")
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    args = parser.parse_args(argv)
    if args.warmup < 1:
        parser.error("--warmup must be >= 1 (frame 0 carries the prompts)")
    torch.set_num_threads(args.threads)
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export", "sam2auto_ros.onnx.providers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_onnx_") as tmp:
        for size in args.sizes:
            print(f"size {size}: exporting and running {args.warmup}+{args.frames} frames ...", file=sys.stderr, flush=True)
            rows.append(bench_size(size, args, Path(tmp)))
            print(f"size {size}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"\n{args.model}, random weights, {args.objects} objects, {args.threads} threads, onnxruntime {args.precision} on CPUExecutionProvider, "
          f"median of {args.frames} frames; 1-min load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end "
          f"({os.cpu_count()} CPUs)")
    print(f"{'size':>5} | {'torch ms/frame':>14} | {'onnx ms/frame':>13} | {'speed-up':>8} | {'min mask IoU':>12} | {'export s':>8}")
    for r in rows:
        print(f"{r['size']:>5} | {r['torch_ms']:>14.0f} | {r['onnx_ms']:>13.0f} | {r['torch_ms'] / r['onnx_ms']:>7.2f}x | {r['iou']:>12.4f} | {r['export_s']:>8.0f}")
    print("\nmean ms per frame by part (torch / onnx)")
    print(f"{'size':>5} | " + " | ".join(f"{m:>21}" for m in PART_METHODS))
    for r in rows:
        cells = [f"{r['torch_parts'][m]:>9.0f} / {r['onnx_parts'][m]:<9.0f}" for m in PART_METHODS]
        print(f"{r['size']:>5} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

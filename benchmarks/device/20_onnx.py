"""The SAM 2 engine on onnxruntime (CUDA, then TensorRT) against the torch engine on the device.

SAM 2's four graphs are exported at 1024 px (dry run: 256) from random SAM 2.1 tiny weights saved
in the released checkpoint format; both engines step the same frames with the same box prompts.
Per provider: the largest logit difference and the smallest mask IoU against torch (fp32) over
every object and frame, and the median ms per ``step`` (3 objects). TensorRT builds its engines
on the first frames (cached in the export folder); its row comes last, so a build that runs out
of the section's time leaves the rows before it. The dry run has only the CPU provider.
"""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np
import torch
from bench_engine import MODEL, boxes, video_frame
from section import device, dry, random_checkpoint, row, synchronize, work

from sam2auto_ros.core.propagation import Prompt
from sam2auto_ros.onnx.exporter import export_sam2
from sam2auto_ros.onnx.parts import OnnxSam2Parts
from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.loading import build_model
from sam2auto_ros.sam2.parts import TorchSam2Parts

SIZE = 256 if dry() else 1024
OBJECTS = 3
WARM, MEASURED = (1, 2) if dry() else (3, 10)
WH = (320, 240) if dry() else (1280, 720)
PROVIDERS = ("cpu",) if dry() else ("cuda", "tensorrt")


def run(engine: Sam2StreamEngine) -> tuple[list[float], list[dict[int, np.ndarray]]]:
    """ms per step over the measured frames, and every frame's logits per object."""
    times, logits = [], []
    with torch.inference_mode():
        engine.step(video_frame(0, WH))
        for i, box in enumerate(boxes(OBJECTS, WH)):
            engine.add_object(i, Prompt(box=box))
        for t in range(1, WARM + MEASURED + 1):
            frame = video_frame(t, WH)
            synchronize()
            start = time.perf_counter()
            predictions = engine.step(frame)
            synchronize()
            if t > WARM:
                times.append(1000 * (time.perf_counter() - start))
            logits.append({k: p.logits for k, p in predictions.items() if p.logits is not None})
    return times, logits


def main() -> None:
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    ckpt = random_checkpoint(SIZE)
    model = build_model(MODEL, ckpt, image_size=SIZE, device=device())
    torch_ms, reference = run(Sam2StreamEngine(TorchSam2Parts(model)))
    row("torch engine ms/frame", f"{SIZE} px, {OBJECTS} objects, fp32, {device()}", f"{statistics.median(torch_ms):.1f}")
    start = time.perf_counter()
    export = export_sam2(build_model(MODEL, ckpt, image_size=SIZE), MODEL, ckpt, work() / f"onnx-{SIZE}", precision="fp32")
    row("ONNX export", f"{SIZE} px, fp32", f"{time.perf_counter() - start:.0f} s")
    for provider in PROVIDERS:
        parts = OnnxSam2Parts(export.directory, providers=[provider])  # what runs instead of a missing one is in the note
        ms, logits = run(Sam2StreamEngine(parts))
        diff = max(float(np.abs(a[k] - b[k]).max()) for a, b in zip(logits, reference) for k in a)
        worst = min(_iou(a[k] > 0, b[k] > 0) for a, b in zip(logits, reference) for k in a)
        row(f"onnxruntime {provider} ms/frame", f"{SIZE} px, {OBJECTS} objects, fp32", f"{statistics.median(ms):.1f}",
            f"vs torch: max logit diff {diff:.1e}, min mask IoU {worst:.4f}; providers {sorted(set(parts.active_providers.values()))}")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


if __name__ == "__main__":
    main()

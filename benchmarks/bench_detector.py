"""SMART-OD's open-vocabulary detector: transformers on torch against the exported OWLv2 graphs.

OWLv2 base configuration (ViT-B/16, 960 px) with random weights; the timings do not depend on
the weights. Rows, medians over ``--repeats`` rounds that run the backends interleaved:

- ``frame``: one ``detect`` call (pre-processing, image tower + heads, post-processing), the
  vocabulary already embedded; torch, onnxruntime fp32 and onnxruntime fp16 (CPU provider);
- ``vocab``: a vocabulary change of ``--names`` names: uncached (every name embedded) against
  cached (one new name, the rest from the cache);
- ``gdino``: Grounding DINO (Swin-T + BERT-base configuration, random weights, 800 px) on torch,
  the path it keeps: its text and image features are fused inside the model (no ONNX export).

The exported graphs are written once to ``--work`` (about 0.9 GB for both precisions) and
reused; ``--stage export`` only writes them, so each command stays short. The CUDA / TensorRT rows
are ``benchmarks/device/50_detector.py``'s, a section of ``benchmarks/device_check.sh``.

Example: ``python benchmarks/bench_detector.py --work /tmp/owl --repeats 3 --threads 2``
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from sam2auto_ros.onnx.detector_export import export_owlv2
from sam2auto_ros.smart_od.detectors.hf import GroundingDinoDetector, random_grounding_dino, random_owlv2
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers
from sam2auto_ros.smart_od.detectors.owlv2_onnx import OnnxOwlv2Towers, load_processor

PRECISIONS = ("fp32", "fp16")
NAMES = ["person", "car", "bicycle", "dog", "cat", "truck", "bus", "chair", "bottle", "cup", "bird", "horse",
         "sheep", "cow", "backpack", "umbrella", "handbag", "suitcase", "laptop", "keyboard"]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def _export(work: Path, max_queries: int) -> None:
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    model, processor = random_owlv2()
    for precision in PRECISIONS:
        out = work / precision
        if (out / "owlv2_image.onnx").is_file():
            continue
        result = export_owlv2(model, processor, "owlv2-base-random", out, precision=precision, max_queries=max_queries)
        print(f"exported {precision} in {result.seconds['total']:.0f} s -> {out}")


def _detectors(work: Path, threads: int, providers: list[str], device: str) -> dict[str, Owlv2Detector]:
    model, processor = random_owlv2()
    detectors = {"torch": Owlv2Detector(TorchOwlv2Towers(model, device), processor)}
    for precision in PRECISIONS:
        # strict: a provider that fails to start is an error here, never a CPU row under a GPU name
        towers = OnnxOwlv2Towers(work / precision, providers=providers, strict_providers=True, threads=threads)
        detectors[f"onnxruntime {providers[0]} {precision}"] = Owlv2Detector(towers, load_processor(work / precision))
    return detectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="folder for the exported graphs (reused)")
    parser.add_argument("--stage", choices=("export", "run", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--names", type=int, default=20, help="names in the vocabulary-change rows")
    parser.add_argument("--max-classes", type=int, default=100, help="query slots of the exported image graph")
    parser.add_argument("--no-gdino", action="store_true", help="skip the Grounding DINO row")
    parser.add_argument("--providers", nargs="+", default=["cpu"], help="onnxruntime providers (cpu | cuda | tensorrt)")
    parser.add_argument("--device", default="cpu", help="torch device of the torch rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.stage in ("export", "all"):
        _export(args.work, args.max_classes)
    if args.stage == "export":
        return
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    vocabulary = NAMES[: args.names]
    detectors = _detectors(args.work, args.threads, args.providers, args.device)
    for det in detectors.values():  # warm-up: first-call allocations, and the vocabulary embedded
        det.detect(image, vocabulary)
    gdino = None
    if not args.no_gdino:
        model, processor = random_grounding_dino()
        gdino = GroundingDinoDetector(model.to(args.device), processor, device=args.device)
        gdino.detect(image, vocabulary[:4])
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        for name, det in detectors.items():
            times[f"frame | {name}"].append(_timed(functools.partial(det.detect, image, vocabulary)))
        for name, det in detectors.items():
            det.text_cache.clear()
            times[f"vocab {len(vocabulary)} names, uncached | {name}"].append(_timed(functools.partial(det.text_embeddings, vocabulary)))
            det.text_cache.clear()
            det.text_embeddings(vocabulary[1:])
            times[f"vocab {len(vocabulary)} names, 1 new | {name}"].append(_timed(functools.partial(det.text_embeddings, vocabulary)))
        if gdino is not None:
            times["frame | grounding dino torch (4 names)"].append(_timed(functools.partial(gdino.detect, image, vocabulary[:4])))
    print(f"\nOWLv2 base config, random weights, 960 px input, 1280x720 frame, {args.threads} threads, torch on {args.device}, "
          f"onnxruntime {args.providers}, {args.repeats} repeats, load {os.getloadavg()[0]:.2f}")
    print(f"{'row':<58} {'median ms':>10} {'min ms':>9}")
    for row, values in times.items():
        print(f"{row:<58} {statistics.median(values):10.1f} {min(values):9.1f}")
    base = statistics.median(times["frame | torch"])
    for name in detectors:
        if name != "torch":
            print(f"frame ratio torch / {name}: {base / statistics.median(times[f'frame | {name}']):.2f}x")


if __name__ == "__main__":
    main()

"""SAM 2 automatic mask generation time per frame on CPU (random weights, SAM 2.1 tiny).

For each model input size (256 / 512 / 1024) and point grid (16x16 / 32x32): the frame is
encoded once (timed separately), then ``MaskGenerator.generate`` runs on those features with
SAM 2's default filters (pred IoU 0.8, stability 0.95, NMS 0.7). Random weights make the filters
keep almost nothing, so the time is dominated by prompt decoding; with real weights the
upscaling and RLE encoding of surviving masks add to it. Median of ``--repeats`` runs.

    python benchmarks/bench_amg.py [--sizes 256 512 1024] [--grids 16 32] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from sam2auto_ros.sam2.image import encode_frame
from sam2auto_ros.sam2.loading import build_random_model
from sam2auto_ros.sam2.parts import TorchSam2Parts
from sam2auto_ros.smart_od.amg import MaskGenerator
from sam2auto_ros.smart_od.config import AmgConfig

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--grids", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frame", type=int, nargs=2, default=[480, 640], metavar=("H", "W"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = np.random.default_rng(0).integers(0, 255, (*args.frame, 3), dtype=np.uint8)
    print(f"CPU, {args.threads} threads, {args.frame[1]}x{args.frame[0]} frame, SAM 2.1 tiny random weights, median of {args.repeats}; "
          f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'input':>6s} {'grid':>6s} {'prompts':>8s} {'encode s':>9s} {'AMG s':>8s} {'ms/prompt':>10s} {'masks':>6s}")
    for size in args.sizes:
        torch.manual_seed(0)
        model = build_random_model(CONFIG, image_size=size)
        parts = TorchSam2Parts(model)
        features = encode_frame(parts, image)
        encode_s = median_seconds(lambda: encode_frame(parts, image), args.repeats)
        for grid in args.grids:
            generator = MaskGenerator(model, AmgConfig(points_per_side=grid))
            result = generator.generate(features)
            amg_s = median_seconds(lambda: generator.generate(features), args.repeats)
            print(f"{size:6d} {grid:3d}x{grid:<2d} {grid * grid:8d} {encode_s:9.2f} {amg_s:8.2f} {1000 * amg_s / grid**2:10.2f} {len(result.instances):6d}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()

"""Offline bag annotation: throughput and the share of time that is not model time.

A seeded simulated scene is recorded as a bag (raw rgb8 frames + ground truth) and annotated with
``annotate_bag`` exactly as ``sam2auto annotate-bag`` does. Time is split into:

* model: the SAM 2 engine (or the weight-free optical-flow fallback) inside FLASH, and the detector;
* not model: bag reading + image decoding, FLASH's identity logic, overlay rendering, bag writing
  (CDR encoding, RLE conversion, storage).

The detector here is the simulator's noise model on ground truth (SMART-OD needs detector
weights, which do not exist on this machine); its time is shown in its own column and counted
as model time, though it is a stand-in far cheaper than SMART-OD. SAM 2 runs with random weights
saved in the released checkpoint format (cost is that of the real network; masks are noise).

    python benchmarks/bench_annotate.py                          # fallback + SAM 2 at 512 px
    python benchmarks/bench_annotate.py --backends fallback --frames 100 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

from sam2auto_ros.annotate_bag import annotate_bag, record_scene_bag  # noqa: E402
from sam2auto_ros.pipeline import Pipeline  # noqa: E402
from sam2auto_ros.sim import CLASS_NAMES, make_scene  # noqa: E402

PHASES = ("read_decode", "flash", "overlay", "write")
MODEL_NAME = "sam2.1_hiera_tiny"


def make_pipeline(backend: str, models_dir: Path, image_size: int) -> Pipeline:
    if backend == "fallback":
        return Pipeline.create(CLASS_NAMES, backend="fallback", detector="sim")
    return Pipeline.create(CLASS_NAMES, backend="sam2", detector="sim", models_dir=str(models_dir), image_size=image_size)


def run_once(bag: Path, work: Path, backend: str, models_dir: Path, image_size: int, overlay: bool) -> dict[str, float]:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    report = annotate_bag(bag, out, make_pipeline(backend, models_dir, image_size), overlay=overlay, progress=False)
    s = dict(report.seconds)
    s["frames"] = report.frames
    s["bag_mb"] = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=("fallback", "sam2"), default=["fallback", "sam2"])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--sam2-frames", type=int, default=12, help="frames for the SAM 2 runs (CPU is slow)")
    parser.add_argument("--size", type=int, default=512, help="frame side in pixels (square)")
    parser.add_argument("--image-size", type=int, default=512, help="SAM 2 input side")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; medians reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_annotate_"))
    try:
        models = work / "models"
        if "sam2" in args.backends:
            from sam2auto_ros.sam2.loading import save_random_checkpoint
            from sam2auto_ros.sam2.registry import checkpoint_info

            info = checkpoint_info(MODEL_NAME)
            save_random_checkpoint(models / info.filename, info.config, image_size=args.image_size, seed=args.seed)
        rows = []
        for backend in args.backends:
            frames = args.frames if backend == "fallback" else args.sam2_frames
            scene = make_scene("mixed", seed=args.seed, n_frames=frames, height=args.size, width=args.size)
            bag = record_scene_bag(scene.frames(), work / f"in_{backend}")
            for overlay in (True, False):
                runs = [run_once(bag, work, backend, models, args.image_size, overlay) for _ in range(args.repeats)]
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                rows.append((backend, overlay, med))
        print(f"\nannotate_bag, 'mixed' scene {args.size}x{args.size}, SAM 2 input {args.image_size} px, "
              f"{args.repeats} runs per row (medians), torch threads {args.threads}\n")
        head = ("| backend | overlay | frames | total s | frames/s | propagator s | detector s | "
                + " | ".join(f"{p} s" for p in PHASES) + " | not-model ms/frame | not-model share |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for backend, overlay, m in rows:
            model = m["propagator"] + m["detector"]
            other = sum(m[p] for p in PHASES)
            share = other / (model + other)
            cells = [backend if backend == "fallback" else f"SAM 2 ({MODEL_NAME}, random weights)",
                     "yes" if overlay else "no", f"{m['frames']:.0f}", f"{m['total']:.2f}",
                     f"{m['frames'] / m['total']:.2f}", f"{m['propagator']:.2f}", f"{m['detector']:.3f}",
                     *(f"{m[p]:.3f}" for p in PHASES), f"{1000 * other / m['frames']:.1f}", f"{100 * share:.1f} %"]
            print("| " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

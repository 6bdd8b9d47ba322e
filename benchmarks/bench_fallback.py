"""Speed, memory and mask quality of the weight-free fallback propagator (OpticalFlowPropagator).

Every object visible on frame 0 of a seeded simulator scene is conditioned on its true mask; the
propagator then runs alone (no detections, no re-conditioning). Reported per frame size:

* step time (median wall and CPU time per frame, all objects), and DIS flow alone on the same
  frames measured in the same run (its share of a step);
* mask IoU against the truth on frames where an object shows >= 50 % of itself (first 30 frames
  and whole run), and the share of those frames where the object is lost (IoU < 0.5);
* bytes held (frame ring + per-object state) at the end.

Run:  python benchmarks/bench_fallback.py [--frames 90] [--seeds 0-3] [--sizes 256x256 640x480 1280x720]
CPU time is the fairer figure on a shared machine (wall time includes waiting for a core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tabulate import tabulate  # noqa: E402

from sam2auto_ros.core.propagation import Prompt  # noqa: E402
from sam2auto_ros.fallback import OpticalFlowPropagator  # noqa: E402
from sam2auto_ros.sim import make_scene  # noqa: E402


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def run(preset: str, seed: int, size: tuple[int, int], frames: int) -> dict:
    scene = make_scene(preset, seed=seed, n_frames=frames, height=size[0], width=size[1])
    rendered = list(scene.frames())
    prop = OpticalFlowPropagator()
    prop.step(rendered[0].image)
    for inst in rendered[0].gt.instances:
        prop.add_object(inst.track_id, Prompt(mask=inst.mask.to_array()))
    wall, cpu, early, whole = [], [], [], []
    for frame in rendered[1:]:
        w0, c0 = time.perf_counter(), time.process_time()
        predictions = prop.step(frame.image)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        for gid, pred in predictions.items():
            if frame.visible_area[gid] >= 0.5 * max(frame.unoccluded_area[gid], 1):
                iou = _iou(pred.mask, frame.id_map == gid)
                whole.append(iou)
                if frame.index <= 30:
                    early.append(iou)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    grays = [cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY) for f in rendered]
    flow_cpu = []
    for a, b in zip(grays, grays[1:]):
        c0 = time.process_time()
        dis.calc(a, b, None)
        flow_cpu.append(time.process_time() - c0)
    return {"wall": wall, "cpu": cpu, "flow_cpu": flow_cpu, "early": early, "whole": whole,
            "objects": len(rendered[0].gt.instances), "bytes": prop.memory_bytes()}


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mixed")
    parser.add_argument("--seeds", default="0-3", help="e.g. 0-3")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(256, 256), (480, 640), (720, 1280)])
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    cv2.setNumThreads(1)
    rows = []
    for size in args.sizes:
        results = [run(args.preset, seed, size, args.frames) for seed in seeds]
        pool = {k: [v for r in results for v in r[k]] for k in ("wall", "cpu", "flow_cpu", "early", "whole")}
        cpu, flow = statistics.median(pool["cpu"]), statistics.median(pool["flow_cpu"])
        rows.append([
            f"{size[1]}x{size[0]}",
            f"{statistics.mean(r['objects'] for r in results):.1f}",
            f"{statistics.median(pool['wall']) * 1e3:.1f}",
            f"{cpu * 1e3:.1f}",
            f"{flow * 1e3:.1f} ({flow / cpu:.0%})",
            f"{np.mean(pool['early']):.3f}",
            f"{np.mean(pool['whole']):.3f}",
            f"{np.mean(np.array(pool['whole']) < 0.5):.1%}",
            f"{max(r['bytes'] for r in results) / 2**20:.1f}",
        ])
    print(f"OpticalFlowPropagator on '{args.preset}' seeds {seeds}, {args.frames} frames each, "
          "objects conditioned on frame 0 only (no detections)")
    print(tabulate(rows, headers=["size", "objects", "step wall ms", "step CPU ms", "DIS flow CPU ms (share)",
                                  "IoU frames 1-30", f"IoU frames 1-{args.frames - 1}", "lost", "memory MiB"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()

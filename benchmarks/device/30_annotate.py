"""``annotate-bag`` at 720p with SAM 2 on the device: model time against everything else, per frame.

A seeded 'mixed' scene (1280x720; dry run 320x180) recorded as JPEG ``CompressedImage`` frames
with ground truth, labelled with SAM 2.1 tiny (random weights in the released checkpoint format,
1024 px input; dry run 256) and the simulator's detector noise model (SMART-OD needs detector
weights), offline mode and overlay as ``sam2auto annotate-bag`` runs them. Then the frame budget
(``bench_frame_budget``: the camera-rate loop with replayed masks, whose low-resolution logits sit
on the device as SAM 2's would) at 720p/10 and 1080p/30 objects, on this machine's CPU.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from bench_annotate import record_jpeg_bag
from bench_frame_budget import STAGES
from section import device, dry, random_checkpoint, row, work

from sam2auto_ros.annotate_bag import annotate_bag
from sam2auto_ros.pipeline import Pipeline
from sam2auto_ros.sim import CLASS_NAMES, make_scene

SIZE = 256 if dry() else 1024
WIDTH, HEIGHT = (320, 180) if dry() else (1280, 720)
FRAMES = 4 if dry() else 60
BUDGET_CASES = ("320x180x3",) if dry() else ("1280x720x10", "1920x1080x30")
BUDGET_FRAMES = 4 if dry() else 40


def annotate() -> None:
    ckpt = random_checkpoint(SIZE)
    scene = make_scene("mixed", seed=0, n_frames=FRAMES, height=HEIGHT, width=WIDTH)
    bag = record_jpeg_bag(scene.frames(), work() / "annotate_in")
    pipeline = Pipeline.create(CLASS_NAMES, backend="sam2", detector="sim", checkpoint=str(ckpt), image_size=SIZE, device=device())
    with torch.inference_mode():
        report = annotate_bag(bag, work() / "annotate_out", pipeline, progress=False)
    s, n = report.seconds, report.frames
    model = s["propagator"] + s["detector"]
    other = {k: s.get(k, 0.0) for k in ("read_decode", "flash", "overlay", "write")}
    setting = f"{WIDTH}x{HEIGHT} JPEG, {n} frames, SAM 2 {SIZE} px, offline, overlay"
    row("annotate-bag ms/frame", setting, f"total {1000 * s['total'] / n:.1f}, model {1000 * model / n:.1f}, "
        f"everything else {1000 * sum(other.values()) / n:.1f}",
        ", ".join(f"{k} {1000 * v / n:.1f}" for k, v in other.items()) + f"; detector (sim) {1000 * s['detector'] / n:.1f}")


def frame_budget() -> None:
    here = Path(__file__).resolve().parents[1]
    for case in BUDGET_CASES:
        width, height, objects = (int(v) for v in case.split("x"))
        from bench_frame_budget import record_bag

        bag = record_bag(work() / f"budget_{case}", width, height, objects, BUDGET_FRAMES, 0, "jpeg")
        done = subprocess.run([sys.executable, str(here / "bench_frame_budget.py"), "--worker", str(bag), "--device", device()],
                              capture_output=True, text=True, cwd=work(), check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        med = {k: statistics.median(v) for k, v in result["ms"].items()}
        row("frame budget ms/frame (CPU work, one thread)", f"{case}, logits on {device()}", f"total {med['total']:.2f}",
            ", ".join(f"{k} {med[k]:.2f}" for k in STAGES) + f"; {result['tracks']} tracks")


def main() -> None:
    annotate()
    frame_budget()


if __name__ == "__main__":
    main()

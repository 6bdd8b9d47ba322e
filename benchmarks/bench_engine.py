"""SAM 2 streaming engine: per-frame time by size and object count, engine vs SAM 2's video
predictor side by side, and resident memory over a long stream.

Random SAM 2.1-tiny weights (saved and loaded in the released checkpoint format), synthetic
textured video. Prints three tables; medians over the measured frames.

Engine vs reference runs both in one process on the same decoded JPEG frames, interleaved
frame by frame (which of the two goes first alternates), so both see the same machine load;
the table gives both medians, their ratio and the median of the per-frame ratios. The engine's
time includes turning the camera frame into the model input; the reference does that for the
whole video in ``init_state`` before its loop, shown in its own column, not in its time.

    python benchmarks/bench_engine.py                 # full run (tens of minutes on 2 cores)
    python benchmarks/bench_engine.py --quick         # fewer sizes, frames and a shorter stream

One torch thread by default: on a shared 2-core machine two threads thrash (measured 13x slower
image encoding under load). Per-frame times are this process's CPU time (``--clock cpu``, the
default), which other jobs on a shared machine do not inflate; ``--clock wall`` for wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# SAM2VideoPredictor's per-frame progress bars off (tqdm reads this when imported)
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sam2auto_ros.core.propagation import Prompt
from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.loading import save_random_checkpoint
from sam2auto_ros.sam2.registry import checkpoint_info

MODEL = "sam2.1_hiera_tiny"
CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def video_frame(t: int, wh: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A textured background with moving textured discs (deterministic in ``t``)."""
    w, h = wh
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    frame = np.asarray(Image.fromarray(base).resize((w, h), Image.BILINEAR)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(4):
        cx = w * (0.2 + 0.2 * k) + 0.1 * w * np.sin(0.1 * t + k)
        cy = h * 0.5 + 0.2 * h * np.cos(0.07 * t + 2 * k)
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < (0.08 * w) ** 2
        frame[inside] = (60 * k + 40 * ((xx[inside] // 4 + yy[inside] // 4) % 2)).astype(np.uint8)[:, None]
    return frame


def boxes(n: int, wh: tuple[int, int]) -> list[list[float]]:
    w, h = wh
    cols = int(np.ceil(np.sqrt(n)))
    out = []
    for i in range(n):
        cx, cy = (i % cols + 0.5) / cols * w, (i // cols + 0.5) / cols * h
        out.append([cx - 0.3 * w / cols, cy - 0.3 * h / cols, cx + 0.3 * w / cols, cy + 0.3 * h / cols])
    return out


def engine_times(ckpt: Path, size: int, n_obj: int, n_warm: int, n_meas: int, device: str, wh: tuple[int, int]) -> list[float]:
    engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=ckpt, image_size=size, device=device)
    engine.step(video_frame(0, wh))
    for i, box in enumerate(boxes(n_obj, wh)):
        engine.add_object(i, Prompt(box=box))
    times = []
    for t in range(1, n_warm + n_meas + 1):
        frame = video_frame(t, wh)
        start = clock()
        engine.step(frame)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if t > n_warm:
            times.append(clock() - start)
    return times


def side_by_side(ckpt: Path, size: int, n_obj: int, n_warm: int, n_meas: int, device: str, wh: tuple[int, int]) -> tuple[list[float], list[float], float]:
    """Per-frame times of the engine and of ``SAM2VideoPredictor`` on the same frames and box
    prompts, stepped alternately; plus the reference's frame loading (``init_state``) per frame."""
    from sam2.build_sam import build_sam2_video_predictor

    n = n_warm + n_meas + 1
    engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=ckpt, image_size=size, device=device)
    predictor = build_sam2_video_predictor(checkpoint_info(MODEL).config, ckpt_path=str(ckpt), device=device, hydra_overrides_extra=[f"++model.image_size={size}"])
    eng: list[float] = []
    ref: list[float] = []
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing sam2._C hole filler warns on every frame
        frames = []
        for t in range(n):
            path = Path(folder) / f"{t:05d}.jpg"
            Image.fromarray(video_frame(t, wh)).save(path, quality=95)
            frames.append(np.asarray(Image.open(path).convert("RGB")))
        start = clock()
        state = predictor.init_state(folder)
        load = (clock() - start) / n
        engine.step(frames[0])
        for i, box in enumerate(boxes(n_obj, wh)):
            predictor.add_new_points_or_box(state, 0, i, box=box)
            engine.add_object(i, Prompt(box=box))
        tracked = predictor.propagate_in_video(state)
        next(tracked)  # frame 0: the prompted frame

        def run_engine(t: int) -> None:
            engine.step(frames[t])

        def run_reference(t: int) -> None:
            frame_idx, _, masks = next(tracked)
            assert frame_idx == t
            masks.cpu()

        for t in range(1, n):
            for run, times in ((run_engine, eng), (run_reference, ref))[:: 1 if t % 2 else -1]:
                start = clock()
                run(t)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(clock() - start)
    return eng[n_warm:], ref[n_warm:], load


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):9.1f}"


def table_scaling(ckpt: Path, sizes: list[int], counts: list[int], frames: dict[int, tuple[int, int]], device: str) -> None:
    print(f"\n## Engine per-frame time ({device}, torch threads={torch.get_num_threads()}), median ms/frame")
    print("| px | " + " | ".join(f"{n} obj" for n in counts) + " | added per extra object |")
    print("|---|" + "---|" * (len(counts) + 1))
    for size in sizes:
        n_warm, n_meas = frames[size]
        med = [statistics.median(engine_times(ckpt, size, n, n_warm, n_meas, device, (640, 480))) for n in counts]
        extra = (med[-1] - med[0]) / max(1, counts[-1] - counts[0])
        print(f"| {size} | " + " | ".join(f"{1000 * m:.1f}" for m in med) + f" | {1000 * extra:.1f} |", flush=True)
    print("(warm-up frames then measured frames per size: " + ", ".join(f"{s}: {w}+{m}" for s, (w, m) in frames.items() if s in sizes) + ")")


def table_vs_reference(ckpt: Path, cases: list[tuple[int, int]], n_warm: int, n_meas: int, device: str) -> None:
    print(f"\n## Engine vs SAM2VideoPredictor, same frames and prompts, interleaved ({device}, torch threads={torch.get_num_threads()})")
    print(f"median ms/frame over frames {n_warm + 1}..{n_warm + n_meas}; ratio > 1: the engine is faster")
    print("| px | objects | engine | reference | reference / engine | median per-frame ratio | reference frame loading (outside its loop) |")
    print("|---|---|---|---|---|---|---|")
    for size, n_obj in cases:
        eng, ref, load = side_by_side(ckpt, size, n_obj, n_warm, n_meas, device, (640, 480))
        ratio = statistics.median(ref) / statistics.median(eng)
        paired = statistics.median(r / e for r, e in zip(ref, eng))
        print(f"| {size} | {n_obj} | {ms(eng)} | {ms(ref)} | {ratio:.3f}x | {paired:.3f}x | {ms([load])} |", flush=True)


def table_memory(ckpt: Path, size: int, n_frames: int, n_obj: int, warm: int, device: str, which: list[str]) -> None:
    """RSS at fixed frames of a long stream; each runner prints as it goes (run them in separate
    processes with ``--memory-of`` so neither inherits the other's allocations)."""
    wh = (160, 120)
    step = max(1, (n_frames - warm) // 10)
    marks = {warm, *range(warm, n_frames + 1, step), n_frames}

    def run_engine(probe: Callable[[int], None]) -> None:
        engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=ckpt, image_size=size, device=device)
        engine.step(video_frame(0, wh))
        for i, box in enumerate(boxes(n_obj, wh)):
            engine.add_object(i, Prompt(box=box))
        for t in range(1, n_frames + 1):
            engine.step(video_frame(t, wh))
            if t % 100 == 0:  # a detector re-conditions one object now and then, late
                engine.add_object(t // 100 % n_obj, Prompt(box=boxes(n_obj, wh)[t // 100 % n_obj]), frame_index=t - 2)
            probe(t)

    def run_reference(probe: Callable[[int], None]) -> None:
        from sam2.build_sam import build_sam2_video_predictor

        predictor = build_sam2_video_predictor(checkpoint_info(MODEL).config, ckpt_path=str(ckpt), device=device, hydra_overrides_extra=[f"++model.image_size={size}"])
        with tempfile.TemporaryDirectory() as folder:
            for t in range(n_frames + 1):
                Image.fromarray(video_frame(t, wh)).save(Path(folder) / f"{t:05d}.jpg", quality=90)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = predictor.init_state(folder)
                for i, box in enumerate(boxes(n_obj, wh)):
                    predictor.add_new_points_or_box(state, 0, i, box=box)
                for frame_idx, _, _ in predictor.propagate_in_video(state):
                    probe(frame_idx)

    runners = {"engine": run_engine, "SAM2VideoPredictor": run_reference}
    print(f"\n## Resident memory over a {n_frames}-frame stream ({size} px, {n_obj} objects, {device}), MB", flush=True)
    for name in which:
        base: list[float] = []
        started = time.perf_counter()

        def probe(t: int, name: str = name, base: list[float] = base, started: float = started) -> None:
            if t in marks:
                rss = rss_mb()
                if t == warm:
                    base.append(rss)
                growth = f"{100 * (rss - base[0]) / base[0]:+.1f}% vs frame {warm}" if base else ""
                print(f"{name}: frame {t}: RSS {rss:.0f} MB {growth} ({time.perf_counter() - started:.0f} s)", flush=True)

        runners[name](probe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=sorted(CLOCK), default="cpu", help="per-frame time: process CPU time or wall time")
    parser.add_argument("--sizes", type=int, nargs="*", help="input sides for the scaling table (default 256 512 1024)")
    parser.add_argument("--counts", type=int, nargs="*", default=[1, 4, 16], help="object counts for the scaling table")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and frames")
    parser.add_argument("--long-frames", type=int, default=3000)
    parser.add_argument("--memory-of", nargs="*", default=["engine", "SAM2VideoPredictor"], help="whose RSS to track")
    parser.add_argument("--cases", nargs="*", help="engine-vs-reference cases as PX:OBJECTS (default 256:1 256:4 512:1 512:4)")
    parser.add_argument("--frames", type=int, nargs=2, metavar=("WARM", "MEASURED"), help="engine-vs-reference frames (default 8 12)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["scaling", "reference", "memory"])
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    torch.set_num_threads(args.threads)
    print(f"per-frame clock: {args.clock}")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_random_checkpoint(Path(tmp) / checkpoint_info(MODEL).filename, checkpoint_info(MODEL).config, seed=0)
        if "scaling" not in args.skip:
            sizes = args.sizes or ([256, 512] if args.quick else [256, 512, 1024])
            frames = {s: (2, 2) if s >= 1024 else (8, 4) if args.quick else (8, 6) for s in sizes}
            table_scaling(ckpt, sizes, args.counts, frames, args.device)
        if "reference" not in args.skip:
            default = ["256:1", "256:4"] if args.quick else ["256:1", "256:4", "512:1", "512:4"]
            cases = [(int(px), int(n)) for px, n in (c.split(":") for c in args.cases or default)]
            n_warm, n_meas = args.frames or ((8, 4) if args.quick else (8, 12))
            table_vs_reference(ckpt, cases, n_warm, n_meas, args.device)
        if "memory" not in args.skip:
            n_long = 600 if args.quick else args.long_frames
            table_memory(ckpt, 128, n_long, 2, min(500, n_long // 4), args.device, args.memory_of)


if __name__ == "__main__":
    main()

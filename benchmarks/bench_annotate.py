"""Offline bag annotation: throughput, the share of time that is not model time, and disk per frame.

A seeded simulated scene is recorded as a bag (``--input raw``: rgb8 ``Image`` frames; ``jpeg``:
JPEG ``CompressedImage`` frames on ``/sam2auto/image/compressed``, as robots record cameras; both
with ground truth) and annotated with ``annotate_bag`` exactly as ``sam2auto annotate-bag`` does,
each run in a subprocess of its own. Time is split into:

* model: the SAM 2 engine (or the weight-free optical-flow fallback) inside FLASH, and the detector;
* not model: bag reading + image decoding, FLASH's identity logic, overlay rendering, bag writing
  (CDR encoding, RLE conversion, storage). Frames a store decodes again on access (compressed
  cameras) count in FLASH and overlay.

Disk per frame: the input bag, the output bag, and the scratch files annotate-bag keeps next to the
output between its passes (peak, sampled every 10 ms by the run's subprocess from outside the
annotator). ``decode ms`` is one decode of a camera frame (median over the bag), measured apart.

``--compare DIR``: also run the annotator of another checkout (e.g. ``git worktree add /tmp/old
<commit>``), interleaved run by run with this one on the same bags, and print the ratios.

The detector here is the simulator's noise model on ground truth (SMART-OD needs detector
weights, which do not exist on this machine); its time is shown in its own column and counted
as model time, though it is a stand-in far cheaper than SMART-OD. SAM 2 runs with random weights
saved in the released checkpoint format (cost is that of the real network; masks are noise).

    python benchmarks/bench_annotate.py                          # fallback + SAM 2 at 512 px
    python benchmarks/bench_annotate.py --backends fallback --frames 100 --repeats 3
    python benchmarks/bench_annotate.py --backends fallback --input raw jpeg --size 720 --width 1280 \\
        --overlay yes --compare /tmp/old                         # disk per frame, before/after
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

from sam2auto_ros.annotate_bag import SIM_IMAGE_TOPIC, SIM_TRUTH_TOPIC, annotate_bag, record_scene_bag  # noqa: E402
from sam2auto_ros.pipeline import Pipeline  # noqa: E402
from sam2auto_ros.sim import CLASS_NAMES, make_scene  # noqa: E402

PHASES = ("read_decode", "flash", "overlay", "write")
MODEL_NAME = "sam2.1_hiera_tiny"
JPEG_QUALITY = 90
HERE = Path(__file__).resolve().parents[1]


def make_pipeline(backend: str, models_dir: Path, image_size: int) -> Pipeline:
    if backend == "fallback":
        return Pipeline.create(CLASS_NAMES, backend="fallback", detector="sim")
    return Pipeline.create(CLASS_NAMES, backend="sam2", detector="sim", models_dir=str(models_dir), image_size=image_size)


def record_jpeg_bag(frames, path: Path) -> Path:
    """The scene as JPEG ``CompressedImage`` frames + ground truth (written here, so an older checkout reads the same bag)."""
    from sam2auto_ros.core.instance import FrameInstances
    from sam2auto_ros.io import msg_types
    from sam2auto_ros.io.bags import BagWriter
    from sam2auto_ros.io.images import encode_compressed
    from sam2auto_ros.io.instance_msgs import MessageClasses, frame_to_msg, ns_to_stamp

    compressed = msg_types.typestore().types[msg_types.COMPRESSED_IMAGE]
    classes = MessageClasses.rosbags()
    with BagWriter(path) as writer:
        for sim in frames:
            header = classes.header(stamp=ns_to_stamp(sim.stamp_ns, classes.time), frame_id="sim_camera")
            fmt, data = encode_compressed(sim.image, "jpeg", JPEG_QUALITY)
            writer.write(f"{SIM_IMAGE_TOPIC}/compressed", compressed(header=header, format=fmt, data=data), sim.stamp_ns)
            gt = FrameInstances(sim.stamp_ns, sim.gt.height, sim.gt.width, sim.gt.instances, "sim_camera", sim.index)
            writer.write(SIM_TRUTH_TOPIC, frame_to_msg(gt, classes), sim.stamp_ns)
    return path


def decode_ms(bag: Path, topic: str) -> float:
    """Median time of one decode of a camera frame to RGB, as the annotator does it."""
    from sam2auto_ros.io import msg_types
    from sam2auto_ros.io.bags import read_messages
    from sam2auto_ros.io.images import decode_compressed, image_to_array, to_rgb

    times = []
    for message in read_messages(bag, [topic]):
        msg = message.decode()
        start = time.perf_counter()
        if msg.__msgtype__ == msg_types.COMPRESSED_IMAGE:
            decode_compressed(msg)
        else:
            to_rgb(*image_to_array(msg))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def worker(args: argparse.Namespace) -> int:
    """One annotation (in the checkout PYTHONPATH names); prints its seconds and bytes as JSON."""
    import sam2auto_ros
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.worker_out)
    peak = [0]
    done = threading.Event()

    def sample() -> None:  # the scratch folder(s) next to OUT: top-level files only (the bag in progress is a folder)
        while not done.is_set():
            size = 0
            for folder in out.parent.glob(f".{out.name}.partial-*"):
                try:
                    size += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
                except FileNotFoundError:
                    pass
            peak[0] = max(peak[0], size)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    pipeline = make_pipeline(args.worker_backend, Path(args.worker_models), args.image_size)
    report = annotate_bag(Path(args.worker_bag), out, pipeline, overlay=args.worker_overlay == "yes", progress=False)
    done.set()
    sampler.join()
    print(json.dumps({**report.seconds, "frames": report.frames, "scratch": peak[0], "out": dir_bytes(out),
                      "code": sam2auto_ros.__file__}))
    return 0


def run_once(code: Path, bag: Path, work: Path, backend: str, models: Path, args: argparse.Namespace, overlay: str) -> dict:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, __file__, "--worker-bag", str(bag), "--worker-out", str(out), "--worker-backend", backend,
           "--worker-models", str(models), "--worker-overlay", overlay, "--image-size", str(args.image_size),
           "--threads", str(args.threads)]
    done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run with {code} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result.pop("code")).resolve().is_relative_to(code.resolve()):
        raise RuntimeError(f"{code}: the run imported another checkout's sam2auto_ros")
    shutil.rmtree(out, ignore_errors=True)
    return result


def label(code: Path) -> str:
    head = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "sam2auto_ros"], capture_output=True, text=True).stdout
    return f"{head or code.name}{'+changes' if dirty.strip() else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=("fallback", "sam2"), default=["fallback", "sam2"])
    parser.add_argument("--input", nargs="+", choices=("raw", "jpeg"), default=["raw"],
                        help="camera transport of the recorded bag: raw Image or JPEG CompressedImage (quality 90)")
    parser.add_argument("--overlay", nargs="+", choices=("yes", "no"), default=["yes", "no"], help="rows with/without overlay")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to run interleaved with this one")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--sam2-frames", type=int, default=12, help="frames for the SAM 2 runs (CPU is slow)")
    parser.add_argument("--size", type=int, default=512, help="frame height in pixels")
    parser.add_argument("--width", type=int, help="frame width in pixels (default: --size, square)")
    parser.add_argument("--image-size", type=int, default=512, help="SAM 2 input side")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; medians reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    for hidden in ("--worker-bag", "--worker-out", "--worker-backend", "--worker-models", "--worker-overlay"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.worker_bag:
        return worker(args)
    width = args.width or args.size
    codes = [HERE] + ([args.compare] if args.compare else [])
    labels = {code: label(code) for code in codes}
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
            scene = make_scene("mixed", seed=args.seed, n_frames=frames, height=args.size, width=width)
            for kind in args.input:
                record = record_scene_bag if kind == "raw" else record_jpeg_bag
                bag = record(scene.frames(), work / f"in_{backend}_{kind}")
                per_decode = decode_ms(bag, SIM_IMAGE_TOPIC if kind == "raw" else f"{SIM_IMAGE_TOPIC}/compressed")
                for overlay in args.overlay:
                    runs: dict[Path, list[dict]] = {code: [] for code in codes}
                    for _ in range(args.repeats):  # interleaved: one run of each checkout per round
                        for code in codes:
                            runs[code].append(run_once(code, bag, work, backend, models, args, overlay))
                    for code in codes:
                        med = {k: statistics.median(r[k] for r in runs[code]) for k in runs[code][0]}
                        med["in"], med["decode_ms"] = dir_bytes(bag), per_decode
                        rows.append((backend, kind, overlay, code, med))
        print(f"\nannotate_bag, 'mixed' scene {width}x{args.size}, SAM 2 input {args.image_size} px, "
              f"{args.repeats} runs per row (medians), torch threads {args.threads}, load {os.getloadavg()[0]:.2f}\n")
        head = ("| backend | input | overlay | code | frames | in KB/frame | scratch KB/frame | out KB/frame | decode ms | "
                "total s | ms/frame | propagator s | detector s | " + " | ".join(f"{p} s" for p in PHASES)
                + " | not-model ms/frame | not-model share |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for backend, kind, overlay, code, m in rows:
            n = m["frames"]
            model = m["propagator"] + m["detector"]
            other = sum(m[p] for p in PHASES)
            cells = [backend if backend == "fallback" else f"SAM 2 ({MODEL_NAME}, random weights)", kind, overlay,
                     labels[code], f"{n:.0f}", f"{m['in'] / n / 1e3:.0f}", f"{m['scratch'] / n / 1e3:.0f}",
                     f"{m['out'] / n / 1e3:.0f}", f"{m['decode_ms']:.2f}", f"{m['total']:.2f}", f"{1000 * m['total'] / n:.1f}",
                     f"{m['propagator']:.2f}", f"{m['detector']:.3f}", *(f"{m[p]:.3f}" for p in PHASES),
                     f"{1000 * other / n:.1f}", f"{100 * other / (model + other):.1f} %"]
            print("| " + " | ".join(cells) + " |")
        if args.compare:
            print(f"\nthis checkout ({labels[HERE]}) against {labels[args.compare]}: ratios of medians\n")
            print("| backend | input | overlay | scratch this/other | out this/other | ms/frame this - other | "
                  "that difference as a share of this total |")
            print("|---|---|---|---|---|---|---|")
            by_key = {(b, k, o, c): m for b, k, o, c, m in rows}
            for backend, kind, overlay, code, m in rows:
                if code != HERE:
                    continue
                other = by_key[(backend, kind, overlay, args.compare)]
                delta = 1000 * (m["total"] - other["total"]) / m["frames"]
                print(f"| {backend} | {kind} | {overlay} | {m['scratch'] / max(other['scratch'], 1):.3f} | "
                      f"{m['out'] / other['out']:.3f} | {delta:+.1f} | {100 * delta / (1000 * m['total'] / m['frames']):+.1f} % |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

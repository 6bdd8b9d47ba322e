"""Soak: the live graph records for minutes while its recorder is killed with SIGKILL again and again.

The simulated camera (720p, 30 Hz, JPEG ``image/compressed`` beside the raw ``image``), the
simulated detector (``smart_od_node``, sim-noise), the tracker (``flash_node``, flow fallback) and
``recorder_node`` (compressed frames, detections, tracks; 30 s splits, 1 s flush) run as separate
processes over loopback DDS. Every ``--kill-every`` seconds the recorder gets ``kill -9``, a new one
starts at once on a new bag, and ``sam2auto dataset recover`` finishes the killed bag (in its own
process, as a user would run it). It reports

- per kill: the killed bag's finished splits and whether every one reads to its end (all messages
  read back through rosbags), what ``recover`` said (exit code, messages taken from the open split)
  and the loss: from the last message recovered to the kill, which must stay within one flush window;
- memory (VmRSS) of every node sampled every 2 s: first and last minute, and the fitted slope (each
  recorder run on its own: first and last 30 s of its life).

Not in CI: it needs both cores for the whole run. Run it as

    /work/cpu bench python benchmarks/soak_recorder.py --minutes 10 --kill-every 120

The table of a run is kept in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_graph import _node, _rss_mb

from sam2auto_ros.io.bags import read_messages
from sam2auto_ros.io.recorder import OPEN_DIR
from sam2auto_ros.ros.dds import loopback_env

FLUSH_S = 1.0
SPLIT_S = 30.0
IMAGE = "/sam2auto/image/compressed"


def _recorder(bag: Path, env: dict, log: Path) -> subprocess.Popen:
    return _node("recorder_node", {"autostart": True, "bag_path": str(bag), "compressed": True, "storage": "mcap",
                                   "split_duration_s": SPLIT_S, "flush_period_s": FLUSH_S, "queue_depth": 100}, env, log)


def _wait_recording(bag: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (bag / OPEN_DIR).is_dir() or not any((bag / OPEN_DIR).iterdir()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the recorder did not start writing {bag}")
        time.sleep(0.2)


def _check_killed(bag: Path, killed_at_ns: int) -> dict:
    """Recover a killed bag with the CLI, then read every message back."""
    finished = len(list(bag.glob("*.mcap")))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sam2auto_ros.cli", "dataset", "recover", str(bag)],
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    try:
        stamps = [m.timestamp_ns for m in read_messages(bag) if m.topic == IMAGE]
        readable = True
    except Exception as exc:  # a bag that does not read back is the failure this soak looks for
        print(f"{bag}: does not read back: {exc}", file=sys.stderr)
        stamps, readable = [], False
    open_line = [line for line in proc.stdout.splitlines() if "finished from the open split" in line]
    return {
        "bag": bag.name, "finished": finished, "readable": readable, "code": proc.returncode,
        "open": open_line[0].split(",")[-1].strip() if open_line else "-",
        "frames": len(stamps), "gap_s": (killed_at_ns - max(stamps)) / 1e9 if stamps else float("nan"),
        "recover_s": seconds, "err": proc.stderr.strip().splitlines()[-1:] if proc.returncode else [],
    }


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _memory_row(samples: list[tuple[float, float]], settle_s: float) -> str:
    """Median RSS over the first and the last ``settle_s`` of a process's samples, and the slope after the first."""
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    late = t >= settle_s
    slope = np.polyfit(t[late] / 60, rss[late], 1)[0] if late.sum() > 2 else float("nan")
    return f"{np.median(rss[t < settle_s]):.0f} | {np.median(rss[t > t.max() - settle_s]):.0f} | {slope:+.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds between kill -9 of the recorder")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--domain-id", type=int, default=160 + os.getpid() % 50)
    parser.add_argument("--keep", action="store_true", help="keep the bags (default: removed at the end)")
    args = parser.parse_args()
    env = loopback_env(args.domain_id)
    tmp = Path(tempfile.mkdtemp(prefix="soak_"))
    print(f"load at start: {_load()}; bags in {tmp}", flush=True)
    nodes = {
        "smart_od_node": _node("smart_od_node", {"autostart": True}, env, tmp / "smart_od.log"),
        "flash_node": _node("flash_node", {"autostart": True, "propagator": "flow-fallback", "publish_overlay": False}, env,
                            tmp / "flash.log"),
        "sim_camera_node": _node("sim_camera_node", {"autostart": True, "width": args.width, "height": args.height,
                                                     "fps": args.fps, "n_frames": 150, "loop": True, "cache_frames": True,
                                                     "publish_compressed": True}, env, tmp / "camera.log"),
    }
    memory: dict[str, list[tuple[float, float]]] = {name: [] for name in nodes}
    recorder_memory: list[list[tuple[float, float]]] = [[]]  # per recorder run: (seconds since its start, MB)
    recorder_start = time.monotonic()
    kills = []
    incarnation = 0
    bag = tmp / f"rec_{incarnation}"
    recorder = _recorder(bag, env, tmp / f"recorder_{incarnation}.log")
    _wait_recording(bag)
    start = time.monotonic()
    next_kill = start + args.kill_every
    end = start + args.minutes * 60
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            for name, proc in [*nodes.items(), ("recorder_node", recorder)]:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} died (exit {proc.returncode}); its log is in {tmp}")
            for name, proc in nodes.items():
                memory[name].append((now - start, _rss_mb(proc.pid)))
            recorder_memory[-1].append((now - recorder_start, _rss_mb(recorder.pid)))
            if now >= next_kill and now + 10 < end:
                killed_at = time.time_ns()
                os.kill(recorder.pid, signal.SIGKILL)
                recorder.wait()
                old, incarnation = bag, incarnation + 1
                bag = tmp / f"rec_{incarnation}"
                recorder = _recorder(bag, env, tmp / f"recorder_{incarnation}.log")
                recorder_start = time.monotonic()
                recorder_memory.append([])
                kills.append({"at_s": now - start, **_check_killed(old, killed_at)})
                print(f"kill {len(kills)} at {now - start:.0f} s: {kills[-1]}", flush=True)
                _wait_recording(bag)
                next_kill = now + args.kill_every
            time.sleep(2.0)
    finally:
        for proc in [recorder, *nodes.values()]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in [recorder, *nodes.values()]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    last = {"bag": bag.name, "code": recorder.returncode}
    try:
        last["frames"] = sum(1 for m in read_messages(bag) if m.topic == IMAGE)
        last["readable"] = not (bag / OPEN_DIR).exists()
    except Exception as exc:  # reported, not raised: the table says it
        last.update(frames=0, readable=False, err=str(exc))

    print(f"\nload at end: {_load()}")
    print(f"\n{args.width}x{args.height} at {args.fps:g} Hz for {args.minutes:g} min, recorder killed every "
          f"{args.kill_every:g} s (flush {FLUSH_S:g} s, splits {SPLIT_S:g} s)\n")
    print("| kill | at s | finished splits | all read back | recover exit | open split | frames in bag | "
          "last frame -> kill s | within flush window | recover s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, k in enumerate(kills, 1):
        within = k["gap_s"] <= FLUSH_S + 1.0 / args.fps
        print(f"| {n} | {k['at_s']:.0f} | {k['finished']} | {'yes' if k['readable'] else 'NO'} | {k['code']} | {k['open']} | "
              f"{k['frames']} | {k['gap_s']:.2f} | {'yes' if within else 'NO'} | {k['recover_s']:.1f} |")
    print(f"| end | - | closed by SIGINT (exit {last['code']}) | {'yes' if last.get('readable') else 'NO'} | - | - | "
          f"{last['frames']} | - | - | - |")
    print("\n| node | RSS MB, first minute (median) | RSS MB, last minute (median) | slope MB/min (fit after the first minute) |")
    print("|---|---|---|---|")
    for name, samples in memory.items():
        print(f"| {name} | {_memory_row(samples, 60.0)} |")
    for n, samples in enumerate(recorder_memory):
        if len(samples) > 5:
            print(f"| recorder_node run {n} ({samples[-1][0]:.0f} s) | {_memory_row(samples, 30.0)} |")
    for k in kills:
        if k["err"]:
            print(f"recover of {k['bag']}: {k['err'][0]}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Live graph benchmark: per-frame latency, drops, overhead beyond model time, memory over time.

Runs the real nodes as separate processes over real DDS (loopback only): sim_camera_node at
30 Hz, smart_od_node (simulated detector) and flash_node, and a probe subscribing to the tracks
like a planner would. Per resolution it reports

- latency from frame stamp to tracks received, split into ``transport`` (camera -> flash_node),
  ``model`` (FLASH + propagator) and ``rest`` (mailbox wait, decode, message build, publish,
  tracks delivery) - medians over the run (the node's split is its rolling window);
- frames published / received / processed / dropped by the latest-frame policy;
- the graph's overhead beyond model time: (decode + message build + publish) / model, i.e. the
  work a frame costs the node besides the model, and the whole ``rest`` / model for reference;
- detection batches FLASH applied and refused (a batch whose exact frame flash_node dropped is
  applied to the nearest processed frame within ``--stamp-tolerance-ms``, else refused);
- flash_node's resident memory and pending-detection queue, sampled each second: growth
  between the first and the last 10 % of the run;
- IDF1 of the confirmed tracks on the frames flash_node processed, against the scene's ground truth
  (simulated detector, noise preset "mild"): the free-running graph's quality, which depends on how
  many frames the machine lets it process (the tests run the graph in lockstep instead).

    python benchmarks/bench_graph.py [--duration 60] [--sizes 640x480 1280x720] [--propagator flow-fallback]

Random-weight SAM 2 (``--propagator sam2``) measures the real engine's cost at the given
``--image-size``; no weights are needed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sam2auto_ros.ros.dds import loopback_env

NS = "/sam2auto"


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _idf1(tracks: list, truth: dict) -> float:
    """IDF1 of the confirmed tracks on the frames they were published for."""
    from sam2auto_ros.core.instance import FrameInstances, InstanceStatus
    from sam2auto_ros.eval.metrics import evaluate
    from sam2auto_ros.ros.messages import frame_from_msg

    def confirmed(frame: FrameInstances) -> FrameInstances:
        keep = tuple(i for i in frame.instances if i.status == InstanceStatus.CONFIRMED and i.mask is not None and i.mask.area > 0)
        return FrameInstances(frame.stamp_ns, frame.height, frame.width, keep, frame.frame_id)

    pairs = [(frame_from_msg(truth[_stamp(m)]), confirmed(frame_from_msg(m))) for m in tracks if _stamp(m) in truth]
    if not pairs:
        return float("nan")
    return float(evaluate({"graph": ([g for g, _ in pairs], [p for _, p in pairs])}).combined["IDF1"])


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")


def _node(executable: str, params: dict, env: dict, log: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", f"sam2auto_ros.ros.{executable}", "--ros-args", "-r", f"__ns:={NS}"]
    for key, value in params.items():
        args += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    return subprocess.Popen(args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def run(width: int, height: int, duration: float, args: argparse.Namespace, env: dict, tmp: Path) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from sam2auto_ros.msg import InstanceMaskArray

    flash_params = {"autostart": True, "propagator": args.propagator, "publish_overlay": False,
                    "stamp_tolerance_ns": int(args.stamp_tolerance_ms * 1e6), "torch_threads": args.threads}
    if args.propagator == "sam2":
        from sam2auto_ros.sam2.loading import save_random_checkpoint
        from sam2auto_ros.sam2.registry import checkpoint_info

        ckpt = save_random_checkpoint(tmp / "sam2_random.pt", checkpoint_info(args.model).config, image_size=args.image_size)
        flash_params.update(model=args.model, checkpoint=str(ckpt), image_size=args.image_size, device=args.device)
    procs = {
        "smart_od_node": _node("smart_od_node", {"autostart": True, "sim_latency": args.detector_latency}, env, tmp / "smart_od.log"),
        "flash_node": _node("flash_node", flash_params, env, tmp / "flash.log"),
        "sim_camera_node": _node("sim_camera_node", {"autostart": True, "width": width, "height": height, "fps": 30.0,
                                                     "n_frames": 90, "loop": True, "cache_frames": True,
                                                     "wait_for_subscribers": 2}, env, tmp / "camera.log"),
    }
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bench_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    latencies: list[tuple[int, float]] = []  # (arrival ns, stamp -> arrival ms)
    truth: dict[int, object] = {}  # stamp -> ground truth message
    tracked: list[object] = []
    status: dict[str, dict[str, str]] = {}
    samples: list[tuple[float, float, int]] = []  # (t, flash rss MB, pending detections)

    def on_tracks(msg) -> None:
        now = time.time_ns()
        latencies.append((now, (now - _stamp(msg)) / 1e6))
        tracked.append(msg)

    def on_truth(msg) -> None:
        truth[_stamp(msg)] = msg

    def on_status(msg) -> None:
        for st in msg.status:
            status[st.name.rsplit("/", 1)[-1]] = {kv.key: kv.value for kv in st.values}

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(InstanceMaskArray, f"{NS}/tracks", on_tracks, qos)
    node.create_subscription(InstanceMaskArray, f"{NS}/ground_truth", on_truth, QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(DiagnosticArray, "/diagnostics", on_status, qos)
    try:
        deadline = time.monotonic() + 180
        while not latencies and time.monotonic() < deadline:  # models loaded, camera running
            executor.spin_once(timeout_sec=0.1)
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} died; see {tmp}")
        start = time.monotonic()
        t_first = time.time_ns()
        next_sample = start
        while time.monotonic() - start < duration:
            executor.spin_once(timeout_sec=0.05)
            if time.monotonic() >= next_sample:
                pending = int(status.get("flash_node", {}).get("detections_pending", 0))
                samples.append((time.monotonic() - start, _rss_mb(procs["flash_node"].pid), pending))
                next_sample += 1.0
        end_status = {k: dict(v) for k, v in status.items()}
    finally:
        for proc in procs.values():
            proc.send_signal(2)
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        executor.remove_node(node)
        node.destroy_node()
        context.try_shutdown()
    e2e = np.array([ms for t, ms in latencies if t >= t_first])
    idf1 = _idf1([m for (t, _), m in zip(latencies, tracked) if t >= t_first], truth)
    flash, camera = end_status["flash_node"], end_status["sim_camera_node"]
    model = float(flash["model_ms"])
    cost = float(flash["decode_ms"]) + float(flash["publish_ms"])
    transport = float(flash["transport_ms"])
    rest = float(np.median(e2e)) - transport - model
    tenth = max(len(samples) // 10, 1)
    return {
        "size": f"{width}x{height}",
        "e2e_ms": float(np.median(e2e)), "e2e_p95_ms": float(np.percentile(e2e, 95)),
        "transport_ms": transport, "model_ms": model, "rest_ms": rest,
        "queue_ms": float(flash["queue_ms"]), "node_cost_ms": cost,
        "overhead_pct": 100 * cost / model, "rest_pct": 100 * rest / model,
        "published": int(camera["frames_published"]), "received": int(flash["frames_received"]),
        "processed": int(flash["frames_processed"]), "dropped": int(flash["frames_dropped"]),
        "lost_dds": int(flash["frames_lost_dds"]),
        "pending_max": max(s[2] for s in samples),
        "detections_applied": int(flash["detections_applied"]),
        "detections_refused": sum(int(v) for k, v in flash.items() if k.startswith("rejected_detections_")),
        "rss_start_mb": float(np.median([s[1] for s in samples[:tenth]])),
        "rss_end_mb": float(np.median([s[1] for s in samples[-tenth:]])),
        "duration_s": duration, "idf1": idf1,
        "rss_curve": [(round(samples[i][0]), round(samples[i][1])) for i in np.linspace(0, len(samples) - 1, 6).astype(int)],
        "pending_curve": [samples[i][2] for i in np.linspace(0, len(samples) - 1, 6).astype(int)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured per size (issue goal: 600)")
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    parser.add_argument("--propagator", default="flow-fallback", choices=("flow-fallback", "sam2"))
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=512, help="SAM 2 input side (--propagator sam2)")
    parser.add_argument("--device", default="cpu", help="flash_node's torch device for SAM 2 (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in flash_node")
    parser.add_argument("--detector-latency", type=float, default=0.1, help="simulated detector seconds per frame")
    parser.add_argument("--stamp-tolerance-ms", type=float, default=100.0,
                        help="FLASH stamp_tolerance_ns, in ms (config/annotate.yaml's default: 100)")
    parser.add_argument("--domain-id", type=int, default=150 + os.getpid() % 50)
    args = parser.parse_args()
    env = loopback_env(args.domain_id)
    os.environ.update(env)
    env["PYTHONUNBUFFERED"] = "1"
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = []
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        with tempfile.TemporaryDirectory(prefix="bench_graph_") as tmp:
            rows.append(run(width, height, args.duration, args, env, Path(tmp)))
        print(f"done {size}", file=sys.stderr, flush=True)
    print(f"\nload average before: {load_before}, after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"flash_node propagator: {args.propagator}; camera 30 Hz; {args.duration:.0f} s per size; "
          f"stamp tolerance {args.stamp_tolerance_ms:g} ms; {os.cpu_count()} CPU cores shared by every process\n")
    print("| size | e2e median / p95 ms | transport ms | model ms | rest ms (queue ms) | node overhead ms (% of model) "
          "| rest % of model | published / received / processed / dropped (DDS lost) | detections applied / refused | pending dets max | flash RSS MB start -> end | IDF1 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['e2e_ms']:.1f} / {r['e2e_p95_ms']:.1f} | {r['transport_ms']:.1f} | {r['model_ms']:.1f} "
              f"| {r['rest_ms']:.1f} ({r['queue_ms']:.1f}) | {r['node_cost_ms']:.2f} ({r['overhead_pct']:.1f} %) "
              f"| {r['rest_pct']:.0f} % | {r['published']} / {r['received']} / {r['processed']} / {r['dropped']} ({r['lost_dds']}) "
              f"| {r['detections_applied']} / {r['detections_refused']} | {r['pending_max']} | {r['rss_start_mb']:.0f} -> {r['rss_end_mb']:.0f} "
              f"| {r['idf1']:.3f} |")
    for r in rows:
        print(f"\n{r['size']}: flash_node RSS (s, MB) {r['rss_curve']}; pending detections {r['pending_curve']}")


if __name__ == "__main__":
    main()

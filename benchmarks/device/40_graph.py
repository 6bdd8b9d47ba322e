"""The live graph at 720p / 30 Hz with SAM 2 on the device (``bench_graph``'s run, DDS on loopback).

sim_camera_node (1280x720 at 30 Hz; dry run 320x180), smart_od_node (simulated detector) and
flash_node on SAM 2.1 tiny (random weights in the released checkpoint format, 1024 px; dry run
256) as separate processes: end-to-end latency from frame stamp to tracks received, frames
published / processed / dropped, and flash_node's split per frame (transport, model = FLASH +
SAM 2, decode + message build + publish, the rest).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench_graph import run
from section import device, dry, row

from sam2auto_ros.ros.dds import loopback_env

SIZE = 256 if dry() else 1024
WIDTH, HEIGHT = (320, 180) if dry() else (1280, 720)
DURATION = 4.0 if dry() else 30.0


def main() -> None:
    args = argparse.Namespace(propagator="sam2", model="sam2.1_hiera_tiny", image_size=SIZE, device=device(), threads=2,
                              detector_latency=0.1, stamp_tolerance_ms=100.0)
    env = loopback_env(170 + os.getpid() % 50)
    os.environ.update(env)
    env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory(prefix="device_graph_") as tmp:
        r = run(WIDTH, HEIGHT, DURATION, args, env, Path(tmp))
    setting = f"{r['size']} at 30 Hz, SAM 2 {SIZE} px on {device()}, {DURATION:.0f} s"
    row("live graph end-to-end ms", setting, f"median {r['e2e_ms']:.1f}, p95 {r['e2e_p95_ms']:.1f}",
        f"transport {r['transport_ms']:.1f}, model {r['model_ms']:.1f}, decode+build+publish {r['node_cost_ms']:.2f}, "
        f"rest {r['rest_ms']:.1f} (queue {r['queue_ms']:.1f})")
    row("live graph frames", setting, f"published {r['published']}, processed {r['processed']}, dropped {r['dropped']}",
        f"DDS lost {r['lost_dds']}; detections applied {r['detections_applied']} / refused {r['detections_refused']}; "
        f"flash_node RSS {r['rss_start_mb']:.0f} -> {r['rss_end_mb']:.0f} MB")


if __name__ == "__main__":
    main()

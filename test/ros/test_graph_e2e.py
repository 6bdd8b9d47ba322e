"""End to end over real DDS, every node its own process: the simulated camera publishes a seeded
scene, smart_od_node (simulated detector: delayed by ``sim_latency``, skipping frames under the
latest-frame policy, missing objects in bursts) and flash_node (weight-free optical flow) run, and
the tracks the test receives are scored against the scene's ground truth with the eval harness.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core.instance import FrameInstances, InstanceStatus

from test.ros.graph import NodeProcess, Probe

pytestmark = pytest.mark.ros
NS = "/sam2auto"
N_FRAMES = 200  # 13 s at 15 Hz, 256 px (15 Hz: a shared 2-core machine keeps up with most frames)
FPS = 15.0
IDF1_FLOOR = 0.75
"""Weight-free floor (flow fallback + simulated detector, noise preset "mild", 0.2 s detector
latency). Scored on the frames flash_node published (it drops frames when slower than the
camera; that share is asserted separately). Measured on the shared 2-core machine: IDF1 0.910 and
0.911 with 92-93 % of frames processed (at 30 Hz under load: 0.58-0.71 with 38-60 % processed)."""


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _confirmed(frame: FrameInstances) -> FrameInstances:
    keep = tuple(i for i in frame.instances if i.status == InstanceStatus.CONFIRMED and i.mask is not None and i.mask.area > 0)
    return FrameInstances(frame.stamp_ns, frame.height, frame.width, keep, frame.frame_id)


def _run_graph(probe: Probe, ros_env, tmp_path, flash_params: dict, n_frames: int, latency: float):
    from sam2auto_ros.msg import InstanceMaskArray

    gt = probe.collect(InstanceMaskArray, f"{NS}/ground_truth", depth=400)
    tracks = probe.collect(InstanceMaskArray, f"{NS}/tracks", depth=400)
    dets = probe.collect(InstanceMaskArray, f"{NS}/detections", depth=400)
    procs = [
        NodeProcess("smart_od_node", ros_env, tmp_path, {"autostart": True, "sim_noise": "mild", "sim_latency": latency}),
        NodeProcess("flash_node", ros_env, tmp_path, {"autostart": True, "stamp_tolerance_ns": 35_000_000, **flash_params}),
    ]
    try:
        assert probe.spin_until(lambda: probe.status(f"{NS}/flash_node").get("state") == "active", 120, tuple(procs)), \
            procs[1].log()[-2000:]
        # the camera is activated once everyone listens to it, so no frame is published into the void
        camera = NodeProcess("sim_camera_node", ros_env, tmp_path, {"scene": "mixed", "seed": 7, "n_frames": n_frames, "fps": FPS,
                                                                    "wait_for_subscribers": 2})
        procs.append(camera)
        assert probe.lifecycle(f"{NS}/sim_camera_node", "configure")
        assert probe.spin_until(lambda: probe.matched(f"{NS}/ground_truth") and probe.matched(f"{NS}/tracks")
                                and probe.matched(f"{NS}/detections"), 30, tuple(procs))
        probe.spin_for(0.5)
        assert probe.lifecycle(f"{NS}/sim_camera_node", "activate")
        assert probe.spin_until(lambda: len(gt) >= n_frames, n_frames / FPS + 60, tuple(procs))
        last = _stamp(gt[-1])
        probe.spin_until(lambda: tracks and _stamp(tracks[-1]) >= last, 20, tuple(procs))
        probe.spin_for(1.5)  # the final status messages
        status = {name: probe.status(f"{NS}/{name}") for name in ("smart_od_node", "flash_node")}
        return gt, tracks, dets, status, procs
    finally:
        for proc in procs:
            proc.interrupt()
        for proc in procs:
            assert proc.stop() == 0, f"{proc.name} did not exit cleanly:\n{proc.log()[-2000:]}"


@pytest.mark.slow
def test_graph_tracks_match_ground_truth_with_late_and_missing_detections(probe, ros_env, tmp_path):
    from sam2auto_ros.eval.metrics import evaluate
    from sam2auto_ros.ros.messages import frame_from_msg

    gt, tracks, dets, status, _ = _run_graph(probe, ros_env, tmp_path, {"propagator": "flow-fallback"}, N_FRAMES, latency=0.2)
    gt_by_stamp = {_stamp(m): m for m in gt}
    assert len(gt_by_stamp) == N_FRAMES

    # detections: stamped with their source frame, late, and only for some frames
    det_stamps = [_stamp(m) for m in dets]
    assert set(det_stamps) <= set(gt_by_stamp)
    lateness_ms = np.median([(t - s) / 1e6 for t, s in zip(probe.arrival[f"{NS}/detections"], det_stamps)])
    assert lateness_ms > 200, "the detector's latency shows in the detections' age"
    assert len(dets) < 0.5 * N_FRAMES and int(status["smart_od_node"]["frames_dropped"]) > 0

    # tracks: one array per processed frame, stamped with that frame, in order, never for an unknown frame
    track_stamps = [_stamp(m) for m in tracks]
    assert track_stamps == sorted(track_stamps) and set(track_stamps) <= set(gt_by_stamp)
    processed = len(track_stamps) / N_FRAMES
    flash = status["flash_node"]
    assert int(flash["frames_processed"]) == len(tracks)
    assert int(flash["frames_processed"]) + int(flash["frames_dropped"]) + int(flash["queue_depth"]) == int(flash["frames_received"])
    assert int(flash["detections_applied"]) > 0.5 * len(dets), flash

    pairs = [(frame_from_msg(gt_by_stamp[s]), _confirmed(frame_from_msg(t))) for s, t in zip(track_stamps, tracks)]
    report = evaluate({"e2e": ([g for g, _ in pairs], [p for _, p in pairs])})
    idf1 = report.combined["IDF1"]
    print(f"\nframes processed {processed:.0%}, detections {len(dets)}/{N_FRAMES} (median age {lateness_ms:.0f} ms)\n"
          f"{report.table(('HOTA', 'IDF1', 'IDSW', 'MOTA', 'J&F'))}")
    assert processed >= 0.5, "flash_node processed too few frames"
    assert idf1 >= IDF1_FLOOR, report.table()


@pytest.mark.slow
def test_graph_wiring_with_random_weight_sam2(probe, ros_env, tmp_path):
    """SAM 2 in the live graph (random weights at 256 px: proves the wiring, not accuracy)."""
    from sam2auto_ros.sam2.loading import save_random_checkpoint
    from sam2auto_ros.sam2.registry import checkpoint_info

    ckpt = save_random_checkpoint(tmp_path / "sam2.1_hiera_tiny.pt", checkpoint_info("sam2.1_hiera_tiny").config, image_size=256)
    params = {"propagator": "sam2", "checkpoint": str(ckpt), "image_size": 256, "torch_threads": 1}
    gt, tracks, dets, status, procs = _run_graph(probe, ros_env, tmp_path, params, n_frames=60, latency=0.0)
    flash = status["flash_node"]
    assert flash["backend"] == "sam2" and "sam2.1_hiera_tiny" in flash["model"]
    assert len(tracks) >= 3 and {_stamp(m) for m in tracks} <= {_stamp(m) for m in gt}
    # Random weights give random object scores, so whether a track is still alive when the camera
    # stops is chance (0 live tracks at the end in 2 of 12 observed runs); that SAM 2's tracks were published is not
    # (7-9 of 9-11 published arrays held instances).
    assert int(flash["detections_applied"]) >= 1 and any(m.instances for m in tracks), flash
    assert float(flash["model_ms"]) > 0

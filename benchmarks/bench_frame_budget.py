"""The frame budget: every millisecond a frame costs outside the model, stage by stage.

A seeded simulated scene (the 'mixed' preset with ``N`` objects) is recorded as a bag of JPEG
``CompressedImage`` frames (quality 90, as robots record cameras; ``--input raw`` for rgb8 ``Image``)
with its ground truth. A worker then runs the camera-rate loop of ``flash_node`` over it, one frame
at a time, on ONE thread (torch, OpenCV, BLAS):

    read the frame from the bag -> decode -> [model] -> FLASH step + detections + current()
    -> tracks and detections as InstanceMaskArray (RLE + CDR) -> [overlay] -> bag write

The model costs nothing here: a *replay propagator* hands FLASH the ground-truth masks as SAM 2
would, as mask logits at the model's resolution (``--low-res``, 256 px: SAM 2's 1024 px input / 4),
so what is timed is only what the package itself does to each frame (``--device cuda``: the logits
sit on the GPU, as SAM 2's do there). The detector is the
simulator's noise model on ground truth (its time is not counted either). Stages, ms per frame,
medians over frames (then over ``--repeats`` runs):

* ``decode``: bag record to RGB pixels (CDR deserialisation + JPEG decode);
* ``identity``: FLASH's own work (association, admission, life cycle, rendering);
* ``full-res``: the model's low-resolution mask logits made into full-resolution masks;
* ``messages``: tracks and detections into ``InstanceMaskArray`` (RLE counts) and CDR bytes;
* ``overlay``: the rendered overlay and its JPEG (only with ``--overlay``);
* ``write``: the bag write (input frame, detections, tracks, overlay);
* ``total``: the sum (the frame budget outside the model).

``--compare DIR`` runs another checkout (e.g. ``git worktree add /tmp/old <commit>``) on the same
bags, interleaved run by run, and prints the ratios and whether its tracks are the same: the
replay speaks both forms of ``ObjectPrediction`` (full-resolution masks from older checkouts, where
the full-resolution step happened inside the propagator, timed here as ``full-res``).

    python benchmarks/bench_frame_budget.py                                  # 1280x720x10, 1920x1080x30
    python benchmarks/bench_frame_budget.py --cases 1280x720x10 --frames 60 --compare /work/wt/old
    python benchmarks/bench_frame_budget.py --overlay --input raw
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as the budget is stated

HERE = Path(__file__).resolve().parents[1]
STAGES = ("decode", "identity", "full-res", "messages", "overlay", "write")
IMAGE_TOPIC = "/sam2auto/image"
TRUTH_TOPIC = "/sam2auto/ground_truth"
JPEG_QUALITY = 90
SIZE_RANGE = (0.08, 0.16)  # object size / min(width, height): 10 objects at 720p are ~60-115 px across


# -- the parent: scenes, bags, runs, tables ---------------------------------------------------------
def record_bag(path: Path, width: int, height: int, objects: int, frames: int, seed: int, kind: str) -> Path:
    """The scene as a camera bag (JPEG CompressedImage or rgb8 Image) plus its ground truth."""
    from sam2auto_ros.core.instance import FrameInstances
    from sam2auto_ros.io import msg_types
    from sam2auto_ros.io.bags import BagWriter
    from sam2auto_ros.io.images import encode_compressed, image_fields
    from sam2auto_ros.io.instance_msgs import MessageClasses, frame_to_msg, ns_to_stamp
    from sam2auto_ros.sim import make_scene

    scene = make_scene("mixed", seed=seed, n_frames=frames, height=height, width=width, n_objects=objects,
                       size_range=SIZE_RANGE)
    types = msg_types.typestore().types
    classes = MessageClasses.rosbags()
    with BagWriter(path) as writer:
        for sim in scene.frames():
            header = classes.header(stamp=ns_to_stamp(sim.stamp_ns, classes.time), frame_id="sim_camera")
            if kind == "jpeg":
                fmt, data = encode_compressed(sim.image, "jpeg", JPEG_QUALITY)
                msg = types[msg_types.COMPRESSED_IMAGE](header=header, format=fmt, data=data)
                writer.write(f"{IMAGE_TOPIC}/compressed", msg, sim.stamp_ns)
            else:
                writer.write(IMAGE_TOPIC, types[msg_types.IMAGE](header=header, **image_fields(sim.image)), sim.stamp_ns)
            gt = FrameInstances(sim.stamp_ns, sim.gt.height, sim.gt.width, sim.gt.instances, "sim_camera", sim.index)
            writer.write(TRUTH_TOPIC, frame_to_msg(gt, classes), sim.stamp_ns)
    return path


def run_worker(code: Path, bag: Path, args: argparse.Namespace, work: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)}
    cmd = [sys.executable, __file__, "--worker", str(bag), "--low-res", str(args.low_res), "--noise", args.noise,
           "--detect-every", str(args.detect_every), "--seed", str(args.seed), "--device", args.device] + (["--overlay"] if args.overlay else [])
    done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run with {code} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result.pop("code")).resolve().is_relative_to(code.resolve()):
        raise RuntimeError(f"{code}: the worker imported another checkout's sam2auto_ros")
    return result


def label(code: Path) -> str:
    head = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "sam2auto_ros"], capture_output=True, text=True).stdout
    return f"{head or code.name}{'+changes' if dirty.strip() else ''}"


def summarise(runs: list[dict]) -> dict:
    """Per stage: the median over frames of each run, then the median over runs."""
    out = {stage: statistics.median(statistics.median(r["ms"][stage]) for r in runs) for stage in (*STAGES, "total")}
    out["rss_growth_mb"] = statistics.median(r["rss_end_mb"] - r["rss_start_mb"] for r in runs)
    out["rss_end_mb"] = statistics.median(r["rss_end_mb"] for r in runs)
    out["tracks"] = runs[0]["tracks"]
    out["frames"] = runs[0]["frames"]
    out["digests"] = runs[0]["digests"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["1280x720x10", "1920x1080x30"], help="WIDTHxHEIGHTxOBJECTS")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="runs per case and checkout; medians reported")
    parser.add_argument("--input", choices=("jpeg", "raw"), default="jpeg", help="camera transport recorded in the bag")
    parser.add_argument("--overlay", action="store_true", help="render and write the overlay (JPEG) as well")
    parser.add_argument("--low-res", type=int, default=256, help="side of the replayed mask logits (SAM 2: input / 4)")
    parser.add_argument("--noise", default="mild", help="detector noise preset (sim.NOISE_PRESETS)")
    parser.add_argument("--detect-every", type=int, default=1, help="detections on every N-th frame")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where the replayed logits live (cuda: as SAM 2's on a GPU)")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout, run interleaved with this one")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    codes = [HERE] + ([args.compare.resolve()] if args.compare else [])
    labels = {code: label(code) for code in codes}
    work = Path(tempfile.mkdtemp(prefix="bench_frame_budget_"))
    rows = []
    load_start = os.getloadavg()[0]
    try:
        for case in args.cases:
            width, height, objects = (int(v) for v in case.lower().split("x"))
            bag = record_bag(work / f"in_{case}", width, height, objects, args.frames, args.seed, args.input)
            runs: dict[Path, list[dict]] = {code: [] for code in codes}
            for _ in range(args.repeats):  # interleaved: one run of each checkout per round
                for code in codes:
                    runs[code].append(run_worker(code, bag, args, work))
            for code in codes:
                rows.append((case, code, summarise(runs[code])))
            print(f"done {case}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nframe budget outside the model: '{args.input}' camera bag, 'mixed' scene, replayed ground-truth masks "
          f"({args.low_res} px logits), detections every {args.detect_every} frame(s) ('{args.noise}' noise), overlay "
          f"{'on' if args.overlay else 'off'}, one thread, {args.frames} frames, {args.repeats} runs per row; ms per frame, "
          f"medians; load {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end\n")
    head = "| case | code | " + " | ".join(STAGES) + " | total | tracks | RSS end MB (growth) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for case, code, m in rows:
        cells = [case, labels[code], *(f"{m[s]:.2f}" for s in STAGES), f"**{m['total']:.2f}**", str(m["tracks"]),
                 f"{m['rss_end_mb']:.0f} ({m['rss_growth_mb']:+.1f})"]
        print("| " + " | ".join(cells) + " |")
    if args.compare:
        other = args.compare.resolve()
        print(f"\nthis checkout ({labels[HERE]}) / {labels[other]}: ratios of the medians; same tracks = frames whose "
              "track ids, labels, statuses and masks are byte-identical\n")
        print("| case | " + " | ".join(STAGES) + " | total | same tracks |")
        print("|" + "---|" * (len(STAGES) + 3))
        by_key = {(case, code): m for case, code, m in rows}
        for case in args.cases:
            this, that = by_key[(case, HERE)], by_key[(case, other)]
            ratios = [f"{this[s] / that[s]:.2f}" if that[s] > 0 else "-" for s in (*STAGES, "total")]
            same = sum(a == b for a, b in zip(this["digests"], that["digests"]))
            print(f"| {case} | " + " | ".join(ratios) + f" | {same} / {this['frames']} |")
    return 0


# -- the worker: one run of one checkout ------------------------------------------------------------
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stopwatch:
    """Seconds added up while the wrapped callables run (a call made inside another wrapped one
    is not counted twice)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, fn):
        def timed(*a, **kw):
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start
        return timed


class ReplayPropagator:
    """The ground truth replayed as a propagator would hand it over, at no model cost.

    ``prepare(i)`` (called outside every timed region) turns frame ``i``'s ground-truth masks into
    mask logits at the model's resolution (``low_res`` x ``low_res``, as SAM 2's decoder gives them:
    +8 inside, -8 outside, area-averaged). An object follows the ground-truth object its prompt
    overlaps most on the frame it was prompted on. Predictions take the form the checkout's
    ``ObjectPrediction`` has: the low-resolution logits themselves, or (older checkouts)
    full-resolution logits and mask made here exactly as the SAM 2 engine made them then, that time
    going to ``full_res``.
    """

    name = "replay"

    def __init__(self, truth: list, low_res: int, full_res: Stopwatch, device: str = "cpu") -> None:
        import torch

        from sam2auto_ros.core import propagation

        self.truth = truth  # FrameInstances per frame
        self.low_res = low_res
        self.full_res = full_res
        self.device = device
        self.torch = torch
        fields = {f.name for f in dataclasses.fields(propagation.ObjectPrediction)}
        self.lowres_contract = "mask" not in fields
        self.contract = propagation
        self._logits: dict[int, dict[int, Any]] = {}
        self.reset()

    def reset(self) -> None:
        self._objects: dict[int, int] = {}  # obj id -> ground-truth track id
        self._index = -1

    def prepare(self, index: int) -> None:
        import cv2

        frame = self.truth[index]
        logits = {}
        for inst in frame.instances:
            full = inst.mask.to_array().astype("float32")
            small = cv2.resize(full, (self.low_res, self.low_res), interpolation=cv2.INTER_AREA)
            logits[inst.track_id] = self.torch.from_numpy((small * 16.0 - 8.0).astype("float32")).to(self.device)
        self._logits[index] = logits
        self._logits.pop(index - 9, None)  # a ring of recent frames

    # -- Propagator
    @property
    def object_ids(self) -> list[int]:
        return list(self._objects)

    @property
    def frame_index(self) -> int:
        return self._index

    @property
    def oldest_promptable_frame(self) -> int:
        return max(self._index - 7, 0)

    def step(self, image):
        self._index += 1
        return dict(zip(self._objects, self._predict(list(self._objects))))

    def add_object(self, obj_id, prompt, frame_index=None):
        import numpy as np

        from sam2auto_ros.core.masks import RleMask, mask_iou_matrix

        at = self._index if frame_index is None else int(frame_index)
        inst = self.truth[at].instances
        if prompt.mask is not None and inst:
            ious = mask_iou_matrix([RleMask.from_array(np.asarray(prompt.mask, dtype=bool))], [i.mask for i in inst])[0]
            self._objects[obj_id] = inst[int(ious.argmax())].track_id if ious.max() > 0 else -1
        else:
            self._objects[obj_id] = -1
        return self._predict([obj_id])[0]

    def remove_object(self, obj_id) -> None:
        del self._objects[obj_id]

    def _predict(self, ids: list[int]) -> list:
        torch = self.torch
        frame = self.truth[self._index]
        logits = self._logits[self._index]
        absent = torch.full((self.low_res, self.low_res), -8.0, device=self.device)
        low = [logits.get(self._objects[i], absent) for i in ids]
        scores = [8.0 if self._objects[i] in logits else -8.0 for i in ids]
        if self.lowres_contract:
            from sam2auto_ros.core.predicted_masks import LowResLogits

            return [self.contract.ObjectPrediction(i, self._index, LowResLogits(m, (frame.height, frame.width)), s, 0.9)
                    for i, m, s in zip(ids, low, scores)]
        if not ids:
            return []
        start = time.perf_counter()  # what the SAM 2 engine did to its low-res logits before the change
        full = torch.nn.functional.interpolate(torch.stack(low)[:, None], size=(frame.height, frame.width),
                                               mode="bilinear", align_corners=False)[:, 0]
        full_np = full.float().cpu().numpy()
        out = [self.contract.ObjectPrediction(i, self._index, full_np[k] > 0.0, s, 0.9, logits=full_np[k])  # type: ignore[call-arg]
               for k, (i, s) in enumerate(zip(ids, scores))]
        self.full_res.seconds += time.perf_counter() - start
        return out


def worker(args: argparse.Namespace) -> int:
    import cv2
    import torch

    import sam2auto_ros
    from sam2auto_ros.flash import FlashConfig, FlashTracker
    from sam2auto_ros.io import msg_types
    from sam2auto_ros.io.bags import BagWriter, read_messages
    from sam2auto_ros.io.images import decode_compressed, encode_compressed, image_to_array, to_rgb
    from sam2auto_ros.io.instance_msgs import MessageClasses, frame_from_msg, frame_to_msg, ns_to_stamp, stamp_to_ns
    from sam2auto_ros.io.overlay import render_overlay
    from sam2auto_ros.sim import NoisyDetector, noise_preset

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    truth = [frame_from_msg(m.decode()) for m in read_messages(args.worker, [TRUTH_TOPIC])]
    full_res = Stopwatch()
    try:  # newer checkouts make full-resolution masks in one module, on demand: time it there
        from sam2auto_ros.core import predicted_masks as pm

        for owner, name in ((pm.PredictedMask, "rle"), (pm.LowResLogits, "window"), (pm.LowResLogits, "logits_window"),
                            (pm.LowResLogits, "bounds"), (pm, "_any_rows_cols")):
            setattr(owner, name, full_res.wrap(getattr(owner, name)))
    except ImportError:
        pass
    replay = ReplayPropagator(truth, args.low_res, full_res, args.device)
    tracker = FlashTracker(replay, FlashConfig())
    detector = NoisyDetector(noise_preset(args.noise), sequence_seed=args.seed)
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    out_types = {"tracks": msg_types.INSTANCE_MASK_ARRAY, "detections": msg_types.INSTANCE_MASK_ARRAY,
                 "overlay": msg_types.COMPRESSED_IMAGE}
    overlay_cls = store.types[msg_types.COMPRESSED_IMAGE]
    ms: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    digests: list[str] = []
    ids: set[int] = set()
    rss_start = 0.0
    out_dir = Path(tempfile.mkdtemp(prefix="frame_budget_out_", dir="."))
    topics = [t for t in (f"{IMAGE_TOPIC}/compressed", IMAGE_TOPIC) if t in bag_topics(args.worker)]
    try:
        with BagWriter(out_dir / "out") as writer:
            for index, message in enumerate(read_messages(args.worker, topics)):
                detections = detector.detect(truth[index]) if index % args.detect_every == 0 else None
                replay.prepare(index)
                t0 = time.perf_counter()
                msg = message.decode()
                rgb = decode_compressed(msg) if msg.__msgtype__ == msg_types.COMPRESSED_IMAGE else to_rgb(*image_to_array(msg))
                stamp = stamp_to_ns(msg.header.stamp)
                t1 = time.perf_counter()
                identity_before, full_before = tracker.stats.identity_seconds, full_res.seconds
                tracker.step(rgb, stamp, render=False)
                if detections is not None:
                    tracker.add_detections(stamp, detections.instances)
                tracks = tracker.current()
                assert tracks is not None
                identity = tracker.stats.identity_seconds - identity_before
                full = full_res.seconds - full_before
                t2 = time.perf_counter()
                raw: dict[str, Any] = {"tracks": store.serialize_cdr(frame_to_msg(tracks, classes), out_types["tracks"])}
                if detections is not None:
                    dets = dataclasses.replace(detections, stamp_ns=stamp)
                    raw["detections"] = store.serialize_cdr(frame_to_msg(dets, classes), out_types["detections"])
                t3 = time.perf_counter()
                if args.overlay:
                    fmt, data = encode_compressed(render_overlay(rgb, tracks), "jpeg", JPEG_QUALITY)
                    header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id="sim_camera")
                    raw["overlay"] = store.serialize_cdr(overlay_cls(header=header, format=fmt, data=data), out_types["overlay"])
                t4 = time.perf_counter()
                writer.write_raw(message.topic, message.msgtype, message.rawdata, message.timestamp_ns)
                for name, data in raw.items():
                    writer.write_raw(f"/sam2auto/annotated/{name}", out_types[name], data, message.timestamp_ns)
                t5 = time.perf_counter()
                # identity's clock runs inside FLASH; the replay's own (free) work is outside it
                stages = {"decode": t1 - t0, "identity": identity - (full if replay.lowres_contract else 0.0),
                          "full-res": full, "messages": t3 - t2, "overlay": t4 - t3, "write": t5 - t4}
                for name, seconds in stages.items():
                    ms[name].append(1e3 * seconds)
                ms["total"].append(1e3 * sum(stages.values()))
                digests.append(_digest(tracks))
                ids.update(i.track_id for i in tracks.instances)
                if index == max(len(truth) // 10, 1):
                    rss_start = rss_mb()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({"ms": ms, "frames": len(digests), "tracks": len(ids), "digests": digests,
                      "rss_start_mb": rss_start, "rss_end_mb": rss_mb(), "code": sam2auto_ros.__file__}))
    return 0


def bag_topics(path: Path) -> set[str]:
    from sam2auto_ros.io.bags import open_reader

    reader = open_reader(path)
    try:
        return {c.topic for c in reader.connections}
    finally:
        reader.close()


def _digest(frame) -> str:
    """The published tracks of one frame, as bytes: ids, labels, statuses, boxes and masks."""
    h = hashlib.sha1()
    for inst in frame.instances:
        h.update(f"{inst.track_id}|{inst.label}|{int(inst.status)}|{inst.box.tobytes().hex()}|".encode())
        h.update(inst.mask.counts if inst.mask is not None else b"-")
    return h.hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())

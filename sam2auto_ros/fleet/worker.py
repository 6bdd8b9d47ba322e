"""One worker of ``annotate-bags``: loads the models once, then tracks camera sequences and writes
bags for as long as it is given work. Plain Python (the Ray actor wraps it unchanged), so a test or
a one-machine loop can drive it directly.

A tracked camera comes back as a :class:`~sam2auto_ros.annotate_bag.CameraRun`; the bag is written
once all its cameras are in (segments joined first), by whichever worker gets that task, under
``staged_output``: complete at its path, or absent.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam2auto_ros.annotate_bag import BagPlan, CameraRun, annotate_camera, write_annotations
from sam2auto_ros.fleet.manifest import content_hash
from sam2auto_ros.fleet.plan import BagJob, Task
from sam2auto_ros.fleet.seams import Seam, join_segments
from sam2auto_ros.io.outputs import locked_scratch, staged_output
from sam2auto_ros.pipeline import Pipeline

PROGRESS_EVERY = 16
"""Frames between two progress reports of a worker (each report is one message to the driver)."""


@dataclass
class Tracked:
    """A camera (or segment) tracked by a worker, and what it cost."""

    task: str  # Task.key
    run: CameraRun
    seconds: dict[str, float]
    pid: int


@dataclass
class Written:
    """A bag written by a worker."""

    output: Path
    frames: int
    tracks: int
    cameras: int
    hash: str
    seconds: dict[str, float]
    seams: list[Seam] = field(default_factory=list)
    pid: int = 0


def limit_threads(threads: int) -> None:
    """Keep a worker's numeric libraries to its share of the CPUs (one thread per CPU it was given),
    so N workers on N cores do not each spawn N threads and fight over them."""
    import cv2
    import torch

    torch.set_num_threads(max(1, threads))
    cv2.setNumThreads(max(1, threads))


class Worker:
    """Holds one loaded :class:`Pipeline` and runs tasks with it."""

    def __init__(self, pipeline_options: dict[str, Any], threads: int | None = None) -> None:
        if threads is not None:
            limit_threads(threads)
        start = time.perf_counter()
        self.pipeline = Pipeline.create(**pipeline_options)
        self.load_s = time.perf_counter() - start

    def info(self) -> dict[str, Any]:
        """Who this worker is and what loading its models cost."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "load_s": self.load_s,
                "needs_truth": self.pipeline.needs_truth, **self.pipeline.describe()}

    def track(self, task: Task, out_dir: Path, offline: bool = True,
              report: Callable[[int], None] | None = None) -> tuple[dict[str, float], Tracked]:
        """Read, detect and track one camera (or one segment of it); its frames wait in a locked scratch
        folder next to the bag's output. ``report(n)`` gets the frames done, every few frames. Returns
        the cost (small: for the scheduler) and the tracked camera (large: for the writer) apart."""
        seconds: dict[str, float] = {}
        counter = _Counter(report)
        start = time.perf_counter()
        with locked_scratch(out_dir / f"{task.bag}.cam{task.camera_index}.seg{task.segment}") as scratch:
            run = annotate_camera(task.input, task.camera, self.pipeline, scratch, offline=offline, progress=False,
                                  window=task.window, on_frame=counter, seconds=seconds)
        counter.flush()
        seconds["total"] = time.perf_counter() - start
        return seconds, Tracked(task.key, run, seconds, os.getpid())

    def write(self, job: BagJob, plan: BagPlan, cuts: Sequence[Sequence[int]], out_dir: Path, storage: str = "mcap",
              overlay: bool = True, *tracked: Tracked) -> Written:
        """Join each camera's segments and write the bag to ``out_dir / job.name``, whole or not at all.
        ``tracked``: every camera's segments in order, camera after camera; ``cuts[i]``: camera i's cuts
        between its segments (one fewer than its segments)."""
        start = time.perf_counter()
        runs, seams = [], []
        at = 0
        for camera_cuts in cuts:
            segments = tracked[at:at + len(camera_cuts) + 1]
            at += len(camera_cuts) + 1
            run, joined = join_segments([t.run for t in segments], camera_cuts)
            runs.append(run)
            seams.extend(joined)
        custom = {"split_seams": len(seams)} if seams else None
        with staged_output(out_dir / job.name) as stage:
            report = write_annotations(job.input, stage.path, runs, plan.topics, self.pipeline.describe(), storage=storage,
                                       overlay=overlay, progress=False, custom_data=custom)
        seconds = {**report.seconds, "total": time.perf_counter() - start}
        start = time.perf_counter()
        digest = content_hash(job.input)
        seconds["hash"] = time.perf_counter() - start
        return Written(out_dir / job.name, report.frames, report.tracks, len(runs), digest, seconds, seams, os.getpid())


class _Counter:
    """``on_frame`` for ``annotate_camera`` (called once per frame in each of its two passes): reports
    whole frames, half a frame per call, every ``PROGRESS_EVERY`` frames."""

    def __init__(self, report: Callable[[int], None] | None) -> None:
        self.report, self.calls, self.sent = report, 0, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.report is not None and self.calls // 2 - self.sent >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        done = self.calls // 2
        if self.report is not None and done > self.sent:
            self.report(done - self.sent)
            self.sent = done

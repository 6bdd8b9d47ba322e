"""What ``annotate-bags`` will do, worked out before any model is loaded: which bags, where each
output goes, and the tasks (one camera sequence of one bag each, or one segment of it with
``--split-long``). No Ray here: the scheduler only hands these tasks out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sam2auto_ros.annotate_bag import AnnotateError, BagPlan, CameraPlan
from sam2auto_ros.io.bags import BagError, open_reader
from sam2auto_ros.io.outputs import PARTIAL_MARK

BAG_MARK = "metadata.yaml"
"""A rosbag2 is a folder holding this file; a folder without it is searched for bags."""
DEFAULT_OVERLAP_S = 2.0


class PlanError(ValueError):
    """Inputs or options the command cannot start with; the message says what to do."""


@dataclass(frozen=True)
class BagJob:
    """One input bag and the output it becomes (``name``: relative to the output folder)."""

    input: Path
    name: str


@dataclass(frozen=True)
class Task:
    """One unit of work: a camera of a bag, whole (``window`` None) or one segment of it."""

    bag: str  # BagJob.name
    input: Path
    camera_index: int
    camera: CameraPlan
    segment: int = 0
    window: tuple[int, int] | None = None  # receive times, ns, stop excluded
    frames: int = 0  # expected frames (exact for a whole camera, estimated for a segment)

    @property
    def key(self) -> str:
        return f"{self.bag}#cam{self.camera_index}" + (f"#seg{self.segment}" if self.window is not None else "")


@dataclass(frozen=True)
class CameraSplit:
    """How one camera's sequence was cut: its segments' tasks and the cut between each pair."""

    tasks: tuple[Task, ...]
    cuts: tuple[int, ...]  # receive time from which the output takes segment k + 1


def find_bags(inputs: Sequence[Path], out_dir: Path) -> list[BagJob]:
    """Every bag named or found under a named folder, each with a distinct output name.

    A bag given directly keeps its own name; one found in a folder keeps its path below that folder
    (``fleet/robot1/run3`` -> ``robot1/run3``), so bags of the same name from two robots do not clash.
    Hidden folders (scratch of other runs) and the output folder are not searched.
    """
    out_dir = out_dir.absolute()
    jobs: list[BagJob] = []
    for given in inputs:
        path = given.absolute()
        if not path.exists():
            raise PlanError(f"input {given} does not exist")
        if (path / BAG_MARK).is_file():
            jobs.append(BagJob(path, path.name))
            continue
        if not path.is_dir():
            raise PlanError(f"input {given} is neither a bag (a folder with {BAG_MARK}) nor a folder of bags")
        found = [p.parent for p in sorted(path.rglob(BAG_MARK))
                 if not _skipped(p.parent.relative_to(path), p.parent, out_dir)]
        found = [bag for bag in found if not any(other != bag and other in bag.parents for other in found)]
        if not found:
            raise PlanError(f"folder {given} holds no bag (no {BAG_MARK} below it)")
        jobs.extend(BagJob(bag, str(bag.relative_to(path))) for bag in found)
    by_input: dict[Path, BagJob] = {}
    by_name: dict[str, BagJob] = {}
    for job in jobs:
        if job.input in by_input:
            raise PlanError(f"bag {job.input} is named twice among the inputs; name it once")
        if job.name in by_name:
            raise PlanError(f"bags {by_name[job.name].input} and {job.input} would both be written to {out_dir / job.name}; "
                            "give their parent folders as inputs (outputs keep the path below each input folder) or annotate them separately")
        if out_dir == job.input or out_dir in job.input.parents:
            raise PlanError(f"bag {job.input} lies inside the output folder {out_dir}; choose an --out outside the inputs")
        by_input[job.input] = by_name[job.name] = job
    return jobs


def _skipped(relative: Path, bag: Path, out_dir: Path) -> bool:
    hidden = any(part.startswith(".") or PARTIAL_MARK in part for part in relative.parts)
    return hidden or bag == out_dir or out_dir in bag.parents


def time_span(path: Path) -> tuple[int, int]:
    """First and last receive time (ns) of the bag, from its metadata."""
    try:
        reader = open_reader(path)
    except BagError as exc:
        raise AnnotateError(str(exc)) from exc
    try:
        return int(reader.start_time), int(reader.end_time)
    finally:
        reader.close()


def segments(start: int, end: int, seconds: float, overlap: float) -> tuple[list[tuple[int, int]], list[int]]:
    """Windows (receive times, stop excluded) cutting ``[start, end]`` into stretches of ``seconds``,
    each reaching ``overlap`` into the next; and the cut in the middle of each overlap."""
    length, extra = int(seconds * 1e9), int(overlap * 1e9)
    count = max(1, math.ceil((end - start) / length)) if end > start else 1
    bounds = [start + k * length for k in range(count)] + [end + 1]
    windows = [(bounds[k], min(bounds[k + 1] + extra, end + 1) if k < count - 1 else end + 1) for k in range(count)]
    cuts = [bounds[k] + extra // 2 for k in range(1, count)]
    return windows, cuts


def bag_tasks(job: BagJob, plan: BagPlan, split_long: float | None = None, overlap: float = DEFAULT_OVERLAP_S) -> list[CameraSplit]:
    """Each camera of ``plan`` as one task, or as segments when it is longer than ``split_long`` seconds."""
    span = time_span(job.input) if split_long else None
    splits = []
    for index, camera in enumerate(plan.cameras):
        whole = Task(job.name, job.input, index, camera, frames=camera.frame_count)
        if span is None or split_long is None or (span[1] - span[0]) <= split_long * 1e9:
            splits.append(CameraSplit((whole,), ()))
            continue
        windows, cuts = segments(span[0], span[1], split_long, overlap)
        duration = max(span[1] - span[0], 1)
        tasks = tuple(Task(job.name, job.input, index, camera, k, window,
                           min(camera.frame_count, math.ceil(camera.frame_count * (window[1] - window[0]) / duration)))
                      for k, window in enumerate(windows))
        splits.append(CameraSplit(tasks, tuple(cuts)))
    return splits


def check_split(split_long: float | None, overlap: float) -> None:
    """The split options make sense together (before anything is read)."""
    if split_long is None:
        return
    if not split_long > 0 or not overlap > 0:
        raise PlanError(f"--split-long {split_long} and --overlap {overlap} must both be > 0 seconds")
    if overlap >= split_long:
        raise PlanError(f"--overlap {overlap} s must be shorter than the segments (--split-long {split_long} s)")

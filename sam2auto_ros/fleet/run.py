"""``annotate_bags``: every input bag annotated by a pool of Ray workers, one task per camera
sequence (or per segment of a long one), each output whole or absent, all of it in a manifest.

The driver only plans, hands out tasks and keeps the record; tracked cameras go from the worker that
tracked them to the worker that writes their bag through Ray's object store, never through the
driver. Each worker runs one task at a time; a bag's write is handed out as soon as its last camera
is in, before more cameras are started, so finished bags appear early.

Failures: an error of the input (a corrupt bag, a missing topic: ``AnnotateError``) fails its bag at
once, as a retry would fail alike; anything else (a worker killed, out of memory, a lost node) is
retried ``retries`` times on whichever worker is free, then reported. Either way nothing is left at
the bag's output, and the other bags go on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sam2auto_ros.annotate_bag import AnnotateError, BagPlan, plan_bag
from sam2auto_ros.fleet import cluster
from sam2auto_ros.fleet.manifest import Entry, Fingerprint, Manifest, is_done
from sam2auto_ros.fleet.plan import DEFAULT_OVERLAP_S, BagJob, CameraSplit, PlanError, Task, bag_tasks, check_split, find_bags
from sam2auto_ros.fleet.seams import SeamError
from sam2auto_ros.io.outputs import OutputError, RunLock

DEFAULT_RETRIES = 2
_POLL_S = 0.2
_FINAL = (AnnotateError, OutputError, SeamError)  # errors a retry would repeat

Events = Callable[..., None]
"""``events(kind, **details)``: what the driver does, for tests and logs ("workers", "assigned",
"progress", "finished")."""


@dataclass
class Outcome:
    """One input at the end of the run."""

    name: str
    input: Path
    status: str  # done, failed, skipped (done by an earlier run), pending (interrupted)
    output: Path | None = None
    error: str | None = None
    frames: int = 0
    tracks: int = 0
    attempts: int = 0
    seconds: float = 0.0


@dataclass
class FleetReport:
    outcomes: list[Outcome]
    workers: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    seams: int = 0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


@dataclass
class _Bag:
    job: BagJob
    entry: Entry
    plan: BagPlan | None = None
    splits: list[CameraSplit] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # Task.key -> ObjectRef of the Tracked
    finished: set[str] = field(default_factory=set)  # Task.key of the tasks tracked
    started: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def tasks(self) -> list[Task]:
        return [t for s in self.splits for t in s.tasks]


def annotate_bags(
    inputs: Sequence[str | Path], out_dir: str | Path, pipeline_options: dict[str, Any], *,
    topic: str | Sequence[str] | None = None, all_cameras: bool = False, truth_topic: str | None = None,
    storage: str = "mcap", output_ns: str | None = None, overlay: bool = True, overlay_format: str = "auto",
    offline: bool = True, address: str | None = None, workers: int = 2, gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0, retries: int = DEFAULT_RETRIES, split_long: float | None = None,
    overlap: float = DEFAULT_OVERLAP_S, resume: bool = False, progress: bool = True, events: Events | None = None,
) -> FleetReport:
    """Annotate every bag of ``inputs`` into ``out_dir`` (see the module docstring); ``pipeline_options``
    are ``Pipeline.create``'s, the camera and output options ``annotate_bag``'s."""
    if workers < 1 or retries < 0 or gpus_per_worker < 0 or cpus_per_worker <= 0:
        raise PlanError(f"--workers {workers} must be >= 1, --retries {retries} >= 0, --gpus-per-worker >= 0")
    check_split(split_long, overlap)
    out_dir = Path(out_dir).absolute()
    jobs = find_bags([Path(p) for p in inputs], out_dir)
    plan_options = {"topic": topic, "all_cameras": all_cameras, "truth_topic": truth_topic, "overlay_format": overlay_format,
                    **({"output_ns": output_ns} if output_ns else {})}
    emit = events or (lambda kind, **details: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(out_dir, what=f"output folder {out_dir}"):
        manifest = Manifest.load(out_dir)
        if manifest is not None and not resume:
            raise PlanError(f"{out_dir} holds the manifest of an earlier run; add --resume to finish it, or choose another --out")
        manifest = manifest or Manifest(out_dir / "manifest.json")
        bags, skipped = _admit(jobs, manifest, out_dir)
        manifest.save()
        t0 = time.perf_counter()
        started = cluster.connect(address, num_cpus=max(workers, 1) if address is None else None,
                                  num_gpus=_local_gpus() if address is None and gpus_per_worker else None)
        seconds = {"ray_start": time.perf_counter() - t0}
        actors: list[Any] = []
        try:
            actors = cluster.start_workers(workers, pipeline_options, cpus_per_worker, gpus_per_worker) if bags else []
            driver = _Driver(actors, cluster.start_progress() if bags else None, out_dir, manifest, retries, offline, storage,
                             overlay, emit)
            infos = driver.start(bags, plan_options, split_long, overlap, progress)
            seconds.update(driver.seconds)
        except BaseException:
            if actors:
                cluster.kill(actors)
            raise
        finally:
            if started:
                cluster.shutdown()
        seconds["total"] = time.perf_counter() - t0
    outcomes = [_outcome(b.job, b.entry, out_dir) for b in bags] + skipped
    outcomes.sort(key=lambda o: o.name)
    return FleetReport(outcomes, infos, seconds, driver.seams)


def _local_gpus() -> int:
    """The GPUs a local Ray may hand to workers: those torch sees."""
    import torch

    return torch.cuda.device_count()


def _admit(jobs: list[BagJob], manifest: Manifest, out_dir: Path) -> tuple[list[_Bag], list[Outcome]]:
    """The bags to run (new, changed, failed or unfinished), and those an earlier run finished."""
    bags, skipped = [], []
    for job in jobs:
        key = str(job.input)
        fingerprint = Fingerprint.of(job.input)
        entry = manifest.entries.get(key)
        if is_done(entry, fingerprint, out_dir):
            assert entry is not None
            skipped.append(_outcome(job, entry, out_dir, "skipped"))
            continue
        entry = Entry(key, job.name, fingerprint.size, fingerprint.mtime,
                      attempts=entry.attempts if entry is not None and entry.fingerprint == fingerprint else 0)
        if (out_dir / job.name).exists():
            entry.status, entry.error = "failed", (
                f"output {out_dir / job.name} already exists and no finished run of this input in the manifest made it; "
                "remove it to annotate the bag again")
        manifest.entries[key] = entry
        bags.append(_Bag(job, entry))
    return bags, skipped


def _outcome(job: BagJob, entry: Entry, out_dir: Path, status: str | None = None) -> Outcome:
    output = out_dir / entry.output if entry.status == "done" else None
    return Outcome(job.name, job.input, status or entry.status, output, entry.error, entry.frames, entry.tracks, entry.attempts,
                   entry.timings.get("wall", 0.0))


class _Driver:
    """Hands tasks to idle workers, collects results, retries, keeps the manifest and the bar."""

    def __init__(self, actors: list[Any], progress: Any, out_dir: Path, manifest: Manifest, retries: int, offline: bool,
                 storage: str, overlay: bool, emit: Events) -> None:
        self.actors, self.progress, self.out_dir, self.manifest = actors, progress, out_dir, manifest
        self.retries, self.offline, self.storage, self.overlay, self.emit = retries, offline, storage, overlay, emit
        self.seconds: dict[str, float] = {}
        self.seams = 0
        self.attempts: dict[str, int] = {}
        self.bar: tqdm | None = None

    def start(self, bags: list[_Bag], plan_options: dict[str, Any], split_long: float | None, overlap: float,
              progress: bool) -> list[dict[str, Any]]:
        import ray

        if not bags:
            return []
        t0 = time.perf_counter()
        info_refs = [actor.info.remote() for actor in self.actors]
        try:  # the first worker up tells whether the detector needs ground truth
            first = ray.get(ray.wait(info_refs, num_returns=1)[0][0])
        except ray.exceptions.RayError as exc:
            raise cluster.ClusterError(f"the workers cannot load the models: {_one_line(exc)}") from exc
        self.seconds["first_worker_ready"] = time.perf_counter() - t0
        for bag in bags:
            if bag.entry.status == "failed":
                continue
            try:
                bag.plan = plan_bag(bag.job.input, needs_truth=first["needs_truth"], **plan_options)
                bag.splits = bag_tasks(bag.job, bag.plan, split_long, overlap)
            except AnnotateError as exc:
                self._fail(bag, str(exc))
        self.manifest.save()
        queue = deque(t for b in bags for t in b.tasks if b.entry.status == "pending")
        total = sum(t.frames for t in queue)
        self.bar = tqdm(total=total, desc=f"{len(bags)} bags", unit="frame", disable=not progress, dynamic_ncols=True)
        try:
            infos = ray.get(info_refs)
            self.seconds["workers_ready"] = time.perf_counter() - t0
            self.emit("workers", infos=infos)
            self._loop(bags, queue)
        finally:
            self.bar.close()
            for bag in bags:
                if bag.entry.status == "running":
                    bag.entry.status, bag.entry.error = "pending", "interrupted"
            self.manifest.save()
        return infos

    def _loop(self, bags: list[_Bag], queue: deque[Task]) -> None:
        import ray

        by_name = {b.job.name: b for b in bags}
        writes: deque[_Bag] = deque()
        idle = list(range(len(self.actors)))
        running: dict[Any, tuple[int, str, Any]] = {}  # ref -> (actor, kind, task or bag)
        while queue or writes or running:
            while idle and (writes or queue):
                actor = idle.pop(0)
                if writes:
                    bag = writes.popleft()
                    tracked = [bag.results[t.key] for t in bag.tasks]  # top-level arguments: Ray hands the worker their values
                    ref = self.actors[actor].write.remote(bag.job, bag.plan, [s.cuts for s in bag.splits], self.out_dir,
                                                          self.storage, self.overlay, *tracked)
                    running[ref] = (actor, "write", bag)
                    continue
                task = queue.popleft()
                bag = by_name[task.bag]
                if bag.entry.status == "failed":
                    idle.insert(0, actor)
                    continue
                self._running(bag)
                summary, tracked = self.actors[actor].track.options(num_returns=2).remote(
                    task, self.out_dir, self.offline, cluster.reporter(self.progress, task.key))
                bag.results[task.key] = tracked
                running[summary] = (actor, "track", task)
                self.emit("assigned", task=task.key, actor=actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_S)
            self._update_bar()
            for ref in ready:
                actor, kind, item = running.pop(ref)
                idle.append(actor)
                bag = by_name[item.bag] if kind == "track" else item
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    self._failed_attempt(bag, kind, item, exc, queue, writes)
                    continue
                if bag.entry.status == "failed":
                    continue
                if kind == "track":
                    for name, spent in value.items():
                        bag.seconds[name] = bag.seconds.get(name, 0.0) + spent
                    bag.finished.add(item.key)
                    if bag.finished.issuperset(t.key for t in bag.tasks):
                        writes.append(bag)
                else:
                    self._done(bag, value)

    def _running(self, bag: _Bag) -> None:
        if bag.entry.status != "running":
            bag.entry.status, bag.entry.error, bag.started = "running", None, time.perf_counter()
            bag.entry.attempts += 1
            self.manifest.save()

    def _failed_attempt(self, bag: _Bag, kind: str, item: Any, exc: BaseException, queue: deque[Task], writes: deque[_Bag]) -> None:
        """A task that raised or whose worker died: fail the bag (an input error, or out of retries) or hand it out again."""
        if bag.entry.status == "failed":
            return
        key = item.key if kind == "track" else f"{bag.job.name}#write"
        cause = getattr(exc, "cause", None)
        tries = self.attempts.get(key, 0) + 1
        self.attempts[key] = tries
        if isinstance(cause, _FINAL) or tries > self.retries:
            self._fail(bag, _one_line(cause if isinstance(cause, BaseException) else exc))
            self.manifest.save()
            return
        self.emit("retry", task=key, error=_one_line(exc))
        bag.entry.attempts += 1
        if kind == "track":
            self.progress.forget.remote(key)
            queue.appendleft(item)
        else:
            writes.appendleft(bag)

    def _fail(self, bag: _Bag, error: str) -> None:
        bag.entry.status, bag.entry.error = "failed", error
        bag.results.clear()
        self.emit("finished", bag=bag.job.name, status="failed", error=error)

    def _done(self, bag: _Bag, written: Any) -> None:
        entry = bag.entry
        entry.status, entry.error, entry.hash = "done", None, written.hash
        entry.frames, entry.tracks, entry.cameras = written.frames, written.tracks, written.cameras
        entry.timings = {**{k: round(v, 3) for k, v in bag.seconds.items()},
                         **{f"write_{k}": round(v, 3) for k, v in written.seconds.items()},
                         "wall": round(time.perf_counter() - bag.started, 3)}
        self.seams += len(written.seams)
        bag.results.clear()  # the tracked cameras may leave the object store
        self.manifest.save()
        self.emit("finished", bag=bag.job.name, status="done", output=str(written.output))

    def _update_bar(self) -> None:
        import ray

        if self.bar is not None and self.progress is not None:
            done = ray.get(self.progress.total.remote())
            if done > self.bar.n:
                self.bar.update(min(done, self.bar.total) - self.bar.n)
                self.emit("progress", frames=done)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, _FINAL):
        return text[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()

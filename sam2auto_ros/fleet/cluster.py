"""Ray, and only Ray: start or join a cluster, the worker actors, the progress counter.

When no address is given, a local Ray is started bound to loopback (Ray otherwise advertises and
binds the machine's first external address), without dashboard and without usage reporting, so a
run on a laptop or a test sends nothing off the machine. ``--address auto`` joins the cluster this
machine is part of, ``ray://HOST:PORT`` one through Ray Client; the inputs and ``--out`` must then be
at the same paths on every node (a shared file system).
"""

from __future__ import annotations

import os
from typing import Any

from sam2auto_ros.fleet.worker import Worker

LOOPBACK = "127.0.0.1"
_OFFLINE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage reporting
    # Ray replaces 127.0.0.1 by the first external address unless it thinks clusters are off; with
    # this it advertises and binds loopback only (GCS, raylet, workers, runtime-env agent)
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


class ClusterError(RuntimeError):
    """Ray cannot be started or joined as asked; the message says what to do."""


def connect(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Join ``address`` or start a local, loopback-only Ray; returns whether this call started one
    (then the caller shuts it down). A Ray already initialised in this process is used as it is."""
    local = address is None
    if local:
        for key, value in _OFFLINE_ENV.items():
            os.environ.setdefault(key, value)
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return False
    common: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, "log_to_driver": False,
                              "logging_level": "WARNING"}
    try:
        if local:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, **common)
        else:
            ray.init(address=address, **({} if str(address).startswith("ray://") else common))
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot {'start a local Ray' if local else f'join the Ray cluster at {address}'}: {exc}") from exc
    if local and ray.util.get_node_ip_address() != LOOPBACK:
        ray.shutdown()
        raise ClusterError("the local Ray would not bind to loopback only (ray was imported before the command set it up); "
                           "run annotate-bags in a fresh process or give --address")
    return True


def shutdown() -> None:
    import ray

    ray.shutdown()


def start_workers(count: int, pipeline_options: dict[str, Any], cpus: float = 1.0, gpus: float = 0.0) -> list[Any]:
    """``count`` actors, each loading the models once. A killed worker process is restarted by Ray
    (loading the models again); the task it was running fails, and the scheduler hands it out again."""
    import ray

    actor = ray.remote(Worker).options(num_cpus=cpus, num_gpus=gpus, max_restarts=-1, max_task_retries=0)
    return [actor.remote(pipeline_options, max(1, int(cpus))) for _ in range(count)]


class Progress:
    """Frames done per task, counted where the workers report them (a tiny actor)."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}

    def add(self, key: str, frames: int) -> None:
        self.done[key] = self.done.get(key, 0) + frames

    def forget(self, key: str) -> None:
        """A task handed out again: its frames count anew."""
        self.done.pop(key, None)

    def total(self) -> int:
        return sum(self.done.values())


def start_progress() -> Any:
    import ray

    return ray.remote(Progress).options(num_cpus=0).remote()


def reporter(progress: Any, key: str) -> Any:
    """``report(n)`` for a worker: sends the count to the progress actor without waiting."""
    return lambda frames: progress.add.remote(key, frames)


def kill(actors: list[Any]) -> None:
    import ray

    for actor in actors:
        ray.kill(actor, no_restart=True)

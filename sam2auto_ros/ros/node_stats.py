"""What a pipeline node reports on its status topic: rates, per-stage latency, drops, rejects.

Latencies keep a bounded window (the last ``window`` frames), so memory stays flat over hours.
Plain Python: no rclpy here, the node turns ``snapshot()`` into a DiagnosticStatus.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

STAGES = ("transport", "queue", "decode", "model", "publish", "total")
"""Per-frame stages, in milliseconds: ``transport`` (frame stamp -> callback), ``queue`` (waiting
in the mailbox), ``decode`` (message -> pixels), ``model`` (the core object's call), ``publish``
(result -> messages -> sent), ``total`` (frame stamp -> results sent)."""


@dataclass
class NodeStats:
    """Thread-safe counters and rolling latency windows of one pipeline node."""

    window: int = 300
    frames_processed: int = 0
    rejected: Counter = field(default_factory=Counter)
    _lat: dict[str, deque] = field(default_factory=dict)
    _done: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._lat = {s: deque(maxlen=self.window) for s in STAGES}
        self._done = deque(maxlen=self.window)

    def frame_done(self, stages_ms: dict[str, float]) -> None:
        with self._lock:
            self.frames_processed += 1
            self._done.append(time.monotonic())
            for name, value in stages_ms.items():
                self._lat[name].append(float(value))

    def reject(self, reason: str) -> int:
        """Count one rejected input under ``reason``; returns how many so far (for log throttling)."""
        with self._lock:
            self.rejected[reason] += 1
            return self.rejected[reason]

    def rate_hz(self) -> float:
        with self._lock:
            if len(self._done) < 2:
                return 0.0
            span = self._done[-1] - self._done[0]
            recent = time.monotonic() - self._done[-1]
            return (len(self._done) - 1) / span if span > 0 and recent < 5.0 else 0.0

    def median_ms(self, stage: str) -> float:
        with self._lock:
            values = self._lat[stage]
            return float(np.median(values)) if values else float("nan")

    def p95_ms(self, stage: str) -> float:
        with self._lock:
            values = self._lat[stage]
            return float(np.percentile(values, 95)) if values else float("nan")

    def reset_windows(self) -> None:
        with self._lock:
            for values in self._lat.values():
                values.clear()
            self._done.clear()

"""Latest-frame policy: a one-slot mailbox between a subscription callback and a worker thread.

When the worker is slower than the camera, a new frame replaces the unread one instead of
queueing behind it, so latency stays one frame deep and memory stays flat. Every replaced item
is counted, so the status topic can report drops. Plain Python: no rclpy here.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Holds at most one item; ``put`` overwrites, ``get`` waits for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; returns True when it replaced an unread item (a dropped frame)."""
        with self._cond:
            replaced = self._full
            self._item, self._full = item, True
            self.received += 1
            self.dropped += int(replaced)
            self._cond.notify()
            return replaced

    def get(self, timeout: float | None = None) -> T | None:
        """The newest unread item, or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    @property
    def depth(self) -> int:
        """0 or 1: whether an item waits to be taken."""
        return int(self._full)

    def close(self) -> None:
        """Wake every waiter; later ``get`` calls return the pending item once, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._item, self._full = None, False

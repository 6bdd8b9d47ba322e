"""Latest-frame policy: one slot per camera between the subscription callbacks and one worker.

When the worker is slower than the cameras, a new frame replaces its camera's unread one instead
of queueing behind it, so latency stays one frame deep and memory stays flat. The worker takes
the camera that has waited longest, so a fast camera cannot starve a slow one. Every replaced
item is counted, per camera, so the status topic can report drops. Plain Python: no rclpy here.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Holds at most one item per key; ``put`` overwrites, ``get`` takes the longest-waiting key."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: OrderedDict[str, T] = OrderedDict()  # unread items, in the order their slot filled
        self._closed = False
        self.received_by: Counter[str] = Counter()
        self.dropped_by: Counter[str] = Counter()

    def put(self, key: str, item: T) -> bool:
        """Store ``item`` for ``key``; returns True when it replaced an unread item (a dropped frame).

        A replaced item keeps its key's place in the queue: the key has waited since then.
        """
        with self._cond:
            replaced = key in self._items
            self._items[key] = item
            self.received_by[key] += 1
            self.dropped_by[key] += int(replaced)
            self._cond.notify()
            return replaced

    def get(self, timeout: float | None = None) -> tuple[str, T] | None:
        """``(key, newest unread item)`` of the longest-waiting key, or None after ``timeout`` seconds
        or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items) or self._closed, timeout):
                return None
            if not self._items:
                return None
            return self._items.popitem(last=False)

    @property
    def received(self) -> int:
        return sum(self.received_by.values())

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by.values())

    @property
    def depth(self) -> int:
        """How many keys have an item waiting to be taken."""
        return len(self._items)

    def close(self) -> None:
        """Wake every waiter; later ``get`` calls return pending items, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._items.clear()

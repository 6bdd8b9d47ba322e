"""A bounded per-name cache of text embeddings, so a vocabulary change embeds only new names.

An open-vocabulary detector embeds each class name with its text tower. The names change rarely
(a ``classes`` parameter update), the image changes every frame, so the embeddings are kept per
name, least recently used out first once ``capacity`` names are held. The counters show on
``/diagnostics`` (``smart_od_node``), where a steady miss rate means the vocabulary keeps
changing or the cache is too small for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TextCacheStats:
    """What the cache holds and has done since it was made."""

    size: int
    capacity: int
    hits: int  # names served from the cache
    misses: int  # names that had to be embedded
    evictions: int
    encoder_calls: int  # calls of the text tower (each embeds every missing name of one request)

    def as_dict(self) -> dict[str, int]:
        return {f"text_cache.{k}": v for k, v in self.__dict__.items()}


class TextEmbeddingCache:
    """Name -> embedding, at most ``capacity`` names (least recently used evicted)."""

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"the text-embedding cache needs a capacity >= 1, got {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._hits = self._misses = self._evictions = self._calls = 0

    def embeddings(self, names: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """``(len(names), D)`` embeddings; ``encode`` is called once, with only the names not held."""
        missing = list(dict.fromkeys(n for n in names if n not in self._entries))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            encoded = np.asarray(encode(missing))
            if encoded.shape[0] != len(missing):
                raise ValueError(f"the text encoder returned {encoded.shape[0]} embeddings for {len(missing)} names")
            fresh = dict(zip(missing, encoded))
            self._calls += 1
        self._misses += len(missing)
        self._hits += len(names) - len(missing)
        rows = []
        for name in names:
            if name in fresh:
                rows.append(fresh[name])
            else:
                self._entries.move_to_end(name)
                rows.append(self._entries[name])
        for name, vector in fresh.items():
            self._entries[name] = vector
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
            self._evictions += 1
        return np.stack(rows)

    def clear(self) -> None:
        self._entries.clear()

    def stats(self) -> TextCacheStats:
        return TextCacheStats(len(self._entries), self.capacity, self._hits, self._misses, self._evictions, self._calls)

"""The per-name text-embedding cache: only missing names reach the encoder, least recently used
names leave first, and the counters say so."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.smart_od.detectors.text_cache import TextEmbeddingCache


class Encoder:
    """A deterministic stand-in text tower: one row per name, recording what it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, names: list[str]) -> np.ndarray:
        self.calls.append(list(names))
        return np.array([[len(n), sum(map(ord, n))] for n in names], dtype=np.float32)


def test_only_missing_names_are_encoded_and_rows_follow_the_request() -> None:
    cache, encode = TextEmbeddingCache(8), Encoder()
    first = cache.embeddings(["cat", "dog"], encode)
    again = cache.embeddings(["dog", "bird", "cat", "bird"], encode)
    assert encode.calls == [["cat", "dog"], ["bird"]]  # 'bird' once, though asked for twice
    assert np.array_equal(again, encode(["dog", "bird", "cat", "bird"]))
    assert np.array_equal(first, encode(["cat", "dog"]))
    stats = cache.stats()
    assert (stats.size, stats.hits, stats.misses, stats.encoder_calls, stats.evictions) == (3, 3, 3, 2, 0)
    assert stats.as_dict()["text_cache.hits"] == 3


def test_least_recently_used_names_are_evicted_first() -> None:
    cache, encode = TextEmbeddingCache(2), Encoder()
    cache.embeddings(["a", "b"], encode)
    cache.embeddings(["a"], encode)  # 'a' used last: 'b' is the oldest
    cache.embeddings(["c"], encode)
    cache.embeddings(["a"], encode)
    cache.embeddings(["b"], encode)
    assert encode.calls == [["a", "b"], ["c"], ["b"]]
    assert cache.stats().evictions == 2 and cache.stats().size == 2


def test_a_vocabulary_larger_than_the_cache_still_comes_back_whole() -> None:
    cache, encode = TextEmbeddingCache(2), Encoder()
    rows = cache.embeddings(["a", "bb", "ccc"], encode)
    assert rows[:, 0].tolist() == [1, 2, 3] and cache.stats().size == 2


def test_bad_capacity_and_bad_encoder_are_errors() -> None:
    with pytest.raises(ValueError, match="capacity"):
        TextEmbeddingCache(0)
    with pytest.raises(ValueError, match="returned 1 embeddings for 2 names"):
        TextEmbeddingCache(4).embeddings(["a", "b"], lambda names: np.zeros((1, 2)))

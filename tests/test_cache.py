"""The resident cache of an instance process: least recently used out first, within a budget."""

import numpy as np

from indb.runtime import cache
from indb.runtime.cache import ResidentCache, cache_budget, frame_bytes


def test_least_recently_used_frames_go_first_when_the_budget_is_passed():
    lru = ResidentCache(budget=300)
    lru.put("a", "A", rows=1, size=100)
    lru.put("b", "B", rows=2, size=100)
    lru.put("c", "C", rows=3, size=100)
    assert lru.get("a") == ("A", 1)  # a is now the most recent
    lru.put("d", "D", rows=4, size=100)
    assert lru.get("b") is None and lru.get("c") == ("C", 3) and lru.used == 300


def test_a_frame_bigger_than_the_budget_is_not_kept():
    lru = ResidentCache(budget=10)
    lru.put("big", "X", rows=1, size=11)
    assert lru.get("big") is None and lru.used == 0


def test_frame_bytes_counts_arrays_and_tensors():
    class Tensor:  # the two methods a torch tensor has
        def element_size(self):
            return 4

        def numel(self):
            return 10

    assert frame_bytes({"x": np.zeros(8, dtype=np.float64), "t": Tensor(), "s": "text"}) == 64 + 40


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("INDB_CPU_CACHE_BYTES", "1234")
    assert cache_budget("cpu") == 1234
    monkeypatch.delenv("INDB_CPU_CACHE_BYTES")
    assert cache_budget("cpu") == cache.CPU_BUDGET


def test_one_cache_a_process_and_device(monkeypatch):
    monkeypatch.setattr(cache, "_process_cache", {})
    assert cache.process_cache("cpu") is cache.process_cache("cpu")

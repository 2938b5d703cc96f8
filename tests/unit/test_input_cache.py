"""The input cache: a stale stamp is never served, the byte budget holds, and repeated scans keep a prefix."""

from __future__ import annotations

import numpy as np

from labelsieve.input_cache import InputCache


def item(n: int = 100) -> np.ndarray:
    return np.zeros(n, dtype=np.uint8)


def test_a_changed_stamp_is_a_miss_and_drops_the_old_value() -> None:
    cache = InputCache(max_bytes=1000)
    cache.begin_scan()
    assert cache.put("t1", "2026-01-01", item())
    assert cache.get("t1", "2026-01-01")[0]
    assert cache.get("t1", "2026-01-02") == (False, None)
    assert len(cache) == 0 and cache.nbytes == 0


def test_scans_larger_than_the_budget_keep_a_stable_prefix_instead_of_thrashing() -> None:
    cache = InputCache(max_bytes=300)  # room for 3 of 5 items
    hits_per_scan = []
    for _ in range(3):
        cache.begin_scan()
        hits = 0
        for key in range(5):
            hit, _ = cache.get(key, "s")
            if hit:
                hits += 1
            else:
                cache.put(key, "s", item())
        hits_per_scan.append(hits)
        assert cache.nbytes <= 300
    assert hits_per_scan == [0, 3, 3]  # plain LRU would give [0, 0, 0]


def test_entries_not_used_in_this_scan_make_room() -> None:
    cache = InputCache(max_bytes=200)
    cache.begin_scan()
    cache.put("labelled", "s", item())
    cache.put("old", "s", item())
    cache.begin_scan()
    assert cache.get("old", "s")[0]
    assert cache.put("new", "s", item())  # evicts "labelled", the one this scan did not touch
    assert not cache.get("labelled", "s")[0] and cache.get("new", "s")[0]
    assert not cache.put("huge", "s", item(1000))

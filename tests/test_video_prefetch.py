"""The decode-ahead thread: order, bounded look-ahead, greedy batches, errors at their position, early close."""

from __future__ import annotations

import threading
import time

import pytest

from hyp_face.video.prefetch import prefetch_batches


def _flat(batches):
    return [x for b in batches for x in b]


def test_items_come_in_order_and_look_ahead_is_bounded():
    produced = []

    def items():
        for i in range(50):
            produced.append(i)
            yield i

    it = prefetch_batches(items(), batch_size=1, max_bytes=4)
    assert next(it) == [0]
    time.sleep(0.2)
    assert len(produced) <= 1 + 4 + 1  # consumed + queued + one waiting to be put
    assert _flat(it) == list(range(1, 50))


def test_batches_are_greedy_not_waiting_for_a_full_batch():
    def slow():
        for i in range(3):
            time.sleep(0.1)
            yield i

    batches = list(prefetch_batches(slow(), batch_size=16, max_bytes=8))
    assert _flat(batches) == [0, 1, 2] and len(batches) == 3  # nothing waits for 16 items
    fast = list(prefetch_batches(iter(range(40)), batch_size=16, max_bytes=64))
    assert _flat(fast) == list(range(40)) and max(map(len, fast)) <= 16


def test_producer_error_is_raised_after_the_good_items():
    def items():
        yield 1
        yield 2
        raise ValueError("truncated video")

    got = []
    with pytest.raises(ValueError, match="truncated video"):
        for batch in prefetch_batches(items(), batch_size=4, max_bytes=8):
            got.extend(batch)
    assert got == [1, 2]


def test_closing_early_stops_the_producer():
    def items():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    it = prefetch_batches(items(), batch_size=1, max_bytes=2)
    assert [next(it) for _ in range(3)] == [[0], [1], [2]]
    it.close()
    time.sleep(0.3)
    assert threading.active_count() == before


def test_zero_bytes_is_inline_with_full_batches():
    assert list(prefetch_batches(iter(range(5)), batch_size=2, max_bytes=0)) == [[0, 1], [2, 3], [4]]


def test_look_ahead_and_batches_are_bounded_in_bytes():
    sizes = [100 if i % 3 == 0 else 10 for i in range(12)]  # large and small items
    produced = []

    def items():
        for size in sizes:
            produced.append(size)
            yield bytes(size)

    it = prefetch_batches(items(), batch_size=16, max_bytes=120, size_of=len)
    first = next(it)
    time.sleep(0.2)
    waiting = produced[len(first):-1]  # queued; the last one produced may wait to be put
    assert sum(waiting) <= 120 and sum(map(len, first)) <= 120
    batches = [first] + list(it)
    assert all(sum(map(len, b)) <= 120 for b in batches)
    assert [len(x) for b in batches for x in b] == sizes


def test_an_item_larger_than_the_budget_still_passes_alone():
    batches = list(prefetch_batches(iter([bytes(500), bytes(1), bytes(500)]), batch_size=4, max_bytes=100,
                                    size_of=len))
    assert [[len(x) for x in b] for b in batches] == [[500], [1], [500]]


def test_free_pages_are_handed_back_at_most_once_per_interval(monkeypatch):
    import hyp_face.video.prefetch as prefetch

    calls: list[float] = []
    monkeypatch.setattr(prefetch, "trim_free_memory", lambda: calls.append(time.monotonic()))
    monkeypatch.setattr(prefetch, "TRIM_INTERVAL", 0.05)
    batches = 0
    for _ in prefetch_batches(range(40), batch_size=1):
        batches += 1
        time.sleep(0.005)  # 40 batches over about 0.2 s
    assert batches == 40
    assert 1 <= len(calls) <= 6  # not after each of the 40 batches
    assert all(b - a >= 0.05 for a, b in zip(calls, calls[1:]))


def test_pin_threads_asks_torch_for_huge_pages_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = "import os; from hyp_face.cli import pin_threads; pin_threads(1); print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "1"
    env["THP_MEM_ALLOC_ENABLE"] = "0"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "0"

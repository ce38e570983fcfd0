"""Decode ahead in a background thread, so decoding overlaps detection and embedding.

PyAV and torch both release the GIL in their heavy loops, so on two cores a decoder thread and one compute thread
run in parallel. The look-ahead is bounded in bytes, not in items: an 8K frame weighs as much as 50 720p frames,
so a frame count would let memory grow with the resolution. At most ``max_bytes`` wait in the queue and at most
``max_bytes`` make one batch, whatever the video's length and resolution (one item always passes, however large).

Frames are large, short-lived buffers allocated by the decoder thread and freed by the consumer. glibc raises its
mmap threshold after each such free (up to 32 MB), so frames below that size come from the thread arenas, which
fragment and grow with the video's length (a 1080p job rose from 600 to 890 MB over 36 s). A fixed threshold
(set once when a decoding thread first starts) serves every buffer of at least ``hyp_face.memory.LARGE_BUFFER`` bytes from mmap,
so it goes back to the system when freed, and the free pages of the arenas are handed back at most once every
``TRIM_INTERVAL`` seconds, after a batch (``malloc_trim``). Both are no-ops without glibc. Trimming after every
batch kept memory no lower but cost a quarter of the extraction's CPU time: every trim hands back the pages that
the detector's activations reuse, and each batch faulted them in again (about 450,000 page faults on 35 frames of
720p, against 90,000 with the interval).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

from ..memory import return_large_frees, trim_free_memory

T = TypeVar("T")
_DONE = object()
TRIM_INTERVAL = 1.0  # seconds; the least time between two hand-backs of free arena pages


class _Failure:
    """An exception raised by the producer, re-raised in the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def unit_size(_item) -> int:
    """Every item weighs 1: ``max_bytes`` is then a count of items."""
    return 1


class _ByteQueue:
    """A FIFO of items holding at most ``max_bytes`` (an item larger than that enters an empty queue)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: deque = deque()
        self.nbytes = 0
        self.cond = threading.Condition()

    def put(self, item, size: int, stop: threading.Event) -> bool:
        """Wait for room, then append; False when ``stop`` was set first."""
        with self.cond:
            while self.items and self.nbytes + size > self.max_bytes:
                if stop.is_set():
                    return False
                self.cond.wait(timeout=0.1)
            self.items.append((item, size))
            self.nbytes += size
            self.cond.notify_all()
            return True

    def get(self, block: bool = True):
        """(item, size), waiting for one if ``block``; None when empty and not blocking."""
        with self.cond:
            while not self.items:
                if not block:
                    return None
                self.cond.wait()
            item, size = self.items.popleft()
            self.nbytes -= size
            self.cond.notify_all()
            return item, size


def _inline_batches(items: Iterable[T], batch_size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def prefetch_batches(items: Iterable[T], batch_size: int, max_bytes: int = 16,
                     size_of: Callable[[T], int] = unit_size) -> Iterator[list[T]]:
    """Lists of up to ``batch_size`` items (and up to ``max_bytes`` by ``size_of``), produced ahead by a thread.

    The queue holds at most ``max_bytes`` of items (``size_of``, e.g. a frame's ``image.nbytes``; by default each
    item counts 1). Batching is greedy: a batch waits for its first item only, then takes what is already decoded
    while it stays within ``batch_size`` items and ``max_bytes``. The consumer therefore never idles while frames
    are ready, and batches fill up when the consumer is the slower side (e.g. a CPU detector) or stay small when
    decoding is (short videos: detection starts with the first frame). Exceptions of the producer are re-raised here
    after the items produced before them. Closing the generator early stops the producer. ``max_bytes=0`` decodes
    inline (batches of ``batch_size``).
    """
    if max_bytes <= 0:
        yield from _inline_batches(items, batch_size)
        return
    return_large_frees()
    buffer = _ByteQueue(max_bytes)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not buffer.put(item, size_of(item), stop):
                    return
        except BaseException as e:  # noqa: BLE001 - handed over to the consumer
            buffer.put(_Failure(e), 0, stop)
            return
        buffer.put(_DONE, 0, stop)

    thread = threading.Thread(target=produce, name="hyp_face-prefetch", daemon=True)
    thread.start()
    last_trim = time.monotonic()
    try:
        carry = buffer.get()  # the next batch's first (item, size)
        while True:
            item, size = carry
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            batch, nbytes = [item], size
            carry = None
            while len(batch) < batch_size:
                nxt = buffer.get(block=False)
                if nxt is None:
                    break
                if nxt[0] is _DONE or isinstance(nxt[0], _Failure) or nbytes + nxt[1] > max_bytes:
                    carry = nxt
                    break
                batch.append(nxt[0])
                nbytes += nxt[1]
            yield batch
            if time.monotonic() - last_trim >= TRIM_INTERVAL:
                trim_free_memory()  # frames of the batches before are freed by now
                last_trim = time.monotonic()
            if carry is None:
                carry = buffer.get()
    finally:
        stop.set()
        with buffer.cond:
            buffer.cond.notify_all()
        thread.join(timeout=5)

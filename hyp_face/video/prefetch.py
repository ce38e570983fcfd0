"""Decode ahead in a background thread, so decoding overlaps detection and embedding.

PyAV and torch both release the GIL in their heavy loops, so on two cores a decoder thread and one compute thread
run in parallel. The queue is bounded: at most ``depth`` frames wait, whatever the video length.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    """An exception raised by the producer, re-raised in the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def prefetch_batches(items: Iterable[T], batch_size: int, depth: int = 16) -> Iterator[list[T]]:
    """Lists of up to ``batch_size`` items, produced ``depth`` ahead by a daemon thread.

    Batching is greedy: a batch waits for its first item only, then takes what is already decoded. The consumer
    therefore never idles while frames are ready, and batches fill up when the consumer is the slower side (e.g.
    a CPU detector) or stay small when decoding is (short videos: detection starts with the first frame).
    Exceptions of the producer are re-raised here after the items produced before them. Closing the generator
    early stops the producer. ``depth=0`` decodes inline.
    """
    if depth <= 0:
        batch: list[T] = []
        for item in items:
            batch.append(item)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed over to the consumer
            put(_Failure(e))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="hyp_face-prefetch", daemon=True)
    thread.start()
    try:
        pending = None  # an end marker or failure seen while filling a batch
        while pending is None:
            batch = []
            item = buffer.get()
            while True:
                if item is _DONE or isinstance(item, _Failure):
                    pending = item
                    break
                batch.append(item)
                if len(batch) == batch_size:
                    break
                try:
                    item = buffer.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield batch
        if isinstance(pending, _Failure):
            raise pending.error
    finally:
        stop.set()
        thread.join(timeout=5)

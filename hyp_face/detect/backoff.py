"""The detection-threshold back-off of spec 5.6 / 5.7, computed from one network pass.

The original re-ran the detector on every frame for each threshold 0.9, 0.8, ..., 0.1 until the video yielded at
least ``min_faces`` faces. Here the frames are detected ONCE at the lowest threshold, and the result at threshold
``t`` is obtained by keeping the detections with ``score >= t``. This is exact: greedy NMS decides box ``j`` (in
descending score order) only from the boxes ranked above it, so NMS over the candidates with ``score >= t_min``
restricted to ``score >= t`` equals NMS over the candidates with ``score >= t`` (the pre-NMS top-k cut keeps a
prefix of the same order, so it does not break this either). The landmark-retry flag of v0.1 has no equivalent:
landmarks always come from RetinaFace (as in v0.2).

Semantics of :func:`backoff`: thresholds are tried in the given order (default 0.9 down to 0.1); the first one
whose ``count`` (default: total faces over all frames; mode B passes the number of frames with a matching
reference face) reaches ``min_faces`` wins. If none does, the last (lowest) threshold is returned with whatever
it found, possibly nothing, as in the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Sequence

import numpy as np

from .base import Detections, FaceDetector

DEFAULT_THRESHOLDS = tuple(round(0.9 - 0.1 * i, 1) for i in range(9))  # 0.9, 0.8, ..., 0.1


def count_faces(detections: Sequence[Detections]) -> int:
    """Total number of faces over all frames."""
    return sum(len(d) for d in detections)


@dataclass
class BackoffResult:
    """The chosen threshold and the per-frame detections at that threshold."""

    threshold: float
    detections: list[Detections]


def backoff(detections: Sequence[Detections], thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
            min_faces: int = 1, count: Callable[[Sequence[Detections]], int] = count_faces) -> BackoffResult:
    """Apply the back-off to detections made at (or below) the lowest threshold."""
    if not thresholds:
        raise ValueError("backoff needs at least one threshold")
    for threshold in thresholds:
        kept = [d.above(threshold) for d in detections]
        if count(kept) >= min_faces:
            break
    return BackoffResult(float(threshold), kept)


def detect_with_backoff(detector: FaceDetector, frames: Iterable[np.ndarray],
                        thresholds: Sequence[float] = DEFAULT_THRESHOLDS, min_faces: int = 1,
                        count: Callable[[Sequence[Detections]], int] = count_faces,
                        batch_size: int | None = None) -> BackoffResult:
    """Detect faces in all ``frames`` (RGB uint8 HWC, consumed in batches) with the threshold back-off.

    The network runs once per frame at ``min(thresholds)``; only the detections are kept in memory.
    """
    batch_size = batch_size or getattr(detector, "batch_size", 8)
    lowest = min(thresholds)
    detections: list[Detections] = []
    iterator = iter(frames)
    while batch := list(islice(iterator, batch_size)):
        detections.extend(detector.detect(batch, lowest))
    return backoff(detections, thresholds, min_faces, count)

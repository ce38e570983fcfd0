"""A face track: the faces of one person followed over consecutive sampled frames of a video."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class Track:
    """One face track, in the order of its sampled frames.

    ``face_index`` are the rows of the track's faces in the video's embeddings (and ``FaceMeta``) of the store;
    ``embedding`` is the pooled, L2-normalised embedding of the track and ``quality`` its pooled face quality.
    """

    track_id: int
    face_index: np.ndarray  # (T,) int64
    frame: np.ndarray  # (T,) int64, the faces' ``Frame.index``: ordinal of the sampled frame in the stream
    # (0, 1, 2, ... over the frames decoded at ``track_fps``, as ``FaceMeta.frame``); ``time`` locates it in the video
    time: np.ndarray  # (T,) float64, seconds
    box: np.ndarray  # (T, 4) float32, x1 y1 x2 y2 in the displayed (rotated) frame
    score: np.ndarray  # (T,) float32, detector scores
    embedding: np.ndarray  # (D,) float32, pooled and L2-normalised
    quality: float = float("nan")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def start(self) -> float:
        return float(self.time[0])

    @property
    def end(self) -> float:
        return float(self.time[-1])


def overlapping(tracks: Sequence[Track]) -> np.ndarray:
    """(n, n) whether each two tracks have faces at a common time (first to last face), a track not with itself:
    one person shows one face at a time, so such tracks are of different people."""
    start = np.array([t.start for t in tracks], np.float64)
    end = np.array([t.end for t in tracks], np.float64)
    both = (start[:, None] <= end[None]) & (start[None] <= end[:, None])
    np.fill_diagonal(both, False)
    return both

"""The detection-threshold back-off (docs/original_recipe.md §5.6, §5.7 and W19), decided from one network pass.

The original re-ran the detector on every frame for each threshold 0.9, 0.8, ..., 0.1 until the video yielded
enough faces. Here the frames are detected ONCE at the lowest threshold of the schedule, and a frame's faces at
threshold ``t`` are its detections with ``score >= t``. This is exact: greedy NMS decides box ``j`` (in descending
score order) only from the boxes ranked above it, so NMS over the candidates with ``score >= t_min`` restricted to
``score >= t`` equals NMS over the candidates with ``score >= t`` (the pre-NMS top-k cut keeps a prefix of the same
order, so it does not break this either). The landmark-retry flag of v0.1 has no equivalent: landmarks always come
from the detector or the MTCNN refiner.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def faces_at(frame_scores: Sequence[np.ndarray], threshold: float, one_per_frame: bool = False) -> int:
    """Faces at ``threshold``: every score ``>= threshold``, or with ``one_per_frame`` the frames having one."""
    if one_per_frame:
        return sum(int((s >= threshold).any()) for s in frame_scores)
    return sum(int((s >= threshold).sum()) for s in frame_scores)


def backoff_threshold(frame_scores: Sequence[np.ndarray], thresholds: Sequence[float], min_faces: int,
                      one_per_frame: bool = False) -> float | None:
    """The first threshold of the schedule (highest first) at which the video yields ``min_faces`` faces.

    ``frame_scores`` holds, per frame, the scores of the faces that could be selected (detected at the lowest
    threshold). ``one_per_frame`` counts frames with a face instead of faces (bbox-guided references keep one face
    per frame). ``None`` when even the last threshold yields fewer than ``min_faces`` faces.
    """
    return next((thr for thr in thresholds if faces_at(frame_scores, thr, one_per_frame) >= min_faces), None)

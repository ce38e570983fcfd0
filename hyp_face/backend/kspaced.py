"""K evenly spaced faces of a video, and the mean-of-pairs face score over them (the face score of Tao et al. 2022:
the mean of the cosine matrix between 5 evenly spaced frames of each side).

``evenly_spaced`` picks K of a video's N faces in time order, spread like ``numpy.linspace`` over the first to the
last (all of them when N <= K). ``mean_of_pairs`` scores two such sets. A set-aggregation back-end takes the
selection as a pre-step: ``read_kspaced`` reads a video's K evenly spaced faces from the store (by their stored
times), in place of all of them, before its own aggregation.
"""

from __future__ import annotations

import numpy as np

from hyp_face.backend.inputs import read_required
from hyp_face.io.embed_store import EmbedReader


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """Indices of ``k`` of ``n`` items, evenly spaced from the first to the last (all ``n`` when ``n <= k``)."""
    if k < 1:
        raise ValueError(f"K must be at least 1, got {k}")
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


def select_kspaced(embeds: np.ndarray, times: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` evenly spaced faces of a video, in time order (``times``: seconds of each face)."""
    order = np.argsort(np.asarray(times), kind="stable")
    return np.asarray(embeds)[order[evenly_spaced(len(order), k)]]


def read_kspaced(reader: EmbedReader, key: str, k: int) -> np.ndarray:
    """The ``k`` evenly spaced faces of video ``key`` (float64), in time order (``read_required`` checks)."""
    return select_kspaced(read_required(reader, key), reader.read_meta(key).time, k)


def mean_of_pairs(enroll: np.ndarray, test: np.ndarray) -> float:
    """Mean cosine over every (enrollment face, test face) pair; NaN when a side has no face."""
    if not len(enroll) or not len(test):
        return float("nan")
    a = enroll / np.linalg.norm(enroll, axis=1, keepdims=True)
    b = test / np.linalg.norm(test, axis=1, keepdims=True)
    return float((a @ b.T).mean())

"""K evenly spaced faces of a video, and the mean-of-pairs face score over them (the face score of Tao et al. 2022:
the mean of the cosine matrix between 5 evenly spaced frames of each side).

``evenly_spaced`` picks K of a video's N faces in time order, spread like ``numpy.linspace`` over the first to the
last (all of them when N <= K). ``mean_of_pairs`` scores two such sets. Any back-end takes the selection as a
pre-step: ``eval_be --kspaced K`` (``kspaced_sets``) cuts every enrollment and test video to its K evenly spaced
faces (by their stored times) before its own pooling; ``--kspaced 5 --aggregator pairs`` is the neighbour's face
score. ``read_kspaced`` reads one video's K faces from the store.
"""

from __future__ import annotations

import numpy as np

from hyp_face.backend.inputs import read_required
from hyp_face.io.embed_store import EmbedReader, FaceMeta


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """Indices of ``k`` of ``n`` items, evenly spaced from the first to the last (all ``n`` when ``n <= k``)."""
    if k < 1:
        raise ValueError(f"K must be at least 1, got {k}")
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


def kspaced_index(times: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` evenly spaced faces of a video, in time order (``times``: seconds of each face)."""
    order = np.argsort(np.asarray(times), kind="stable")
    return order[evenly_spaced(len(order), k)]


def select_kspaced(embeds: np.ndarray, times: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` evenly spaced faces of a video, in time order (``times``: seconds of each face)."""
    return np.asarray(embeds)[kspaced_index(times, k)]


def kspaced_sets(sets: list[np.ndarray], metas: list[FaceMeta], k: int
                 ) -> tuple[list[np.ndarray], list[FaceMeta | None]]:
    """Each set and its metadata cut to its ``k`` evenly spaced faces by the stored face times; a set whose
    metadata does not match it (a stand-in vector of a video without faces) is kept whole, with metadata None."""
    out_sets: list[np.ndarray] = []
    out_metas: list[FaceMeta | None] = []
    for x, m in zip(sets, metas):
        if len(m) != len(x):
            out_sets.append(x)
            out_metas.append(None)
            continue
        rows = kspaced_index(m.time, k)
        out_sets.append(x[rows])
        out_metas.append(m.select(rows))
    return out_sets, out_metas


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

"""The stacked item set of a re-ranking problem: queries 0..Q-1, then gallery items Q..Q+G-1.

The similarity of items ``a`` and ``b`` is the entry of ``S = [[sim_qq, sim_qg], [sim_qg.T, sim_gg]]``; ``sim_qq``
and ``sim_gg`` are expected symmetric (cosine, PLDA). ``S`` is never built: rows come in blocks and single
entries by gathering, so memory stays at a few blocks plus the (N, K) neighbour lists.

Neighbour lists rank each row by a distance derived from it (ascending); equal distances keep the lower item
index first (stable order), so results never depend on the sort algorithm.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hyp_face.metrics.identification import checked_block, row_blocks

RowDistance = Callable[[np.ndarray, slice], np.ndarray]  # (similarity rows, their item slice) -> distances


class Items:
    """Query/gallery similarities of one re-ranking problem, validated (shapes, emptiness, NaN)."""

    def __init__(self, sim_qg: np.ndarray, sim_qq: np.ndarray, sim_gg: np.ndarray):
        q, g = sim_qg.shape
        for name, m, shape in (("sim_qg", sim_qg, (q, g)), ("sim_qq", sim_qq, (q, q)), ("sim_gg", sim_gg, (g, g))):
            if m.shape != shape:
                raise ValueError(f"{name} has shape {m.shape}, expected {shape}")
            for rows in row_blocks(shape[0], shape[1]):
                checked_block(m, rows, name)
        if q == 0 or g == 0:
            raise ValueError(f"re-ranking needs queries and gallery items, got {q} and {g}")
        self.qg, self.qq, self.gg = sim_qg, sim_qq, sim_gg
        self.n_query, self.n = q, q + g

    def rows(self, rows: slice) -> np.ndarray:
        """Rows ``rows`` of S as float64."""
        q = self.n_query
        parts = []
        if rows.start < q:
            r = slice(rows.start, min(rows.stop, q))
            parts.append(np.hstack([self.qq[r], self.qg[r]]))
        if rows.stop > q:
            r = slice(max(rows.start, q) - q, rows.stop - q)
            parts.append(np.hstack([self.qg[:, r].T, self.gg[r]]))
        return (parts[0] if len(parts) == 1 else np.vstack(parts)).astype(np.float64, copy=False)

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``S[a, b]`` for equal-length index arrays."""
        q = self.n_query
        out = np.empty(len(a))
        aq, bq = a < q, b < q
        for ma, mb, m, ia, ib in ((True, True, self.qq, a, b), (True, False, self.qg, a, b - q),
                                  (False, True, self.qg, b, a - q), (False, False, self.gg, a - q, b - q)):
            sel = (aq == ma) & (bq == mb)
            out[sel] = m[ia[sel], ib[sel]]
        return out

    def neighbours(self, k: int, distance: RowDistance) -> np.ndarray:
        """(N, min(k, N)) item indices of each row's nearest items by ``distance``, nearest first."""
        k = min(k, self.n)
        out = np.empty((self.n, k), np.int64)
        for rows in row_blocks(self.n, self.n):
            out[rows] = stable_smallest(distance(self.rows(rows), rows), k)
        return out


def stable_smallest(d: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the ``k`` smallest values ordered by (value, index)."""
    n = d.shape[1]
    if k >= n:
        return np.argsort(d, axis=1, kind="stable")
    kth = np.partition(d, k - 1, axis=1)[:, k - 1:k]
    take = d <= kth
    crowded = np.flatnonzero(take.sum(axis=1) > k)  # ties at the k-th value: keep the lowest indices
    if crowded.size:
        sub, sub_kth = d[crowded], kth[crowded]
        equal = sub == sub_kth
        room = k - (sub < sub_kth).sum(axis=1, keepdims=True)
        take[crowded] = (sub < sub_kth) | (equal & (np.cumsum(equal, axis=1) <= room))
    idx = np.nonzero(take)[1].reshape(len(d), k)
    order = np.argsort(np.take_along_axis(d, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)

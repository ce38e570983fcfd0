"""Expanded Cross Neighbourhood re-ranking (Sarfraz, Schumann, Eberle, Stiefelhagen, "A Pose-Sensitive Embedding
for Person Re-Identification with Expanded Cross Neighborhood Re-Ranking", CVPR 2018), vectorised and sparse.

    ecn(sim_qg, sim_qq, sim_gg, t=3, q=8, k=25, method="rank") -> (Q, G) distance (lower = better)

Over all N = Q + G items (queries first), with S the stacked similarity (``hyp_face.rerank.items``):
1. original distance ``d(a, b) = 1 - S[a, b]`` (cosine distance); each item's rank list sorts all items by d,
   ties to the lower index; position 0 is normally the item itself;
2. expanded neighbourhood ``E(a)``: the items at positions 1..t of a's list, then for each of them the items at
   positions 1..q of its own list (a multiset of M = t + t q items);
3. pair distance ``r``: ``method="rank"``: the rank-list distance ``r(a, b) = -sum_z w_a(z) w_b(z)`` with
   ``w_a(z) = max(0, k - position of z in a's list)`` (only the top k count); ``method="dist"``: ``r = d``;
4. ``ECN(p, g) = (sum over n in E(p) of r(n, g) + sum over m in E(g) of r(m, p)) / (2 M)``;
5. where ECN is exactly 0 (no shared top-k neighbours at all), the original distance ``d(p, g)`` is used, as in
   the authors' code.
The result is queries x gallery (the authors' code returns its transpose).
Memory: neighbour lists (N, max(k, t + 1, q + 1)), sparse membership and weight matrices, the (Q, G) result.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from hyp_face.metrics.identification import row_blocks
from hyp_face.rerank.items import Items

METHODS = ("rank", "dist")


def _expansion(nearest: np.ndarray, t: int, q: int) -> sparse.csr_matrix:
    """(N, N) counts: row a holds how often each item occurs in the multiset E(a) of step 2."""
    n = len(nearest)
    first = nearest[:, 1:t + 1]                                   # (N, t)
    second = nearest[first][:, :, 1:q + 1].reshape(n, t * q)      # (N, t q)
    cols = np.hstack([first, second])
    rows = np.repeat(np.arange(n), cols.shape[1])
    return sparse.csr_matrix((np.ones(cols.size, np.int64), (rows, cols.ravel())), shape=(n, n))


def _rank_weights(nearest: np.ndarray, k: int) -> sparse.csr_matrix:
    """(N, N) sparse w_a(z) = k - position of z in a's list, for the top k positions."""
    n, top = len(nearest), min(k, nearest.shape[1])
    rows = np.repeat(np.arange(n), top)
    weights = np.tile(k - np.arange(top, dtype=np.int64), n)
    return sparse.csr_matrix((weights, (rows, nearest[:, :top].ravel())), shape=(n, n))


def _rank_sums(items: Items, expand: sparse.csr_matrix, weights: sparse.csr_matrix) -> np.ndarray:
    """(Q, G) integer sums of step 4 for the rank-list distance (without the 1/(2M) factor)."""
    nq = items.n_query
    w_query, w_gallery = weights[:nq], weights[nq:]
    spread_q = (expand[:nq] @ weights).tocsr()   # row p: sum of w_n over n in E(p)
    spread_g = (expand[nq:] @ weights).tocsr()
    out = np.empty((nq, items.n - nq))
    for rows in row_blocks(nq, items.n - nq):
        to_gallery = (spread_q[rows] @ w_gallery.T).toarray()
        to_query = (w_query[rows] @ spread_g.T).toarray()
        out[rows] = -(to_gallery + to_query)
    return out


def _dist_sums(items: Items, expand: sparse.csr_matrix, m: int) -> np.ndarray:
    """(Q, G) sums of step 4 for the plain distance d = 1 - S (without the 1/(2M) factor)."""
    nq = items.n_query
    e_q, e_g = expand[:nq].astype(np.float64), expand[nq:].astype(np.float64)
    qg = np.asarray(items.qg, dtype=np.float64)
    sim_to_gallery = e_q[:, :nq] @ qg + e_q[:, nq:] @ np.asarray(items.gg, dtype=np.float64)
    sim_to_query = e_g[:, :nq] @ np.asarray(items.qq, dtype=np.float64) + e_g[:, nq:] @ qg.T
    return 2.0 * m - sim_to_gallery - sim_to_query.T


def ecn(sim_qg: np.ndarray, sim_qq: np.ndarray, sim_gg: np.ndarray,
        t: int = 3, q: int = 8, k: int = 25, method: str = "rank") -> np.ndarray:
    """ECN re-ranked (Q, G) distance from cosine similarities (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    if t < 1 or q < 1 or k < 1:
        raise ValueError(f"need t, q, k >= 1; got t={t}, q={q}, k={k}")
    items = Items(sim_qg, sim_qq, sim_gg)
    if items.n <= max(t, q):
        raise ValueError(f"ECN with t={t}, q={q} needs more than {max(t, q)} items, got {items.n}")
    nearest = items.neighbours(max(k, t + 1, q + 1), lambda sims, rows: 1.0 - sims)
    expand = _expansion(nearest, t, q)
    m = t + t * q
    if method == "rank":
        sums = _rank_sums(items, expand, _rank_weights(nearest, k))
    else:
        sums = _dist_sums(items, expand, m)
    distance = sums / (2 * m)
    return np.where(distance != 0, distance, 1.0 - np.asarray(sim_qg, dtype=np.float64))

"""k-reciprocal encoding re-ranking (Zhong, Zheng, Cao, Li, "Re-ranking Person Re-identification with
k-reciprocal Encoding", CVPR 2017), vectorised, with sparse encodings.

    k_reciprocal(sim_qg, sim_qq, sim_gg, k1=20, k2=6, lam=0.3) -> (Q, G) distance (lower = better)

Over all N = Q + G items (queries first), with S the stacked similarity (``hyp_face.rerank.items``):
1. original distance ``d(i, j) = (2 - 2 S[i, j]) / max_j (2 - 2 S[i, j])`` (squared Euclidean distance of unit
   vectors, each row divided by its maximum; with symmetric S this is the reference code's per-column
   normalisation); ranking by d with ties to the lower index;
2. ``R(i, k)`` = the items j among the k + 1 nearest of i that hold i among their own k + 1 nearest;
3. expanded set ``R*(i)`` = ``R(i, k1)`` united with each ``R(c, round(k1 / 2))``, c in ``R(i, k1)``, that has
   ``|R(c, k1/2) & R(i, k1)| >= 2/3 |R(c, k1/2)|`` (the paper's >=, checked in integers; numpy's round);
4. encoding ``V[i, j] = exp(-d(i, j)) / sum over R*(i)`` for j in ``R*(i)``, else 0;
5. local query expansion: ``V[i] <- mean of V[n]`` over the k2 nearest n of i (itself included; none if k2 = 1);
6. Jaccard distance ``1 - m / (2 - m)``, ``m = sum_l min(V[i, l], V[j, l])``;
7. result ``(1 - lam) * Jaccard + lam * d`` for query rows and gallery columns.
Memory: neighbour lists (N, k1 + 1), V sparse, a few row blocks, and the (Q, G) result.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from hyp_face.metrics.identification import BLOCK_ELEMENTS, row_blocks
from hyp_face.rerank.items import Items, RowDistance


def _normalised_distance(items: Items) -> tuple[np.ndarray, RowDistance]:
    """Row maxima of 2 - 2S and the row-distance function ``d`` of step 1."""
    row_max = np.empty(items.n)
    for rows in row_blocks(items.n, items.n):
        row_max[rows] = (2.0 - 2.0 * items.rows(rows)).max(axis=1)
    if (row_max <= 0).any():
        raise ValueError(f"item {int(np.flatnonzero(row_max <= 0)[0])} has zero distance to every item")
    return row_max, lambda sims, rows: (2.0 - 2.0 * sims) / row_max[rows, None]


def reciprocal_mask(nearest: np.ndarray, k: int) -> np.ndarray:
    """(N, k + 1) mask over ``nearest[:, :k + 1]``: is the neighbour k-reciprocal (R(i, k) of step 2)?"""
    forward = nearest[:, :k + 1]
    mask = np.empty(forward.shape, bool)
    for rows in row_blocks(len(forward), forward.shape[1] ** 2):
        items = np.arange(rows.start, rows.stop)[:, None, None]
        mask[rows] = (forward[forward[rows]] == items).any(axis=-1)
    return mask


def _expanded_sets(nearest: np.ndarray, k1: int) -> tuple[np.ndarray, np.ndarray]:
    """COO (rows, cols) of the expanded sets R*(i) of step 3, unique and sorted by (row, col)."""
    k_half = int(np.around(k1 / 2.0))
    full, f_mask = nearest[:, :k1 + 1], reciprocal_mask(nearest, k1)
    half, h_mask = nearest[:, :k_half + 1], reciprocal_mask(nearest, k_half)
    n = len(nearest)
    keys = [np.flatnonzero(f_mask.ravel()) // full.shape[1] * n + full[f_mask]]
    for rows in row_blocks(n, full.shape[1] ** 2 * half.shape[1]):
        cand = full[rows]                                   # (b, K1) candidates c
        cand_half, cand_mask = half[cand], h_mask[cand]     # (b, K1, Kh) R(c, k1/2) with its mask
        in_r = ((cand_half[..., None] == cand[:, None, None, :]) & f_mask[rows][:, None, None, :]).any(-1)
        overlap = (in_r & cand_mask).sum(-1)
        ok = f_mask[rows] & (3 * overlap >= 2 * cand_mask.sum(-1))
        take = ok[..., None] & cand_mask
        row_of = np.broadcast_to(np.arange(rows.start, rows.stop)[:, None, None], take.shape)
        keys.append(row_of[take] * n + cand_half[take])
    keys = np.unique(np.concatenate(keys))
    return keys // n, keys % n


def _encoding(items: Items, nearest: np.ndarray, k1: int, row_max: np.ndarray) -> sparse.csr_matrix:
    """Sparse Gaussian-kernel encoding V of step 4."""
    rows, cols = _expanded_sets(nearest, k1)
    weight = np.exp(-(2.0 - 2.0 * items.pairs(rows, cols)) / row_max[rows])
    total = np.bincount(rows, weights=weight, minlength=items.n)
    return sparse.csr_matrix((weight / total[rows], (rows, cols)), shape=(items.n, items.n))


def _query_expansion(v: sparse.csr_matrix, nearest: np.ndarray, k2: int) -> sparse.csr_matrix:
    """Step 5: each row replaced by the mean of its k2 nearest items' rows."""
    if k2 == 1:
        return v
    n, k = len(nearest), min(k2, nearest.shape[1])
    mean = sparse.csr_matrix((np.full(n * k, 1.0 / k), (np.repeat(np.arange(n), k), nearest[:, :k].ravel())),
                             shape=(n, n))
    return (mean @ v).tocsr()


def _chunks(counts: np.ndarray, limit: int):
    """Consecutive slices of ``counts`` whose sums stay within ``limit`` (at least one entry each)."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + limit, "right")))
        yield slice(start, stop)
        start = stop


def _block_minima(v_block: sparse.coo_matrix, v_gallery_t: sparse.csr_matrix) -> np.ndarray:
    """sum_l min(v_block[i, l], v_gallery_t[l, j]) for the rows i of one query block, joined on l."""
    b, g = v_block.shape[0], v_gallery_t.shape[1]
    counts = np.diff(v_gallery_t.indptr)[v_block.col]
    acc = np.zeros(b * g)
    for chunk in _chunks(counts, BLOCK_ELEMENTS):
        n_each = counts[chunk]
        entry = np.repeat(np.arange(chunk.start, chunk.stop), n_each)
        pos = np.repeat(v_gallery_t.indptr[v_block.col[chunk]] - (np.cumsum(n_each) - n_each), n_each)
        pos += np.arange(len(entry))
        mins = np.minimum(v_block.data[entry], v_gallery_t.data[pos])
        acc += np.bincount(v_block.row[entry] * g + v_gallery_t.indices[pos], weights=mins, minlength=b * g)
    return acc.reshape(b, g)


def _sum_of_minima(v_query: sparse.csr_matrix, v_gallery_t: sparse.csr_matrix) -> np.ndarray:
    """(Q, G) matrix of sum_l min(V[i, l], V[j, l]), query rows i, gallery rows j (given transposed, (N, G))."""
    q, g = v_query.shape[0], v_gallery_t.shape[1]
    out = np.empty((q, g))
    for rows in row_blocks(q, g):
        out[rows] = _block_minima(v_query[rows].tocoo(), v_gallery_t)
    return out


def k_reciprocal(sim_qg: np.ndarray, sim_qq: np.ndarray, sim_gg: np.ndarray,
                 k1: int = 20, k2: int = 6, lam: float = 0.3) -> np.ndarray:
    """k-reciprocal re-ranked (Q, G) distance from cosine similarities (see the module docstring)."""
    if k1 < 1 or k2 < 1 or not 0.0 <= lam <= 1.0:
        raise ValueError(f"need k1 >= 1, k2 >= 1, 0 <= lam <= 1; got k1={k1}, k2={k2}, lam={lam}")
    items = Items(sim_qg, sim_qq, sim_gg)
    row_max, distance = _normalised_distance(items)
    nearest = items.neighbours(max(k1 + 1, k2), distance)
    v = _query_expansion(_encoding(items, nearest, k1, row_max), nearest, k2)
    q = items.n_query
    minima = _sum_of_minima(v[:q], v[q:].T.tocsr())
    jaccard = 1.0 - minima / (2.0 - minima)
    original = (2.0 - 2.0 * np.asarray(sim_qg, dtype=np.float64)) / row_max[:q, None]
    return (1.0 - lam) * jaccard + lam * original

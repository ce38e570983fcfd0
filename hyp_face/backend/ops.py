"""Building blocks of the video back-ends (docs/original_recipe.md §6.2), float64 numpy.

A "set" is an (N, D) matrix of face (or cluster) vectors of one video. Several sets are concatenated into one
matrix plus ``starts`` (the first row of each set), which is what :func:`group_max` pools over.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

NORM_EPS = 1e-10
QUERY_CHUNK = 1024


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows divided by (norm + 1e-10), as the original's cosine scoring does."""
    x = np.asarray(x, dtype=np.float64)
    return x / (row_norms(x) + NORM_EPS)


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norms along the last axis, kept as a column: ``np.linalg.norm(x, axis=-1, keepdims=True)``'s own
    formula for real input (the same bits) without its per-call overhead, which the per-video sets pay thousands of
    times."""
    return np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=True))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine matrix ``C(A,B)[p,q] = cos(a_p, b_q)`` (spec notation, +1e-10 on the norms); ``cosine(x, x)``
    normalises ``x`` once."""
    an = l2_normalize(a)
    return an @ (an if b is a else l2_normalize(b)).swapaxes(-1, -2)


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row softmax with max subtraction."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def starts_of(sizes: Sequence[int]) -> np.ndarray:
    """First row of each group for groups of the given (non-zero) sizes."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if (sizes <= 0).any():
        raise ValueError("every group needs at least one row")
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def group_max(scores: np.ndarray, row_starts: np.ndarray, col_starts: np.ndarray) -> np.ndarray:
    """Max pooling: the maximum over the rows of each row group and the columns of each column group."""
    return np.maximum.reduceat(np.maximum.reduceat(scores, col_starts, axis=1), row_starts, axis=0)


def mean_vector(x: np.ndarray) -> np.ndarray:
    """One (1, D) mean vector (no re-normalisation)."""
    return x.mean(axis=0, keepdims=True)


def median_vector(x: np.ndarray) -> np.ndarray:
    """One (1, D) coordinate-wise median vector (no re-normalisation)."""
    return np.median(x, axis=0, keepdims=True)


def ahc_labels(x: np.ndarray, thr: float, apart: np.ndarray | None = None) -> np.ndarray:
    """Average-linkage clustering on cosine similarity, stopped below ``thr`` (docs/original_recipe.md §6.2, scipy partitions).

    ``apart``: an optional (n, n) boolean matrix of rows that must not share a cluster (cannot-link, e.g. two face
    tracks on screen at once). Their distance is raised by more than any average over a merge can dilute, so no
    merge that would join them reaches the threshold; the other merges keep their order (average linkage is
    reducible, so its merge heights stay monotone). Returns one cluster label per row (labels 0..K-1 in order of
    first appearance).
    """
    n = len(x)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    pairs = upper_pairs(n)
    sim = cosine(x, x)[pairs]
    top = sim.max()
    if top < thr:  # every merge height top - d is <= top (d >= 0): no merge applies, each face is its own cluster
        return np.arange(n)
    from scipy.cluster.hierarchy import linkage  # imported on first use: the other versions never load it

    dist = top - sim
    if apart is not None:  # distances are <= 2 and a merge averages at most n * n / 4 pairs
        dist = dist + (8.0 * n * n + 1.0) * np.asarray(apart, bool)[pairs]
    merges = linkage(dist, method="average")
    num_merges = int(np.count_nonzero(top - merges[:, 2] >= thr))
    return cut_dendrogram(merges, n, num_merges)


@functools.lru_cache(maxsize=256)
def upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, k=1)``, built once per size (the row pairs of scipy's condensed distances)."""
    return np.triu_indices(n, k=1)


def cut_dendrogram(merges: np.ndarray, n: int, num_merges: int) -> np.ndarray:
    """Cluster labels of ``n`` leaves after applying the first ``num_merges`` merges of a scipy linkage."""
    owner = np.arange(2 * n - 1)
    for i in range(num_merges):
        owner[int(merges[i, 0])] = n + i
        owner[int(merges[i, 1])] = n + i
    root = np.arange(n)
    for _ in range(num_merges):  # follow parents up to the last applied merge (depth <= num_merges)
        nxt = owner[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    _, labels = np.unique(root, return_inverse=True)
    first = np.unique(labels, return_index=True)[1]
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return order[labels]


def ahc_centroids(x: np.ndarray, thr: float) -> np.ndarray:
    """AHC cluster means (raw, not re-normalised), in order of first appearance; N = 1 is returned as is."""
    if len(x) < 2:
        return x
    labels = ahc_labels(x, thr)
    k = labels.max() + 1
    if k == len(x):  # no merge: the means of singletons, 0 + x (as np.add.at gives; -0.0 becomes 0.0)
        return 0.0 + x
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, labels, x)
    return sums / np.bincount(labels, minlength=k)[:, None]


def self_attention(x: np.ndarray, a: float) -> np.ndarray:
    """``SA_a(X) = rowsoftmax(a * C(X,X)) X`` of a set (N, D), or of a stack of sets of one size (B, N, D); N = 1 is
    returned as is."""
    if x.shape[-2] < 2:
        return x
    return softmax_rows(a * cosine(x, x)) @ x


def self_attention_sets(sets: Sequence[np.ndarray], a: float) -> list[np.ndarray]:
    """:func:`self_attention` of each set, the sets of one size stacked into one call.

    numpy's stacked matmul makes the same BLAS call for each set as a call per set, and the softmax reduces each
    row alike, so the result is the same bits; thousands of small sets then cost a few dozen calls.
    """
    out = list(sets)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, x in enumerate(sets):
        by_shape.setdefault(x.shape, []).append(i)
    for index in by_shape.values():
        for i, refined in zip(index, self_attention(np.stack([sets[i] for i in index]), a)):
            out[i] = refined
    return out


def attention_pool_cosine(queries: np.ndarray, sets: Sequence[np.ndarray], b: float) -> np.ndarray:
    """``cos(q_i, AP_b(q_i, X_j))`` for every query i and set j -> (n_queries, n_sets).

    Vectorised over queries and sets: with G = q^ X^T for all faces of all sets at once (one matmul), the weights
    are segment softmaxes of b G / |x|, the pooled vector's dot with q^ is the segment sum of w G, and its squared
    norm is the quadratic form w_j (X_j X_j^T) w_j^T, so no (n_queries, D) pooled matrix is formed.
    """
    if len(queries) > QUERY_CHUNK:  # chunks keep the temporaries small (and reused by the allocator)
        return np.concatenate([attention_pool_cosine(queries[i:i + QUERY_CHUNK], sets, b)
                               for i in range(0, len(queries), QUERY_CHUNK)])
    sizes = np.array([len(x) for x in sets])
    starts = starts_of(sizes)
    faces = np.concatenate(sets)
    g = l2_normalize(queries) @ faces.T
    z = g * (b / (np.linalg.norm(faces, axis=1) + NORM_EPS))
    z -= np.repeat(np.maximum.reduceat(z, starts, axis=1), sizes, axis=1)
    w = np.exp(z, out=z)
    w /= np.repeat(np.add.reduceat(w, starts, axis=1), sizes, axis=1)
    dot = np.add.reduceat(w * g, starts, axis=1)
    sq = np.empty_like(dot)
    for j, (a, x) in enumerate(zip(starts, sets)):
        wj = w[:, a:a + len(x)]
        sq[:, j] = np.einsum("iq,iq->i", wj @ (x @ x.T), wj)
    return dot / (np.sqrt(np.maximum(sq, 0.0)) + NORM_EPS)

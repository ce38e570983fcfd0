"""ROC convex hull (Bosaris PAV method) and the metrics read off it: ROCCH-EER, min DCF, min Cllr.

Bosaris sorts the concatenation ``[tar, non]`` stably (so tied targets come before tied non-targets)
and runs pool-adjacent-violators (PAV) on the 0/1 labels; the PAV bin boundaries are the hull vertices.
PAV on 0/1 labels equals the slopes of the greatest convex minorant of the cumulative-target diagram
``(k, S_k)`` (``S_k`` = targets among the ``k`` lowest scores), so here the hull is computed directly as
the lower convex hull of that diagram, using only the points that can be vertices (the ends of runs of
non-targets). Vertices that are collinear with their neighbours are dropped; they change none of the
metrics (EER, min DCF, min Cllr are all linear or bin-wise constant along a hull segment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rocch:
    """Vertices of the ROC convex hull as integer counts, thresholds going from -inf to +inf.

    ``miss[i]``: targets rejected at vertex i (ascending); ``fa[i]``: non-targets accepted (descending).
    """

    miss: np.ndarray
    fa: np.ndarray
    n_tar: int
    n_non: int

    @property
    def p_miss(self) -> np.ndarray:
        return self.miss / self.n_tar

    @property
    def p_fa(self) -> np.ndarray:
        return self.fa / self.n_non


def sort_scores(tar: np.ndarray, non: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated, sorted float64 copies of the target and non-target scores."""
    tar = np.sort(np.asarray(tar, dtype=np.float64).ravel())
    non = np.sort(np.asarray(non, dtype=np.float64).ravel())
    if tar.size == 0 or non.size == 0:
        raise ValueError(f"need target and non-target scores, got {tar.size} and {non.size}")
    if np.isnan(tar[-1]) or np.isnan(non[-1]):  # np.sort puts NaN last
        raise ValueError("scores contain NaN")
    return tar, non


def _strictly_convex(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For interior points b of consecutive triples (a, b, c): is b strictly below the chord a-c?"""
    xa, xb, xc = x[:-2], x[1:-1], x[2:]
    ya, yb, yc = y[:-2], y[1:-1], y[2:]
    return (xb - xa) * (yc - ya) - (yb - ya) * (xc - xa) > 0


def _monotone_chain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the strict lower hull of points with increasing x (Andrew's algorithm)."""
    hull: list[int] = []
    xs, ys = x.tolist(), y.tolist()
    for i in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (xs[b] - xs[a]) * (ys[i] - ys[a]) - (ys[b] - ys[a]) * (xs[i] - xs[a]) > 0:
                break
            hull.pop()
        hull.append(i)
    return np.asarray(hull, dtype=np.int64)


def lower_hull(x: np.ndarray, y: np.ndarray, min_removed: float = 0.05) -> np.ndarray:
    """Indices of the vertices of the strict lower convex hull of integer points with increasing x.

    Vectorised passes drop every point that is not strictly below the chord of its current neighbours
    (such a point is never a vertex, so dropping many at once is safe); when a pass removes less than
    ``min_removed`` of the points, Andrew's monotone chain finishes the (by then short) list.
    """
    idx = np.arange(len(x))
    while len(idx) > 2:
        keep = np.concatenate(([True], _strictly_convex(x[idx], y[idx]), [True]))
        removed = len(idx) - int(keep.sum())
        idx = idx[keep]
        if removed == 0:
            return idx
        if removed < min_removed * (len(idx) + removed):
            return idx[_monotone_chain(x[idx], y[idx])]
    return idx


def rocch(tar_sorted: np.ndarray, non_sorted: np.ndarray) -> Rocch:
    """ROC convex hull of sorted target and non-target scores (ties: targets before non-targets)."""
    n_tar, n_non = len(tar_sorted), len(non_sorted)
    # Targets scoring <= each non-target; a hull vertex can only sit after the last non-target of a run.
    tar_below = np.searchsorted(tar_sorted, non_sorted, side="right").astype(np.int64)
    run_end = np.flatnonzero(np.append(tar_below[1:] != tar_below[:-1], True))
    k = run_end + 1 + tar_below[run_end]  # scores to the left of the boundary
    s = tar_below[run_end]  # targets to the left of the boundary
    if k[-1] == n_tar + n_non:  # the last non-target is the highest score: that point is the end point
        k, s = k[:-1], s[:-1]
    k = np.concatenate(([0], k, [n_tar + n_non]))
    s = np.concatenate(([0], s, [n_tar]))
    v = lower_hull(k, s)
    return Rocch(miss=s[v], fa=n_non - (k[v] - s[v]), n_tar=n_tar, n_non=n_non)


def rocch_eer(hull: Rocch) -> float:
    """ROCCH-EER (fraction): the largest crossing of a hull segment's line with P_miss = P_fa.

    Segment line ``alpha*P_fa + beta*P_miss = 1`` crosses the diagonal at ``1/(alpha+beta)``; horizontal or
    vertical segments contribute 0. Computed exactly from the integer counts.
    """
    m0, m1 = hull.miss[:-1], hull.miss[1:]
    f0, f1 = hull.fa[:-1], hull.fa[1:]
    num = (f0 * m1 - f1 * m0).astype(np.float64)
    den = ((m1 - m0) * hull.n_non + (f0 - f1) * hull.n_tar).astype(np.float64)
    valid = (m1 != m0) & (f1 != f0)
    if not valid.any():
        return 0.0
    return float(max(0.0, np.max(num[valid] / den[valid])))


def normalized_cost(p_target: float, p_miss, p_fa):
    """Normalised DCF with C_miss = C_fa = 1: ``(P p_miss + (1-P) p_fa) / min(P, 1-P)``."""
    return (p_target * p_miss + (1 - p_target) * p_fa) / min(p_target, 1 - p_target)


def min_dcf(hull: Rocch, p_target: float) -> float:
    """Minimum normalised DCF at ``p_target`` (minimum over the hull vertices = over all thresholds)."""
    return float(np.min(normalized_cost(p_target, hull.p_miss, hull.p_fa)))


def min_cllr(hull: Rocch) -> float:
    """Cllr (bits) of the PAV-calibrated scores: each hull bin gets LLR ``log(t N_non / (n N_tar))``."""
    t = np.diff(hull.miss).astype(np.float64)  # targets per bin
    n = -np.diff(hull.fa).astype(np.float64)  # non-targets per bin
    ratio = hull.n_tar / hull.n_non
    with np.errstate(divide="ignore", invalid="ignore"):
        tar_cost = np.where(t > 0, t * np.log1p(n / t * ratio), 0.0).sum() / hull.n_tar
        non_cost = np.where(n > 0, n * np.log1p(t / n / ratio), 0.0).sum() / hull.n_non
    return float((tar_cost + non_cost) / (2 * np.log(2)))

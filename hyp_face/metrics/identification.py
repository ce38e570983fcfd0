"""Identification (1:N) and search metrics over full score matrices: CMC, DIR@FPIR, ID rate, ROC-AUC, mAP.

Public API (signatures are stable; other modules code against them)::

    closed_set_cmc(scores, probe_ids, gallery_ids, max_rank=None) -> np.ndarray      # cmc[k-1]
    rank_k(cmc, k) -> float
    dir_at_fpir(scores, probe_ids, gallery_ids, fpirs=(1e-3, 1e-2, 1e-1), rank=1)
        -> {fpir: {"dir", "fnir", "threshold", "fpir_achieved"}}
    id_rate(pos_scores, neg_scores, fprs=(0.5, 0.2, 0.1, 0.05, 0.01, 1e-3, 1e-4)) -> {fpr: tpr}
    roc_auc(pos_scores, neg_scores) -> float
    id_rate_pairs(scores_qq, query_ids, scores_qd, fprs=...)
        -> {"id_rate": {fpr: tpr}, "auc", "n_pos", "n_neg"}
    retrieval_map(scores, query_ids, gallery_ids, ranks=(1, 5, 10))
        -> {"map", "rank": {k: share}, "ap": (Q,) array, "first_hit": (Q,) array, "n_no_relevant"}
    retrieval_map_relevance(scores, relevant, ranks=(1, 5, 10))   # same, relevance as a (Q, G) bool matrix

Conventions
-----------
* ``scores[p, g]`` is a similarity (higher = more alike) of probe/query row ``p`` and gallery item column ``g``.
  Re-ranked *distances* (``hyp_face.rerank``) go in negated. ``probe_ids``/``gallery_ids`` are identity labels
  (strings or ints), one per row/column; a gallery may hold several items per identity.
* Closed- and open-set metrics rank gallery IDENTITIES, each scored by its best item (max over its items);
  retrieval metrics (mAP, Rank-k of search) rank gallery ITEMS.
* Tie rule (everywhere, pessimistic): a mate or relevant item is placed after every non-mate / irrelevant
  item with an equal score; so the rank of the true identity is the number of identities whose best score
  is >= the mate's. Results never depend on the gallery order.
* Threshold rule (ID rate and DIR@FPIR): the threshold at rate ``r`` over ``N`` impostor scores is the score at
  0-based position ``floor(r * N)`` in descending order (``floor`` taken exactly on the decimal value of ``r``,
  so 0.29 * 100 gives 29); a score counts as accepted when strictly above it. Hence at most ``floor(r * N)``
  impostors are accepted (fewer when it ties with others), the achieved rate is <= ``r``; a rate below
  ``1/N`` gives the top impostor score as threshold (rate achieved 0) and a rate of 1 gives ``-inf``.
* Open set (ISO/IEC 19795-1, NIST FRVT 1:N): known probes have their identity in the gallery, unknown probes do
  not. An unknown probe raises a false alarm when its top gallery score is above the threshold (FPIR); a known
  probe is detected when its mate identity is at rank <= ``rank`` and its mate score is above the threshold
  (DIR); FNIR = 1 - DIR.
* Bad input raises ``ValueError``: NaN scores (naming the row), shape mismatch, empty gallery or probe set,
  a closed-set probe whose identity is not in the gallery (naming the row), rates outside (0, 1].
* Large matrices are read in row blocks of about ``BLOCK_ELEMENTS`` values, so a ``np.memmap`` works.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator, Sequence

import numpy as np

BLOCK_ELEMENTS = 1 << 22
DEFAULT_FPRS = (0.5, 0.2, 0.1, 0.05, 0.01, 1e-3, 1e-4)


def row_blocks(n_rows: int, n_cols: int) -> Iterator[slice]:
    """Consecutive row slices holding about ``BLOCK_ELEMENTS`` values each (at least one row)."""
    step = max(1, BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def checked_block(scores: np.ndarray, rows: slice, what: str = "scores") -> np.ndarray:
    """Rows ``rows`` of ``scores`` as float64; ValueError naming the first row holding a NaN."""
    block = np.asarray(scores[rows], dtype=np.float64)
    bad = np.flatnonzero(np.isnan(block).any(axis=1))
    if bad.size:
        raise ValueError(f"{what} row {rows.start + int(bad[0])} contains NaN")
    return block


def _check_matrix(scores: np.ndarray, n_rows: int, n_cols: int, what: str = "scores") -> None:
    if scores.ndim != 2 or scores.shape != (n_rows, n_cols):
        raise ValueError(f"{what} has shape {scores.shape}, expected ({n_rows}, {n_cols}) from the ids")
    if n_cols == 0:
        raise ValueError(f"{what}: empty gallery")
    if n_rows == 0:
        raise ValueError(f"{what}: no probes")


def _identity_codes(probe_ids: Sequence, gallery_ids: Sequence) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer identity codes: gallery codes in 0..n-1, probe codes likewise or -1 for unknown identities."""
    gallery = np.asarray(gallery_ids)
    probes = np.asarray(probe_ids)
    names, gallery_codes = np.unique(gallery, return_inverse=True)
    pos = np.minimum(np.searchsorted(names, probes), max(len(names) - 1, 0))
    known = names[pos] == probes if len(names) else np.zeros(len(probes), bool)
    return np.where(known, pos, -1), gallery_codes.ravel(), len(names)


def rate_index(rate: float, n: int) -> int:
    """``floor(rate * n)`` computed exactly on the decimal value of ``rate`` (which must lie in (0, 1])."""
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate {rate} is outside (0, 1]")
    return int(Fraction(repr(float(rate))) * n)


def _threshold(impostor_desc: np.ndarray, rate: float) -> float:
    """Score at position floor(rate * N) of the descending impostor scores, -inf past the end."""
    idx = rate_index(rate, len(impostor_desc))
    return float(impostor_desc[idx]) if idx < len(impostor_desc) else -np.inf


class _IdentityScorer:
    """Per-probe best score of every gallery identity (max over its items), computed on row blocks."""

    def __init__(self, gallery_codes: np.ndarray, n_identities: int):
        order = np.argsort(gallery_codes, kind="stable")
        self.order = None if (order == np.arange(len(order))).all() else order
        self.starts = None if n_identities == len(order) else np.searchsorted(gallery_codes[order],
                                                                               np.arange(n_identities))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        by_identity = block if self.order is None else block[:, self.order]
        return by_identity if self.starts is None else np.maximum.reduceat(by_identity, self.starts, axis=1)


def _mate_ranks(scores, probe_codes, gallery_codes, n_ident) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per probe: pessimistic rank of its mate identity (0 if unknown), mate score, top gallery score."""
    scorer = _IdentityScorer(gallery_codes, n_ident)
    n = len(probe_codes)
    ranks, mate, top = np.zeros(n, np.int64), np.full(n, -np.inf), np.empty(n)
    for rows in row_blocks(n, len(gallery_codes)):
        ident = scorer(checked_block(scores, rows))
        codes = probe_codes[rows]
        known = codes >= 0
        m = np.where(known, ident[np.arange(len(codes)), np.maximum(codes, 0)], -np.inf)
        ranks[rows] = np.where(known, (ident >= m[:, None]).sum(axis=1), 0)
        mate[rows], top[rows] = m, ident.max(axis=1)
    return ranks, mate, top


def closed_set_cmc(scores: np.ndarray, probe_ids: Sequence, gallery_ids: Sequence,
                   max_rank: int | None = None) -> np.ndarray:
    """Closed-set CMC over gallery identities: ``cmc[k-1]`` = share of probes whose identity ranks <= k.

    Length ``max_rank`` (default: the number of gallery identities; longer curves stay at 1.0).
    Every probe identity must be in the gallery.
    """
    probe_codes, gallery_codes, n_ident = _identity_codes(probe_ids, gallery_ids)
    _check_matrix(scores, len(probe_codes), len(gallery_codes))
    unknown = np.flatnonzero(probe_codes < 0)
    if unknown.size:
        row = int(unknown[0])
        raise ValueError(f"closed set: probe row {row} has identity {str(np.asarray(probe_ids)[row])!r} "
                         f"that is not in the gallery ({unknown.size} such probes)")
    ranks, _, _ = _mate_ranks(scores, probe_codes, gallery_codes, n_ident)
    length = n_ident if max_rank is None else int(max_rank)
    if length < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    counts = np.bincount(np.minimum(ranks, length + 1), minlength=length + 2)[1:length + 1]
    return np.cumsum(counts) / len(ranks)


def rank_k(cmc: np.ndarray, k: int) -> float:
    """Rank-k identification rate read off a CMC curve (``cmc[k-1]``)."""
    if not 1 <= k <= len(cmc):
        raise ValueError(f"rank {k} is outside the CMC curve (1..{len(cmc)})")
    return float(cmc[k - 1])


def dir_at_fpir(scores: np.ndarray, probe_ids: Sequence, gallery_ids: Sequence,
                fpirs: Sequence[float] = (1e-3, 1e-2, 1e-1), rank: int = 1) -> dict[float, dict[str, float]]:
    """Open-set detection and identification rate at each false positive identification rate.

    Returns ``{fpir: {"dir", "fnir", "threshold", "fpir_achieved"}}``; see the module docstring for the rules.
    """
    probe_codes, gallery_codes, n_ident = _identity_codes(probe_ids, gallery_ids)
    _check_matrix(scores, len(probe_codes), len(gallery_codes))
    known = probe_codes >= 0
    if known.all() or not known.any():
        raise ValueError(f"open set needs known and unknown probes, got {int(known.sum())} known "
                         f"and {int((~known).sum())} unknown")
    ranks, mate, top = _mate_ranks(scores, probe_codes, gallery_codes, n_ident)
    unknown_top = top[~known]
    unknown_desc = np.sort(unknown_top)[::-1]
    found = ranks[known] <= rank
    out = {}
    for fpir in fpirs:
        t = _threshold(unknown_desc, fpir)
        dir_ = float(np.mean(found & (mate[known] > t)))
        out[fpir] = {"dir": dir_, "fnir": 1.0 - dir_, "threshold": t,
                     "fpir_achieved": float(np.mean(unknown_top > t))}
    return out


class _ImpostorCounts:
    """For sorted positive scores, running counts of negatives >= and > each positive (negatives streamed)."""

    def __init__(self, pos_scores: np.ndarray):
        self.pos = np.sort(np.asarray(pos_scores, dtype=np.float64).ravel())
        if self.pos.size == 0:
            raise ValueError("no positive scores")
        if np.isnan(self.pos[-1]):
            raise ValueError("positive scores contain NaN")
        self._hist_ge = np.zeros(self.pos.size + 1, np.int64)
        self._hist_gt = np.zeros(self.pos.size + 1, np.int64)
        self.n_neg = 0

    def add(self, neg_scores: np.ndarray) -> None:
        neg = np.asarray(neg_scores, dtype=np.float64).ravel()
        if np.isnan(neg).any():
            raise ValueError("negative scores contain NaN")
        size = self.pos.size + 1
        right = bisect_right_sorted(self.pos, neg)
        tied = np.flatnonzero(self.pos[np.maximum(right - 1, 0)] == neg)
        tied = tied[right[tied] > 0]
        hist = np.bincount(right, minlength=size)
        self._hist_ge += hist
        self._hist_gt += hist - np.bincount(right[tied], minlength=size)
        self._hist_gt += np.bincount(np.searchsorted(self.pos, neg[tied], "left"), minlength=size)
        self.n_neg += neg.size

    @staticmethod
    def _beyond(hist: np.ndarray) -> np.ndarray:
        """count[i] = sum of hist[j] for j > i (negatives whose insertion index passes positive i)."""
        return np.cumsum(hist[::-1])[::-1][1:]

    def _check(self) -> None:
        if self.n_neg == 0:
            raise ValueError("no negative scores")

    def tpr(self, fprs: Sequence[float]) -> dict[float, float]:
        """TPR at each FPR: share of positives above the negative at position floor(FPR * N_neg)."""
        self._check()
        n_ge = self._beyond(self._hist_ge)  # positive p is above that negative iff #neg >= p <= floor(FPR N)
        return {fpr: float(np.mean(n_ge <= rate_index(fpr, self.n_neg))) for fpr in fprs}

    def auc(self) -> float:
        """P(pos > neg) + P(pos == neg) / 2, exact from integer counts."""
        self._check()
        n_ge, n_gt = self._beyond(self._hist_ge), self._beyond(self._hist_gt)
        wins2 = 2 * (self.n_neg * self.pos.size - int(n_ge.sum())) + int((n_ge - n_gt).sum())
        return wins2 / (2 * self.n_neg * self.pos.size)


def id_rate(pos_scores: np.ndarray, neg_scores: np.ndarray,
            fprs: Sequence[float] = DEFAULT_FPRS) -> dict[float, float]:
    """ID rate: TPR at each FPR, threshold = negative score at position floor(FPR * N_neg) in descending order."""
    counts = _ImpostorCounts(pos_scores)
    counts.add(neg_scores)
    return counts.tpr(fprs)


def roc_auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """Area under the ROC curve; a positive tied with a negative counts 1/2."""
    counts = _ImpostorCounts(pos_scores)
    counts.add(neg_scores)
    return counts.auc()


def _query_pair_blocks(scores_qq: np.ndarray, codes: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Scores of the query pairs i < j, per row block, split into (same identity, different identity)."""
    n = len(codes)
    for rows in row_blocks(n, n):
        block = checked_block(scores_qq, rows, "scores_qq")
        upper = np.arange(n)[None, :] > np.arange(rows.start, rows.stop)[:, None]
        same = codes[rows, None] == codes[None, :]
        yield block[upper & same], block[upper & ~same]


def id_rate_pairs(scores_qq: np.ndarray, query_ids: Sequence, scores_qd: np.ndarray,
                  fprs: Sequence[float] = DEFAULT_FPRS) -> dict:
    """ID rate and ROC-AUC over pairs: positives = same-identity query pairs (i < j), negatives = the
    different-identity query pairs plus every query x distractor pair. Only the upper triangle of
    ``scores_qq`` (Q x Q) is read; ``scores_qd`` is Q x D (D may be 0).

    Returns ``{"id_rate": {fpr: tpr}, "auc": float, "n_pos": int, "n_neg": int}``.
    """
    codes = np.unique(np.asarray(query_ids), return_inverse=True)[1].ravel()
    n = len(codes)
    if scores_qq.shape != (n, n):
        raise ValueError(f"scores_qq has shape {scores_qq.shape}, expected ({n}, {n}) from the query ids")
    if scores_qd.ndim != 2 or scores_qd.shape[0] != n:
        raise ValueError(f"scores_qd has shape {scores_qd.shape}, expected ({n}, D)")
    pos = np.concatenate([p for p, _ in _query_pair_blocks(scores_qq, codes)] or [np.empty(0)])
    counts = _ImpostorCounts(pos)
    for _, neg in _query_pair_blocks(scores_qq, codes):
        counts.add(neg)
    for rows in row_blocks(n, scores_qd.shape[1]):
        counts.add(checked_block(scores_qd, rows, "scores_qd"))
    return {"id_rate": counts.tpr(fprs), "auc": counts.auc(), "n_pos": int(pos.size), "n_neg": counts.n_neg}


def _bisect_right_in_segments(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per query x, the bisect-right position of x in the ascending segment values[lo:hi] (vectorised; the
    queries still searching are kept compressed, each finished one is written once)."""
    out = lo.copy()
    idx = np.flatnonzero(lo < hi)
    left, right, xv = lo[idx], hi[idx], x[idx]
    while idx.size:
        mid = (left + right) // 2
        le = values[mid] <= xv
        left = np.where(le, mid + 1, left)
        right = np.where(le, right, mid)
        done = left >= right
        out[idx[done]] = left[done]
        keep = ~done
        idx, left, right, xv = idx[keep], left[keep], right[keep], xv[keep]
    return out


def bisect_right_sorted(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.searchsorted(a, x, "right")`` for ascending ``a`` without NaN, faster for many queries: uniform
    buckets over [a[0], a[-1]] narrow each query to the items of its bucket, then a bisection finishes. The
    bucket map is monotone, so it is exact whatever the rounding."""
    n = len(a)
    span = float(a[-1] - a[0]) if n else 0.0
    scale = 4 * n / span if span > 0 else np.inf
    if n < 64 or not np.isfinite(scale):
        return np.searchsorted(a, x, "right")
    n_buckets = 4 * n

    def bucket(v: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((v - a[0]) * scale), 0, n_buckets - 1).astype(np.int64)

    first = np.searchsorted(bucket(a), np.arange(n_buckets + 1), "left")
    b = bucket(x)
    return _bisect_right_in_segments(a, first[b], first[b + 1], x)


def _count_at_most(table: np.ndarray, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per query, how many entries of ``table[rows[i]]`` (ascending, width a power of two) are <= ``x[i]``,
    by a branchless bisection over all queries at once."""
    width = table.shape[1]
    flat, base = table.ravel(), rows * width
    pos = np.zeros(len(x), np.int64)
    step = width // 2
    while step:
        pos += step * (flat[base + pos + step - 1] <= x)
        step //= 2
    return pos + (flat[base + pos] <= x)


def _relevant_ranks(block: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each relevant entry of a block: its row, its 1-based order m among the row's relevant items
    (descending score) and its pessimistic position m + #irrelevant items scoring >= it.

    Only irrelevant items scoring at least the row's lowest relevant score are looked at; each is placed among
    the row's sorted relevant scores (a table padded with +inf) by a vectorised bisection."""
    rows, cols = np.nonzero(relevant)
    s = block[rows, cols]
    order = np.lexsort((s, rows))  # ascending score within each row
    rows, s = rows[order], s[order]
    n_rel = np.bincount(rows, minlength=block.shape[0])
    start = np.cumsum(n_rel) - n_rel
    j = np.arange(len(s)) - start[rows]  # index within the row, ascending score
    width = 1 << int(n_rel.max(initial=1) - 1).bit_length()
    table = np.full((block.shape[0], width), np.inf)
    table[rows, j] = s
    has = n_rel > 0
    cand_rows, cand_cols = np.nonzero((block >= table[:, :1]) & ~relevant & has[:, None])
    above = np.minimum(_count_at_most(table, cand_rows, block[cand_rows, cand_cols]), n_rel[cand_rows])
    # n_irrelevant[threshold j of row r] = #candidates of row r placed above it (above > j)
    hist = np.bincount(cand_rows * (width + 1) + above, minlength=block.shape[0] * (width + 1))
    beyond = np.cumsum(hist.reshape(-1, width + 1)[:, ::-1], axis=1)[:, ::-1]
    n_irrelevant = beyond[rows, j + 1]
    m = n_rel[rows] - j
    return rows, m, m + n_irrelevant


def _retrieval_block(block: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query row of a block: AP (0 without relevant items) and the position of its first relevant hit
    (the largest int64 without relevant items, so that it is beyond every rank)."""
    n = block.shape[0]
    rows, m, pos = _relevant_ranks(block, relevant)
    n_rel = np.bincount(rows, minlength=n)
    ap = np.bincount(rows, weights=m / pos, minlength=n) / np.maximum(n_rel, 1)
    first_hit = np.full(n, np.iinfo(np.int64).max)
    first_hit[rows[m == 1]] = pos[m == 1]
    return ap, first_hit


def retrieval_map_relevance(scores: np.ndarray, relevant: np.ndarray, ranks: Sequence[int] = (1, 5, 10)) -> dict:
    """mAP and Rank-k of a search, relevance given as a (Q, G) boolean matrix (AP 0 without relevant items).

    Returns ``{"map": float, "rank": {k: share of queries with a relevant item in the top k},
    "ap": (Q,) array, "first_hit": (Q,) 1-based rank of each query's first relevant item (int64 max: none),
    "n_no_relevant": int}``.
    """
    relevant = np.asarray(relevant, dtype=bool)
    _check_matrix(scores, *relevant.shape)
    return _retrieval(scores, lambda rows: relevant[rows], ranks)


def retrieval_map(scores: np.ndarray, query_ids: Sequence, gallery_ids: Sequence,
                  ranks: Sequence[int] = (1, 5, 10)) -> dict:
    """mAP and Rank-k of a search over gallery ITEMS; relevant = same identity. See ``retrieval_map_relevance``."""
    query_codes, gallery_codes, _ = _identity_codes(query_ids, gallery_ids)
    _check_matrix(scores, len(query_codes), len(gallery_codes))
    return _retrieval(scores, lambda rows: query_codes[rows, None] == gallery_codes[None, :], ranks)


def _retrieval(scores: np.ndarray, relevant_rows, ranks: Sequence[int]) -> dict:
    n, g = scores.shape
    ap, first_hit = np.empty(n), np.empty(n, np.int64)
    n_no_relevant = 0
    for rows in row_blocks(n, g):
        rel = relevant_rows(rows)
        ap[rows], first_hit[rows] = _retrieval_block(checked_block(scores, rows), rel)
        n_no_relevant += int((~rel.any(axis=1)).sum())
    return {"map": float(ap.mean()), "rank": {k: float(np.mean(first_hit <= k)) for k in ranks},
            "ap": ap, "first_hit": first_hit, "n_no_relevant": n_no_relevant}

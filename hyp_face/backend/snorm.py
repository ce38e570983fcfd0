"""Adaptive symmetric score normalisation at face (or cluster) level (spec 6.5).

``faithful`` reproduces the original's cross selection: the z term of (p, q) takes the statistics of the
enrollment-vs-cohort scores over the cohort subset closest to the *test* vector q, the t term those of the
cohort-vs-test scores over the subset closest to the *enrollment* vector p; (z + t) / sqrt(2).
``asnorm`` is the textbook adaptive s-norm: each side's statistics over its own top cohort; (z + t) / 2.

Cohort ranking rule (ties): descending score, equal scores ordered by *larger* cohort index first (the reverse of a
stable ascending argsort, which is what the original gives under numpy 2.x). Ranks ``discard .. discard+K-1`` are
kept, ``K = min(ncoh, N_cohort - discard)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .ops import l2_normalize

STD_FLOOR = 1e-5
MODES = ("none", "faithful", "asnorm")


def top_mask(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest entries of each column (ties: larger row index first)."""
    n = scores.shape[0]
    if k <= 0:
        return np.zeros(scores.shape, dtype=bool)
    if k >= n:
        return np.ones(scores.shape, dtype=bool)
    kth = -np.partition(-scores, k - 1, axis=0)[k - 1]
    greater = scores > kth
    equal = scores == kth
    needed = k - greater.sum(axis=0)
    equal_from_end = np.cumsum(equal[::-1], axis=0)[::-1]
    return greater | (equal & (equal_from_end <= needed))


def ranked_indices(scores: np.ndarray, discard: int, k: int) -> np.ndarray:
    """(rows x k) indices of ranks ``discard .. discard+k-1`` of each row in descending order (tie rule above).

    One argpartition finds the top ``discard + k`` candidates; rows whose boundary value is tied with entries
    left out are redone exactly with :func:`top_mask`; candidates are then ordered by (score, index) descending.
    """
    n = scores.shape[1]
    top = discard + k
    if top > n:
        raise ValueError(f"ranks up to {top} requested from {n} cohort vectors")
    cand = np.argpartition(scores, n - top, axis=1)[:, n - top:]
    vals = np.take_along_axis(scores, cand, axis=1)
    if top < n:
        kth = vals.min(axis=1, keepdims=True)
        tied = np.flatnonzero((scores == kth).sum(axis=1) != (vals == kth).sum(axis=1))
        if len(tied):
            cand[tied] = np.nonzero(top_mask(scores[tied].T, top).T)[1].reshape(len(tied), top)
            vals[tied] = np.take_along_axis(scores[tied], cand[tied], axis=1)
    if discard:
        order = np.lexsort((-cand, -vals), axis=1)
        cand = np.take_along_axis(cand, order, axis=1)[:, discard:]
    return cand


def selection_matrix(index: np.ndarray, num_cohort: int) -> sparse.csr_matrix:
    """CSR (rows x num_cohort) 0/1 matrix with ones at the given (rows x k) indices."""
    rows, k = index.shape
    return sparse.csr_matrix((np.ones(rows * k), index.ravel(), np.arange(0, rows * k + 1, k)),
                             shape=(rows, num_cohort))


def mean_std(sums: np.ndarray, sq_sums: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored population std from sums and sums of squares over ``k`` values."""
    mean = sums / k
    var = np.maximum(sq_sums / k - mean * mean, 0.0)
    return mean, np.maximum(np.sqrt(var), STD_FLOOR)


@dataclass
class SNorm:
    """S-norm against a fixed cohort for a fixed set of enrollment-side vectors.

    ``enroll_cohort`` is Cec (N_e x N_c) and ``cohort`` the raw cohort vectors (used by the caller to score test
    blocks against the cohort); blocks of test columns are normalised with :meth:`normalize`, which takes
    the cohort-vs-test scores transposed, Cte^T (B x N_c), so that every ranking runs along contiguous rows.
    """

    mode: str
    enroll_cohort: np.ndarray
    ncoh: int
    discard: int = 0
    cohort: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES[1:]:
            raise ValueError(f"unknown s-norm mode {self.mode!r}; expected one of {MODES[1:]}")
        num_cohort = self.enroll_cohort.shape[1]
        self.k = min(self.ncoh, num_cohort - self.discard)
        if self.k <= 0:
            raise ValueError(f"cohort of {num_cohort} vectors is too small for ncoh_discard={self.discard}")
        enroll_idx = ranked_indices(self.enroll_cohort, self.discard, self.k)  # J_p, (N_e x K)
        if self.mode == "faithful":
            self.enroll_sel = selection_matrix(enroll_idx, num_cohort)
            cec_t = np.ascontiguousarray(self.enroll_cohort.T)
            self._cec_t_ext = np.hstack([cec_t, cec_t * cec_t])
        else:
            self._z_stats = own_stats(self.enroll_cohort, enroll_idx)
        self.cohort_unit = None if self.cohort is None else l2_normalize(self.cohort)

    def normalize(self, scores: np.ndarray, test_cohort: np.ndarray) -> np.ndarray:
        """Normalise a block ``scores`` (N_e x B) given Cte^T (B x N_c) for the same test columns."""
        test_idx = ranked_indices(test_cohort, self.discard, self.k)  # I_q, (B x K)
        if self.mode == "asnorm":
            mu_z, sd_z = self._z_stats
            mu_t, sd_t = own_stats(test_cohort, test_idx)
            return ((scores - mu_z[:, None]) / sd_z[:, None] + (scores - mu_t) / sd_t) / 2.0
        n_e = scores.shape[0]
        test_sel = selection_matrix(test_idx, test_cohort.shape[1])
        z_sums = (test_sel @ self._cec_t_ext).T  # (2 N_e x B): sums of Cec[p, I_q] and of its squares
        mu_z, sd_z = mean_std(z_sums[:n_e], z_sums[n_e:], self.k)
        cte = np.ascontiguousarray(test_cohort.T)  # (N_c x B)
        t_sums = self.enroll_sel @ cte  # (N_e x B): sums of Cte[J_p, q]
        np.multiply(cte, cte, out=cte)
        mu_t, sd_t = mean_std(t_sums, self.enroll_sel @ cte, self.k)
        return ((scores - mu_z) / sd_z + (scores - mu_t) / sd_t) / np.sqrt(2.0)


def own_stats(scores: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored population std of each row over its own selected entries."""
    picked = np.take_along_axis(scores, index, axis=1)
    return picked.mean(axis=1), np.maximum(picked.std(axis=1), STD_FLOOR)

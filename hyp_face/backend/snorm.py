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


def ranked_mask(scores: np.ndarray, discard: int, k: int) -> np.ndarray:
    """Mask of ranks ``discard .. discard+k-1`` of each column in descending order (tie rule above)."""
    return top_mask(scores, discard + k) & ~top_mask(scores, discard)


def selection_matrix(mask: np.ndarray, k: int) -> sparse.csr_matrix:
    """CSR (columns x rows) 0/1 matrix of a column-wise mask with exactly ``k`` entries per column."""
    rows, cols = np.nonzero(mask.T)
    indptr = np.arange(0, mask.shape[1] * k + 1, k)
    return sparse.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(mask.shape[1], mask.shape[0]))


def mean_std(sums: np.ndarray, sq_sums: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored population std from sums and sums of squares over ``k`` values."""
    mean = sums / k
    var = np.maximum(sq_sums / k - mean * mean, 0.0)
    return mean, np.maximum(np.sqrt(var), STD_FLOOR)


@dataclass
class SNorm:
    """S-norm against a fixed cohort for a fixed set of enrollment-side vectors.

    ``enroll_cohort`` is Cec (N_e x N_c); blocks of test columns are normalised with :meth:`normalize`.
    """

    mode: str
    enroll_cohort: np.ndarray
    ncoh: int
    discard: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES[1:]:
            raise ValueError(f"unknown s-norm mode {self.mode!r}; expected one of {MODES[1:]}")
        num_cohort = self.enroll_cohort.shape[1]
        self.k = min(self.ncoh, num_cohort - self.discard)
        if self.k <= 0:
            raise ValueError(f"cohort of {num_cohort} vectors is too small for ncoh_discard={self.discard}")
        # J_p: each enrollment row's own cohort subset, as a (N_e x N_c) selection matrix.
        self.enroll_sel = selection_matrix(ranked_mask(self.enroll_cohort.T, self.discard, self.k), self.k)
        if self.mode == "faithful":
            cec_t = np.ascontiguousarray(self.enroll_cohort.T)
            self._cec_t_ext = np.hstack([cec_t, cec_t * cec_t])
        else:
            sel = self.enroll_sel
            self._z_stats = mean_std(
                np.asarray(sel.multiply(self.enroll_cohort).sum(axis=1))[:, 0],
                np.asarray(sel.multiply(self.enroll_cohort**2).sum(axis=1))[:, 0],
                self.k,
            )

    def normalize(self, scores: np.ndarray, cohort_test: np.ndarray) -> np.ndarray:
        """Normalise a block ``scores`` (N_e x B) given Cte (N_c x B) for the same test columns."""
        test_sel = selection_matrix(ranked_mask(cohort_test, self.discard, self.k), self.k)  # I_q, (B x N_c)
        if self.mode == "asnorm":
            return self._asnorm(scores, cohort_test, test_sel)
        n_e, b = scores.shape
        z_sums = (test_sel @ self._cec_t_ext).T  # (2 N_e x B): stats of Cec[p, I_q]
        mu_z, sd_z = mean_std(z_sums[:n_e], z_sums[n_e:], self.k)
        t_sums = self.enroll_sel @ np.hstack([cohort_test, cohort_test * cohort_test])  # stats of Cte[J_p, q]
        mu_t, sd_t = mean_std(t_sums[:, :b], t_sums[:, b:], self.k)
        return ((scores - mu_z) / sd_z + (scores - mu_t) / sd_t) / np.sqrt(2.0)

    def _asnorm(self, scores: np.ndarray, cohort_test: np.ndarray, test_sel: sparse.csr_matrix) -> np.ndarray:
        mu_z, sd_z = self._z_stats
        sums = np.asarray(test_sel.multiply(cohort_test.T).sum(axis=1))[:, 0]
        sq_sums = np.asarray(test_sel.multiply(cohort_test.T ** 2).sum(axis=1))[:, 0]
        mu_t, sd_t = mean_std(sums, sq_sums, self.k)
        return ((scores - mu_z[:, None]) / sd_z[:, None] + (scores - mu_t[None, :]) / sd_t[None, :]) / 2.0

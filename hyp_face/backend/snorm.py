"""Adaptive symmetric score normalisation at face (or cluster) level (docs/original_recipe.md §6.5).

``faithful`` reproduces the original's cross selection: the z term of (p, q) takes the statistics of the
enrollment-vs-cohort scores over the cohort subset closest to the *test* vector q, the t term those of the
cohort-vs-test scores over the subset closest to the *enrollment* vector p; (z + t) / sqrt(2).
``asnorm`` is the textbook adaptive s-norm: each side's statistics over its own top cohort; (z + t) / 2.

Cohort ranking rule (ties): descending score, equal scores ordered by *larger* cohort index first (the reverse of a
stable ascending argsort, which is what the original gives under numpy 2.x). Ranks ``discard .. discard+K-1`` are
kept, ``K = min(ncoh, N_cohort - discard)``.

The faithful statistics need, for every (p, q), sums over K cohort scores. The t side (cohort subset J_p of each
enrollment vector, fixed) is a dense product with the 0/1 matrix of J_p, which BLAS runs faster than a sparse
product over the transposed block. The z side (subset I_q of each test vector, new for every block) is one sparse
selection sum over the squared Cec scores and, for the first moments, either the Cec scores or, when N_e > D, the
embeddings: sum over c in I_q of cos(e_p, z_c) = e_p . (sum over c in I_q of z_c) for unit vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import NumpyEngine, TorchEngine
from .ops import l2_normalize

STD_FLOOR = 1e-5
MODES = ("none", "faithful", "asnorm")


def mean_std(sums: Any, sq_sums: Any, k: int) -> tuple[Any, Any]:
    """Mean and floored population std from sums and sums of squares over ``k`` values (numpy or torch)."""
    mean = sums / k
    var = (sq_sums / k - mean * mean).clip(min=0.0)
    return mean, (var ** 0.5).clip(min=STD_FLOOR)


@dataclass
class SNorm:
    """S-norm against a fixed cohort for a fixed set of enrollment-side vectors.

    ``enroll_unit`` (N_e x D) holds unit-normalised enrollment vectors (``ops.l2_normalize``) and ``cohort`` the
    raw cohort faces (N_c x D); the caller scores test blocks against ``self.cohort_unit`` (or ``self.cohort``)
    and normalises them with :meth:`normalize`, which takes the cohort-vs-test scores transposed, Cte^T
    (B x N_c), so that every ranking runs along rows.
    """

    mode: str
    enroll_unit: Any
    cohort: np.ndarray
    ncoh: int
    discard: int = 0
    engine: NumpyEngine | TorchEngine = field(default_factory=NumpyEngine)

    def __post_init__(self) -> None:
        if self.mode not in MODES[1:]:
            raise ValueError(f"unknown s-norm mode {self.mode!r}; expected one of {MODES[1:]}")
        num_cohort = len(self.cohort)
        self.k = min(self.ncoh, num_cohort - self.discard)
        if self.k <= 0:
            raise ValueError(f"cohort of {num_cohort} vectors is too small for ncoh_discard={self.discard}")
        eng = self.engine
        self.enroll_unit, self.cohort_unit = eng.asarray(self.enroll_unit), eng.asarray(l2_normalize(self.cohort))
        cec = self.enroll_unit @ self.cohort_unit.T  # Cec (N_e x N_c)
        self.enroll_sel = eng.select(cec, self.discard, self.k)  # J_p
        if self.mode == "asnorm":
            self._z_stats = mean_std(*eng.own_sums(cec, self.enroll_sel), self.k)
            return
        self._enroll_mask = eng.dense(self.enroll_sel)  # J_p as 0/1 rows: the t sums are one dense product each
        self._enroll_cohort_sum = self._enroll_mask @ self.cohort_unit  # (N_e x D)
        # z sums: one selection sum per test block over [first-moment columns | Cec^2 columns]; the first moments
        # are sums of the N_e scores themselves or, when N_e > D, of the D embedding columns
        self._z_by_scores = len(cec) <= self.cohort_unit.shape[1]
        first = cec if self._z_by_scores else self.cohort_unit.T
        self._z_prep = eng.prepare([first, cec * cec])

    def normalize(self, scores: Any, test_cohort: Any, test_unit: Any | None = None) -> Any:
        """Normalise a block ``scores`` (N_e x B) given Cte^T (B x N_c) for the same test columns.

        ``test_unit`` (B x D), when Cte^T is ``test_unit @ cohort_unit.T``, lets the faithful t term take its
        first moments on the embeddings; without it (v7's attention-pooled scores) they are dense products with J_p.
        """
        eng = self.engine
        test_sel = eng.select(test_cohort, self.discard, self.k)  # I_q
        if self.mode == "asnorm":
            mu_z, sd_z = self._z_stats
            mu_t, sd_t = mean_std(*eng.own_sums(test_cohort, test_sel), self.k)
            return ((scores - mu_z[:, None]) / sd_z[:, None] + (scores - mu_t) / sd_t) / 2.0
        z_all = eng.selected_sums(test_sel, self._z_prep)  # (B x [N_e or D] + N_e)
        num_enroll = len(self.enroll_unit)
        z_first = z_all[:, :num_enroll] if self._z_by_scores else z_all[:, :-num_enroll] @ self.enroll_unit.T
        mu_z, sd_z = mean_std(z_first.T, z_all[:, -num_enroll:].T, self.k)
        if test_unit is None:
            t_sums = (test_cohort @ self._enroll_mask.T).T
        else:
            t_sums = self._enroll_cohort_sum @ test_unit.T
        t_sq_sums = ((test_cohort * test_cohort) @ self._enroll_mask.T).T
        mu_t, sd_t = mean_std(t_sums, t_sq_sums, self.k)
        return ((scores - mu_z) / sd_z + (scores - mu_t) / sd_t) / np.sqrt(2.0)

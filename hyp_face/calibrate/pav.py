"""Monotone non-parametric calibration: pool-adjacent-violators (PAV) LLRs, interpolated (docs/calibration.md).

PAV fits the non-decreasing map of the scores that maximises the prior-weighted likelihood of the labels.
Its bins are the segments of the ROC convex hull, so they come from ``metrics.rocch`` (vectorised) and, like
the hull, do not depend on the prior weighting: with target weight ``P / N_tar`` and non-target weight
``(1 - P) / N_non``, bin ``b`` with ``t`` targets and ``n`` non-targets has posterior odds
``P t N_non / ((1 - P) n N_tar)``, hence the LLR ``log(t / N_tar) - log(n / N_non)`` for every ``P``.

Bounded ends (Laplace's rule, as Bosaris' ``opt_loglr``): one target and one non-target are added at
``-inf`` and at ``+inf`` before PAV, so the lowest bin holds a target and the highest a non-target, and every
LLR is finite, within ``[-log(N_tar + 2), log(N_non + 2)]``.

Between bins: the map is the bin's LLR over the range of the bin's training scores (knots at both ends of it),
linear across the gap between two bins, and the end bins' LLRs beyond them. So it is exact on the training
scores, continuous and non-decreasing. (Knots at the bins' middles instead smooth more but contradict a wide
bin's own LLR; with few targets that misplaces the threshold: docs/calibration.md.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from hyp_face.calibrate.model_io import JsonModel
from hyp_face.calibrate.summary import training_summary
from hyp_face.metrics.rocch import rocch, sort_scores

@dataclass(frozen=True)
class PavBins:
    """PAV bins of training scores, ascending: score range ``[lo, hi]``, counts, LLR."""

    lo: np.ndarray
    hi: np.ndarray
    n_target: np.ndarray
    n_nontarget: np.ndarray
    llr: np.ndarray


def pav_bins(tar: np.ndarray, non: np.ndarray) -> PavBins:
    """PAV bins of finite target and non-target scores, with the Laplace pseudo-trials at +-inf.

    Counts include the pseudo-trials; a bin of pseudo-trials only (no training score) is left out.
    """
    tar, non = sort_scores(tar, non)
    if not (np.isfinite(tar).all() and np.isfinite(non).all()):
        raise ValueError("training scores must be finite")
    inf = np.array([np.inf])
    hull = rocch(np.concatenate((-inf, tar, inf)), np.concatenate((-inf, non, inf)))
    n_tar, n_non = hull.n_tar, hull.n_non  # with the 2 + 2 pseudo-trials
    t = np.diff(hull.miss)
    n = -np.diff(hull.fa)
    # real scores below each hull vertex (ties are never split by a vertex, so this is a cut of the sorted scores)
    below = np.clip(hull.miss - 1, 0, len(tar)) + np.clip(n_non - hull.fa - 1, 0, len(non))
    start, stop = below[:-1], below[1:]
    real = stop > start
    merged = np.sort(np.concatenate((tar, non)))
    return PavBins(
        lo=merged[start[real]],
        hi=merged[stop[real] - 1],
        n_target=t[real],
        n_nontarget=n[real],
        llr=np.log(t[real] / n_tar) - np.log(n[real] / n_non),
    )


@dataclass
class PavCalibration(JsonModel):
    """Non-decreasing piecewise-linear map of scores to LLRs through the knots ``(knot_score, knot_llr)``."""

    KIND: ClassVar[str] = "pav_calibration"

    knot_score: list[float]
    knot_llr: list[float]
    p_target: float = 0.05
    train: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.asarray(self.knot_score, dtype=np.float64)
        y = np.asarray(self.knot_llr, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
            raise ValueError(f"need equally long non-empty knot lists, got {x.shape} and {y.shape}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("knots must be finite")
        if (np.diff(x) <= 0).any() or (np.diff(y) < 0).any():
            raise ValueError("knot scores must increase and knot LLRs must not decrease")

    @property
    def name(self) -> str:
        return "pav"

    def describe(self) -> str:
        """One line for the log."""
        return (f"pav: {len(self.knot_score)} knots, scores {self.knot_score[0]:.6g}..{self.knot_score[-1]:.6g}, "
                f"LLRs {self.knot_llr[0]:.4f}..{self.knot_llr[-1]:.4f}")

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        if np.isnan(s).any():
            raise ValueError("scores contain NaN")
        return np.interp(s, self.knot_score, self.knot_llr)


def train_pav_calibration(scores: np.ndarray, is_target: np.ndarray, p_target: float = 0.05) -> PavCalibration:
    """PAV calibration of training scores; ``p_target`` only sets the operating point of the training summary."""
    scores = np.asarray(scores, dtype=np.float64)
    is_target = np.asarray(is_target, dtype=bool)
    bins = pav_bins(scores[is_target], scores[~is_target])
    knot_score = np.column_stack((bins.lo, bins.hi)).ravel()
    knot_llr = np.repeat(bins.llr, 2)
    keep = np.concatenate(([True], knot_score[1:] > knot_score[:-1]))  # a bin of one score value: one knot
    cal = PavCalibration(knot_score[keep].tolist(), knot_llr[keep].tolist(), p_target)
    cal.train = training_summary(cal, scores, is_target, p_target)
    return cal

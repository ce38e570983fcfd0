"""Metrics of scores used as log-likelihood ratios: actual DCF at the Bayes threshold and Cllr."""

from __future__ import annotations

import numpy as np

from hyp_face.metrics.rocch import normalized_cost


def bayes_threshold(p_target: float) -> float:
    """Bayes decision threshold on LLRs, computed as ``-log(P) + log(1-P)`` exactly as the original."""
    return float(-np.log(p_target) + np.log(1 - p_target))


def act_dcf(tar_sorted: np.ndarray, non_sorted: np.ndarray, p_target: float) -> float:
    """Actual normalised DCF: miss = tar < theta, false alarm = non >= theta (ties accept)."""
    theta = bayes_threshold(p_target)
    p_miss = np.searchsorted(tar_sorted, theta, side="left") / len(tar_sorted)
    p_fa = (len(non_sorted) - np.searchsorted(non_sorted, theta, side="left")) / len(non_sorted)
    return float(normalized_cost(p_target, p_miss, p_fa))


def cllr(tar: np.ndarray, non: np.ndarray) -> float:
    """Log-likelihood-ratio cost (bits) at prior 0.5."""
    tar_cost = np.logaddexp(0.0, -np.asarray(tar, dtype=np.float64)).mean()
    non_cost = np.logaddexp(0.0, np.asarray(non, dtype=np.float64)).mean()
    return float((tar_cost + non_cost) / (2 * np.log(2)))

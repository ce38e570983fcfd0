"""Prior-weighted linear logistic regression, solved exactly with Newton's method (docs/original_recipe.md §7.1).

Minimises, over ``theta = (w, b')``,
``(P/N_tar) sum_tar log(1+exp(-z)) + ((1-P)/N_non) sum_non log(1+exp(z)) + (lambda/2)|theta|^2``
with ``z = x.w + b'`` (the bias is regularised too, like liblinear with intercept scaling 1), then
shifts the bias ``b = b' - logit(P)`` so that ``x.w + b`` is a log-likelihood ratio.

The original used scikit-learn's liblinear, which stops at ``tol = 1e-4`` (parameters within ~1e-4
relative of this minimiser); Newton's method here converges to ~1e-12 relative, which is what liblinear
gives with ``tol = 1e-10``.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.special import expit

log = logging.getLogger(__name__)


def logit(p: float) -> float:
    """``log(p / (1 - p))``."""
    return float(np.log(p) - np.log1p(-p))


def _objective(theta: np.ndarray, x1: np.ndarray, sign: np.ndarray, weights: np.ndarray, l2_reg: float) -> float:
    """Weighted cross-entropy plus L2 penalty; ``sign`` is +1 for targets, -1 for non-targets."""
    return float(weights @ np.logaddexp(0.0, -sign * (x1 @ theta)) + 0.5 * l2_reg * theta @ theta)


def fit_prior_weighted_lr(
    x: np.ndarray,
    is_target: np.ndarray,
    p_target: float = 0.05,
    l2_reg: float = 1e-5,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> tuple[np.ndarray, float]:
    """Fit ``llr = x.w + b`` on scores ``x`` (N,) or (N,D); returns ``(w (D,), b)`` with b already shifted."""
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    is_target = np.asarray(is_target, dtype=bool)
    n_tar, n_non = int(is_target.sum()), int((~is_target).sum())
    if n_tar == 0 or n_non == 0:
        raise ValueError(f"need targets and non-targets to train, got {n_tar} and {n_non}")
    if not np.isfinite(x).all():
        raise ValueError("training scores must be finite")
    x1 = np.hstack((x, np.ones((len(x), 1))))
    sign = np.where(is_target, 1.0, -1.0)
    weights = np.where(is_target, p_target / n_tar, (1 - p_target) / n_non)
    theta = np.zeros(x1.shape[1])
    f = _objective(theta, x1, sign, weights, l2_reg)
    prev_size = np.inf
    for it in range(max_iter):
        sigma = expit(x1 @ theta)
        grad = x1.T @ (weights * (sigma - (sign > 0))) + l2_reg * theta
        hess = (x1 * (weights * sigma * (1 - sigma))[:, None]).T @ x1 + l2_reg * np.eye(len(theta))
        step = np.linalg.solve(hess, grad)
        size = np.max(np.abs(step)) / (1 + np.max(np.abs(theta)))
        if size <= tol or (size < 1e-8 and size >= prev_size):  # converged, or at the float noise floor
            break
        prev_size = size
        alpha = 1.0
        while True:  # backtracking; near the optimum f is flat to rounding and the full step is taken
            cand = theta - alpha * step
            f_cand = _objective(cand, x1, sign, weights, l2_reg)
            if f_cand <= f + 1e-14 * abs(f) or alpha < 1e-10:
                break
            alpha *= 0.5
        theta, f = cand, f_cand
    else:
        log.warning("logistic regression: Newton did not converge in %d iterations", max_iter)
    log.debug("logistic regression converged in %d Newton iterations, objective %.15g", it, f)
    return theta[:-1], float(theta[-1] - logit(p_target))

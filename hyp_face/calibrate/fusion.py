"""Greedy forward fusion of score files with prior-weighted logistic regression (docs/original_recipe.md §7.3).

Step i fits, for every system not yet selected, a logistic regression on [selected + candidate], measures
the actual DCF (mean over the evaluation priors) of the fused LLRs on the training trials and keeps the best
candidate, preferring candidates whose fusion weights are all positive. The best 1-, 2-, ... system
fusions are stored; fusion ``j`` (0-based) combines ``j + 1`` systems.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import numpy as np

from hyp_face.calibrate.logreg import fit_prior_weighted_lr
from hyp_face.calibrate.model_io import load_model, save_model
from hyp_face.metrics.dcf import act_dcf
from hyp_face.metrics.rocch import min_dcf, rocch, sort_scores

log = logging.getLogger(__name__)
KIND = "greedy_fusion"


@dataclass
class Fusion:
    """One fusion: ``llr = scores[:, systems] @ weights + bias``, with its training costs."""

    systems: list[int]
    weights: list[float]
    bias: float
    min_dcf: float
    act_dcf: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Fuse a (N, num_systems) matrix whose columns follow the training system order."""
        return scores[:, self.systems] @ np.asarray(self.weights) + self.bias


@dataclass
class GreedyFusion:
    """The best fusions of 1..max_systems systems chosen greedily."""

    system_names: list[str]
    p_target: float
    l2_reg: float
    p_eval: list[float]
    fusions: list[Fusion]

    def save(self, path: str | os.PathLike) -> None:
        save_model(path, KIND, asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GreedyFusion":
        model = load_model(path, KIND)
        try:
            fusions = [Fusion(**f) for f in model["fusions"]]
            return cls(model["system_names"], model["p_target"], model["l2_reg"], model["p_eval"], fusions)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path}: bad {KIND} model: {e}") from e


def _costs(llr: np.ndarray, is_target: np.ndarray, p_eval: list[float]) -> tuple[float, float]:
    """Mean min and act normalised DCF over ``p_eval``."""
    tar, non = sort_scores(llr[is_target], llr[~is_target])
    hull = rocch(tar, non)
    return (
        float(np.mean([min_dcf(hull, p) for p in p_eval])),
        float(np.mean([act_dcf(tar, non, p) for p in p_eval])),
    )


def _best_candidate(fits: list[Fusion]) -> Fusion:
    """Lowest act DCF, among all-positive-weight fusions if there is one."""
    positive = [f for f in fits if all(w > 0 for w in f.weights)]
    return min(positive or fits, key=lambda f: f.act_dcf)


def train_greedy_fusion(
    scores: np.ndarray,
    is_target: np.ndarray,
    system_names: list[str],
    max_systems: int = 5,
    p_target: float = 0.05,
    l2_reg: float = 1e-5,
    p_eval: list[float] | None = None,
) -> GreedyFusion:
    """Greedy forward selection on a (N, num_systems) training score matrix."""
    p_eval = list(p_eval or [p_target])
    selected: list[int] = []
    fusions: list[Fusion] = []
    for _ in range(min(max_systems, scores.shape[1])):
        fits = []
        for cand in (j for j in range(scores.shape[1]) if j not in selected):
            systems = selected + [cand]
            w, b = fit_prior_weighted_lr(scores[:, systems], is_target, p_target, l2_reg)
            fusion = Fusion(systems, w.tolist(), b, *_costs(scores[:, systems] @ w + b, is_target, p_eval))
            log.info("candidate %s: min_dcf=%.4f act_dcf=%.4f", "+".join(system_names[i] for i in systems),
                     fusion.min_dcf, fusion.act_dcf)
            fits.append(fusion)
        best = _best_candidate(fits)
        selected = best.systems
        fusions.append(best)
        log.info("best fusion of %d: %s weights=%s bias=%.6f min_dcf=%.4f act_dcf=%.4f", len(selected),
                 "+".join(system_names[i] for i in selected), best.weights, best.bias, best.min_dcf, best.act_dcf)
    return GreedyFusion(list(system_names), p_target, l2_reg, p_eval, fusions)

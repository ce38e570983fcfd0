"""Linear score calibration ``llr = a*s + b`` (spec 7.1-7.2)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from hyp_face.calibrate.logreg import fit_prior_weighted_lr
from hyp_face.calibrate.model_io import load_model, save_model
from hyp_face.metrics.dcf import act_dcf
from hyp_face.metrics.rocch import min_dcf, rocch, sort_scores

KIND = "linear_calibration"


@dataclass
class LinearCalibration:
    """An affine map of raw scores to log-likelihood ratios, with its training summary."""

    a: float
    b: float
    p_target: float = 0.05
    l2_reg: float = 1e-5
    train: dict = field(default_factory=dict)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(scores, dtype=np.float64) + self.b

    def save(self, path: str | os.PathLike) -> None:
        save_model(path, KIND, asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LinearCalibration":
        model = load_model(path, KIND)
        try:
            return cls(**{k: v for k, v in model.items() if k != "type"})
        except TypeError as e:
            raise ValueError(f"{path}: bad {KIND} model: {e}") from e


def train_calibration(
    scores: np.ndarray, is_target: np.ndarray, p_target: float = 0.05, l2_reg: float = 1e-5
) -> LinearCalibration:
    """Fit the prior-weighted logistic regression; record min DCF before and act DCF after on the training set."""
    w, b = fit_prior_weighted_lr(scores, is_target, p_target, l2_reg)
    cal = LinearCalibration(a=float(w[0]), b=b, p_target=p_target, l2_reg=l2_reg)
    tar, non = sort_scores(cal(scores[is_target]), cal(scores[~is_target]))
    cal.train = {
        "n_target": len(tar),
        "n_nontarget": len(non),
        "min_dcf_before": min_dcf(rocch(*sort_scores(scores[is_target], scores[~is_target])), p_target),
        "act_dcf_after": act_dcf(tar, non, p_target),
    }
    return cal

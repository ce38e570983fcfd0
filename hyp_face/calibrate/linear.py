"""Linear score calibration ``llr = a*s + b`` (docs/original_recipe.md §7.1-7.2), and its variant on a transformed score
``llr = a*T(s) + b`` for cosines that crowd below 1 (docs/calibration.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from hyp_face.calibrate.logreg import fit_prior_weighted_lr
from hyp_face.calibrate.model_io import JsonModel
from hyp_face.calibrate.summary import training_summary
from hyp_face.calibrate.transforms import TRANSFORMS, transform_cosines


@dataclass
class LinearCalibration(JsonModel):
    """An affine map of raw scores to log-likelihood ratios, with its training summary."""

    KIND: ClassVar[str] = "linear_calibration"

    a: float
    b: float
    p_target: float = 0.05
    l2_reg: float = 1e-5
    train: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The model name of ``train_calibration --model``."""
        return "linear"

    def describe(self) -> str:
        """One line for the log."""
        return f"{self.name}: a={self.a:.12g} b={self.b:.12g} lambda={self.l2_reg:g}"

    def features(self, scores: np.ndarray) -> np.ndarray:
        """The scores the affine map applies to."""
        return np.asarray(scores, dtype=np.float64)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return self.a * self.features(scores) + self.b


@dataclass
class TransformedLinearCalibration(LinearCalibration):
    """``llr = a*T(s) + b`` with ``T`` a monotone transform of cosine scores (``transforms.TRANSFORMS``)."""

    KIND: ClassVar[str] = "transformed_linear_calibration"

    transform: str = "atanh"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"unknown score transform {self.transform!r}, expected one of {sorted(TRANSFORMS)}")

    @property
    def name(self) -> str:
        return f"linear_{self.transform}"

    def features(self, scores: np.ndarray) -> np.ndarray:
        return transform_cosines(self.transform, scores)


def train_calibration(
    scores: np.ndarray,
    is_target: np.ndarray,
    p_target: float = 0.05,
    l2_reg: float = 1e-5,
    transform: str | None = None,
) -> LinearCalibration:
    """Fit the prior-weighted logistic regression on the scores, or on ``T(scores)`` when a transform is named;
    record min DCF before and act DCF after on the training set."""
    if transform is None:
        cal = LinearCalibration(a=0.0, b=0.0)
    else:
        cal = TransformedLinearCalibration(a=0.0, b=0.0, transform=transform)
    w, b = fit_prior_weighted_lr(cal.features(scores), is_target, p_target, l2_reg)
    cal.a, cal.b, cal.p_target, cal.l2_reg = float(w[0]), b, p_target, l2_reg
    cal.train = training_summary(cal, scores, is_target, p_target)
    return cal

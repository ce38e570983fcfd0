"""Calibration models by name: training, and loading a model file whatever its type (docs/calibration.md).

* ``linear``: ``llr = a*s + b``, the faithful model (docs/original_recipe.md §7.1); the default.
* ``linear_atanh``, ``linear_neglog1m``: ``llr = a*T(s) + b`` on a monotone transform of cosine scores.
* ``pav``: monotone non-parametric (PAV) calibration, for any score.
"""

from __future__ import annotations

import os

import numpy as np

from hyp_face.calibrate.linear import LinearCalibration, TransformedLinearCalibration, train_calibration
from hyp_face.calibrate.model_io import read_model
from hyp_face.calibrate.pav import PavCalibration, train_pav_calibration
from hyp_face.calibrate.transforms import TRANSFORMS

Calibration = LinearCalibration | PavCalibration
_TRANSFORM_OF = {"linear": None, **{f"linear_{t}": t for t in TRANSFORMS}}  # logistic-regression models
MODELS = (*_TRANSFORM_OF, "pav")
_CLASSES = {cls.KIND: cls for cls in (LinearCalibration, TransformedLinearCalibration, PavCalibration)}


def check_model_name(name: str) -> str:
    """``name`` if it is a calibration model, else a ValueError listing them."""
    if name not in MODELS:
        raise ValueError(f"unknown calibration model {name!r}, expected one of {', '.join(MODELS)}")
    return name


def train_named_calibration(
    name: str, scores: np.ndarray, is_target: np.ndarray, p_target: float = 0.05, l2_reg: float = 1e-5
) -> Calibration:
    """Train calibration model ``name`` (``l2_reg`` applies to the logistic-regression models)."""
    if check_model_name(name) == "pav":
        return train_pav_calibration(scores, is_target, p_target)
    return train_calibration(scores, is_target, p_target, l2_reg, transform=_TRANSFORM_OF[name])


def load_calibration(path: str | os.PathLike, expected: str | None = None) -> Calibration:
    """Load any calibration model file; with ``expected``, a model of another name is an error."""
    model = read_model(path)
    cls = _CLASSES.get(model.get("type"))
    if cls is None:
        raise ValueError(f"{path}: not a calibration model: type {model.get('type')!r}, expected one of "
                         f"{sorted(_CLASSES)}")
    cal = cls.from_dict(path, model)
    if expected is not None and cal.name != check_model_name(expected):
        raise ValueError(f"{path}: a {cal.name!r} calibration, expected {expected!r}")
    return cal

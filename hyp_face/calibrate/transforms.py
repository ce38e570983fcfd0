"""Monotone transforms of cosine scores for linear calibration on a stretched scale (docs/calibration.md).

dlib-like embedders put target and non-target cosines in a narrow band below 1. Both transforms are
increasing on [-1, 1] and stretch the neighbourhood of 1, where a straight line on the raw cosine misplaces
the threshold:

* ``atanh``: ``atanh(s) = log((1 + s) / (1 - s)) / 2``, i.e. half the logit of the rescaled cosine ``(1 + s) / 2``.
* ``neglog1m``: ``-log(1 - s)``, i.e. ``-2 log`` of the Euclidean distance of unit vectors (plus ``log 2``).

Scores must be cosines (raw back-end scores, not s-norm z-scores); they are clipped to
``[-1 + EPS, 1 - EPS]`` so that rounding (``cos = 1.0000001``) stays finite.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

EPS = 1e-6
#: Cosines this far outside [-1, 1] are float rounding; farther ones are not cosines.
TOLERANCE = 1e-3

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "atanh": np.arctanh,
    "neglog1m": lambda s: -np.log1p(-s),
}


def transform_cosines(name: str, scores: np.ndarray) -> np.ndarray:
    """Apply transform ``name`` to cosine ``scores``; a NaN or a score outside [-1, 1] is a ValueError."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown score transform {name!r}, expected one of {sorted(TRANSFORMS)}")
    s = np.asarray(scores, dtype=np.float64)
    bad = np.isnan(s) | (np.abs(s) > 1 + TOLERANCE)
    if bad.any():
        raise ValueError(
            f"the {name} transform needs cosine scores in [-1, 1], found {float(s[bad][0])!r} ({int(bad.sum())} such "
            "scores): s-norm or other unbounded scores need the 'linear' or 'pav' calibration"
        )
    return TRANSFORMS[name](np.clip(s, -1 + EPS, 1 - EPS))

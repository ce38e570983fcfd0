"""Training summary of a calibration model, stored in its file."""

from __future__ import annotations

from typing import Callable

import numpy as np

from hyp_face.metrics.dcf import act_dcf
from hyp_face.metrics.rocch import min_dcf, rocch, sort_scores


def training_summary(
    calibrate: Callable[[np.ndarray], np.ndarray], scores: np.ndarray, is_target: np.ndarray, p_target: float
) -> dict:
    """Trial counts, min DCF of the raw scores and act DCF of their calibrated LLRs, at ``p_target``."""
    tar, non = sort_scores(calibrate(scores[is_target]), calibrate(scores[~is_target]))
    return {
        "n_target": len(tar),
        "n_nontarget": len(non),
        "min_dcf_before": min_dcf(rocch(*sort_scores(scores[is_target], scores[~is_target])), p_target),
        "act_dcf_after": act_dcf(tar, non, p_target),
    }

"""Evaluation of a target/non-target score split: all metrics, the original results line and its JSON."""

from __future__ import annotations

import json
import os

import numpy as np

from hyp_face.io.table import atomic_write
from hyp_face.metrics.dcf import act_dcf, cllr
from hyp_face.metrics.rocch import min_cllr, min_dcf, rocch, rocch_eer, sort_scores

#: Operating points of the results line, in its order (docs/original_recipe.md §8.1).
PRIORS = (0.05, 0.01, 0.005, 0.001)


def evaluate(tar: np.ndarray, non: np.ndarray, priors=PRIORS) -> dict:
    """ROCCH-EER (%), min/act normalised DCF per prior, Cllr, min Cllr and trial counts."""
    tar_sorted, non_sorted = sort_scores(tar, non)
    hull = rocch(tar_sorted, non_sorted)
    return {
        "eer_percent": 100.0 * rocch_eer(hull),
        "min_dcf": {str(p): min_dcf(hull, p) for p in priors},
        "act_dcf": {str(p): act_dcf(tar_sorted, non_sorted, p) for p in priors},
        "cllr": cllr(tar_sorted, non_sorted),
        "min_cllr": min_cllr(hull),
        "n_target": len(tar_sorted),
        "n_nontarget": len(non_sorted),
    }


def prior_label(p: float) -> str:
    """``0.05`` -> ``5e-2`` as in the original results line."""
    mantissa, exponent = f"{p:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def results_line(res: dict, priors=PRIORS) -> str:
    """The original one-line summary: ``EER: x DCF5e-2: min / act DCF1e-2: ...`` (no newline)."""
    dcfs = " ".join(
        f"DCF{prior_label(p)}: {res['min_dcf'][str(p)]:.3f} / {res['act_dcf'][str(p)]:.3f}" for p in priors
    )
    return f"EER: {res['eer_percent']:.2f} {dcfs}"


def write_results(prefix: str | os.PathLike, res: dict) -> None:
    """Write ``<prefix>_results`` (the results line and a newline) and ``<prefix>_results.json``."""
    with atomic_write(f"{prefix}_results") as f:
        f.write(results_line(res) + "\n")
    with atomic_write(f"{prefix}_results.json") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

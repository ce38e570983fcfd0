"""Score-level fusion of modalities (face, voice) on the same trials: the missing-trial policy and the equal-weight
mean of calibrated LLRs (Tao et al. 2022 fuse (audio + face) / 2; here on LLRs, so both scales agree).

A trial scored by one modality only is never dropped silently. ``missing``:

* ``error`` (default): stop, naming the trial, the file that lacks it and how many are missing;
* ``single``: the modality that has the trial stands alone (its LLR fills the other's);
* ``neutral``: the missing modality counts as no evidence (LLR 0).

A trial missing from every modality is always an error.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from hyp_face.metrics.scores import Trials, read_scores

log = logging.getLogger(__name__)
POLICIES = ("error", "single", "neutral")


class MissingTrialError(ValueError):
    """A trial that a modality did not score (under ``--missing error``)."""


def modality_matrix(trials: Trials, score_files: Sequence[str | os.PathLike], missing: str = "error") -> np.ndarray:
    """(N trials, M files) scores in trial order, the gaps filled by the ``missing`` policy."""
    if missing not in POLICIES:
        raise ValueError(f"unknown --missing policy {missing!r}; expected one of {', '.join(POLICIES)}")
    pairs = list(zip(trials.models, trials.tests))
    columns = []
    for path in score_files:
        table = read_scores(path)
        columns.append(np.fromiter((table.get(p, np.nan) for p in pairs), np.float64, len(pairs)))
    scores = np.column_stack(columns)
    gaps = np.isnan(scores)
    for j, path in enumerate(score_files):
        if gaps[:, j].any():
            i = int(np.flatnonzero(gaps[:, j])[0])
            message = (f"{path}: no score for trial {trials.models[i]} {trials.tests[i]} "
                       f"({int(gaps[:, j].sum())} of {len(pairs)} trials missing)")
            if missing == "error" or gaps[i].all():
                raise MissingTrialError(message + ("" if missing == "error" else " in any modality"))
            log.warning("%s: --missing %s", message, missing)
    none = np.flatnonzero(gaps.all(axis=1))
    if none.size:
        i = int(none[0])
        raise MissingTrialError(f"trial {trials.models[i]} {trials.tests[i]} has no score in any of "
                                f"{', '.join(map(str, score_files))} ({none.size} such trials)")
    if missing == "single":
        fill = np.nanmean(scores, axis=1)  # with two modalities: the other one's LLR
        return np.where(gaps, fill[:, None], scores)
    return np.where(gaps, 0.0, scores)


def mean_fusion(scores: np.ndarray) -> np.ndarray:
    """Equal-weight mean over the modalities (columns)."""
    return np.asarray(scores, np.float64).mean(axis=1)

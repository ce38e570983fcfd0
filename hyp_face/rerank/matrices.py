"""Re-ranking of on-disk score matrices (format: ``hyp_face.metrics.score_matrix``).

    METHODS = {"k_reciprocal": k_reciprocal, "ecn": ecn}
    rerank_matrices(qg, qq, gg, algorithm, params) -> ScoreMatrix   # kind "distance", keys of qg
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from hyp_face.metrics.score_matrix import ScoreMatrix
from hyp_face.rerank.ecn import ecn
from hyp_face.rerank.kreciprocal import k_reciprocal

METHODS = {"k_reciprocal": k_reciprocal, "ecn": ecn}


def _check_keys(qg: ScoreMatrix, qq: ScoreMatrix, gg: ScoreMatrix) -> None:
    """ValueError unless qq is queries x queries and gg gallery x gallery, keyed as qg, all similarities."""
    for name, m in (("query x gallery", qg), ("query x query", qq), ("gallery x gallery", gg)):
        if m.kind != "similarity":
            raise ValueError(f"{name} matrix holds {m.kind} scores; re-ranking needs similarities")
    for name, keys, expected in (("query x query rows", qq.row_keys, qg.row_keys),
                                 ("query x query columns", qq.col_keys, qg.row_keys),
                                 ("gallery x gallery rows", gg.row_keys, qg.col_keys),
                                 ("gallery x gallery columns", gg.col_keys, qg.col_keys)):
        if not np.array_equal(keys, expected):
            raise ValueError(f"{name} are not the keys of the query x gallery matrix in the same order")


def rerank_matrices(qg: ScoreMatrix, qq: ScoreMatrix, gg: ScoreMatrix, algorithm: str,
                    params: Mapping[str, Any]) -> ScoreMatrix:
    """Re-ranked query x gallery distances of ``algorithm`` (a key of METHODS) with its keyword ``params``."""
    if algorithm not in METHODS:
        raise ValueError(f"unknown re-ranking method {algorithm!r}; known: {sorted(METHODS)}")
    _check_keys(qg, qq, gg)
    dist = METHODS[algorithm](qg.scores, qq.scores, gg.scores, **params)
    return ScoreMatrix(dist, qg.row_keys, qg.col_keys, "distance")

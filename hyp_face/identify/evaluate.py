"""The figures of a scored protocol, with and without re-ranking, and the choice of re-ranking parameters.

Per kind (metrics from :mod:`hyp_face.metrics.identification`):

* ``closed``: CMC over gallery identities (Rank-1/5/10) and the mAP of the probes over gallery items;
* ``open``: DIR (and FNIR) at FPIR 1e-3, 1e-2, 1e-1, and the DIR-vs-FPIR curve;
* ``idrate``: TPR over query pairs at FPR 1e-2, 1e-3, 1e-4 (the ID rate), and ROC-AUC;
* ``search``: mAP and Rank-1/5/10 over gallery items (relevant = the ``relevant`` file), and the CMC curve.

Re-ranking (``closed`` and ``search``: query x gallery, query x query and gallery x gallery similarities in, a
distance out, :mod:`hyp_face.rerank`) is reported with the paper's parameters and with the ones chosen on the dev
half of the query identities (``sha256('dev:' + identity)`` even): over a small grid, the best dev mAP among the
settings that keep the dev Rank-1 of no re-ranking (re-ranking is for the list below the first hit, and a setting
that buys mAP with Rank-1 is not what a searcher wants), the best dev mAP overall if none does, the first in grid
order on a tie. Each setting gives mAP and Rank-k over all queries, and mAP and Rank-1 over each half.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from hyp_face.metrics import identification as idm
from hyp_face.rerank.matrices import METHODS

from .protocols import DEV_SALT, Protocol, first_half

log = logging.getLogger(__name__)

RANKS = (1, 5, 10)
FPIRS = (1e-3, 1e-2, 1e-1)
FPRS = (1e-2, 1e-3, 1e-4)
CURVE_RANKS = 50  # length of the CMC curves drawn
CURVE_FPIRS = 40  # points of the DIR-vs-FPIR curve


@dataclass(frozen=True)
class Reranker:
    """A re-ranking setting family: its algorithm (a key of :data:`hyp_face.rerank.matrices.METHODS`, called as
    ``f(sim_qg, sim_qq, sim_gg, **params) -> distance``), the paper's parameters and the grid searched on the dev
    half."""

    name: str
    algorithm: str
    paper: Mapping[str, float]
    grid: Mapping[str, tuple]

    def __call__(self, s_qg: np.ndarray, s_qq: np.ndarray, s_gg: np.ndarray, **params) -> np.ndarray:
        return METHODS[self.algorithm](s_qg, s_qq, s_gg, **params)

    def settings(self) -> list[dict]:
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*(self.grid[n] for n in names))]


RERANKERS = (
    Reranker("k_reciprocal", "k_reciprocal", {"k1": 20, "k2": 6, "lam": 0.3},
             {"k1": (5, 10, 20), "k2": (1, 3, 6), "lam": (0.1, 0.3, 0.5)}),
    Reranker("ecn", "ecn", {"t": 3, "q": 8, "k": 25}, {"t": (2, 3), "q": (4, 8), "k": (10, 25)}),
    Reranker("ecn_dist", "ecn", {"t": 3, "q": 8, "method": "dist"},
             {"t": (2, 3), "q": (4, 8), "method": ("dist",)}),
)


@dataclass
class Scored:
    """A protocol's score matrices (similarities), the item ids of each role (the matrices' row and column
    order) and the identity label of each item."""

    protocol: Protocol
    matrices: dict[tuple[str, str], np.ndarray]
    ids: dict[str, list[str]]
    labels: dict[str, list[str]]

    def relevance(self) -> np.ndarray:
        """(queries x gallery) relevant-item matrix of a search protocol."""
        pos = {g: j for j, g in enumerate(self.ids["gallery"])}
        rel = np.zeros((len(self.ids["query"]), len(pos)), dtype=bool)
        for i, q in enumerate(self.ids["query"]):
            rel[i, [pos[g] for g in self.protocol.relevant[q]]] = True
        return rel


def dev_rows(labels: list[str]) -> np.ndarray:
    """Rows whose identity is in the dev half."""
    return np.array([first_half(x, DEV_SALT) for x in labels], dtype=bool)


def retrieval(scores: np.ndarray, relevant: np.ndarray, dev: np.ndarray) -> dict:
    """mAP and Rank-k over all queries; mAP and Rank-1 over the dev and the held-out (non-dev) ones."""
    res = idm.retrieval_map_relevance(scores, relevant, RANKS)
    out = {"map": res["map"], "rank": res["rank"], "cmc": cmc_curve(res["first_hit"], scores.shape[1])}
    for half, rows in (("dev", dev), ("heldout", ~dev)):
        out[f"map_{half}"] = float(res["ap"][rows].mean()) if rows.any() else None
        out[f"rank1_{half}"] = float(np.mean(res["first_hit"][rows] == 1)) if rows.any() else None
    return out


def choose_on_dev(plain: dict, tried: list[dict]) -> dict:
    """The setting of the best dev mAP among those keeping the dev Rank-1 of ``plain`` (all if none does);
    the first on a tie."""
    keeping = [r for r in tried if (r["rank1_dev"] or 0.0) >= (plain["rank1_dev"] or 0.0)]
    return max(keeping or tried, key=lambda r: r["map_dev"] or 0.0)


def rerank_rows(s_qg: np.ndarray, s_qq: np.ndarray, s_gg: np.ndarray, relevant: np.ndarray, dev: np.ndarray,
                rerankers=RERANKERS, progress: Callable[[str], None] = log.info) -> list[dict]:
    """One row per (method, setting): none, then each re-ranker with the paper's and the dev-chosen parameters."""
    rows = [{"method": "none", "setting": "", "params": {}, **retrieval(s_qg, relevant, dev)}]
    for rr in rerankers:
        tried: dict[str, dict] = {}
        grid = {repr(sorted(p.items())): p for p in (dict(rr.paper), *rr.settings())}  # the paper's may be in the grid
        for k, (key, params) in enumerate(grid.items(), 1):
            tried[key] = {"params": params, **retrieval(-rr(s_qg, s_qq, s_gg, **params), relevant, dev)}
            dev_map = tried[key]["map_dev"]
            progress(f"{rr.name} setting {k}/{len(grid)} {params}: dev mAP "
                     + ("-" if dev_map is None else f"{dev_map:.4f}"))
        paper = tried[repr(sorted(dict(rr.paper).items()))]
        best = choose_on_dev(rows[0], [tried[repr(sorted(p.items()))] for p in rr.settings()])
        rows.append({"method": rr.name, "setting": "paper", **paper})
        rows.append({"method": rr.name, "setting": "dev-chosen", **best})
    return rows


def cmc_curve(first_hit: np.ndarray, n_gallery: int) -> list[float]:
    """Share of queries with a relevant item in the top k, k = 1..CURVE_RANKS, from each query's first hit."""
    hits = np.bincount(np.minimum(first_hit, n_gallery + 1), minlength=n_gallery + 2)
    hits = hits[1:min(CURVE_RANKS, n_gallery) + 1]
    return [float(v) for v in np.cumsum(hits) / len(first_hit)]


def evaluate_closed(sc: Scored, rerankers=RERANKERS) -> dict:
    s = sc.matrices[("probe", "gallery")]
    probe, gallery = sc.labels["probe"], sc.labels["gallery"]
    cmc = idm.closed_set_cmc(s, probe, gallery)
    relevant = np.asarray(probe)[:, None] == np.asarray(gallery)[None, :]
    return {"rank": {k: idm.rank_k(cmc, k) for k in RANKS if k <= len(cmc)},
            "cmc": [float(v) for v in cmc[:CURVE_RANKS]],
            "retrieval": rerank_rows(s, sc.matrices[("probe", "probe")], sc.matrices[("gallery", "gallery")],
                                     relevant, dev_rows(probe), rerankers)}


def evaluate_open(sc: Scored) -> dict:
    s = sc.matrices[("probe", "gallery")]
    probe, gallery = sc.labels["probe"], sc.labels["gallery"]
    n_unknown = int(np.sum(~np.isin(probe, gallery)))
    res = idm.dir_at_fpir(s, probe, gallery, FPIRS)
    grid = np.logspace(np.log10(1.0 / n_unknown), 0.0, CURVE_FPIRS)
    curve = idm.dir_at_fpir(s, probe, gallery, tuple(grid))
    return {"dir": {f: r["dir"] for f, r in res.items()}, "fnir": {f: r["fnir"] for f, r in res.items()},
            "n_known": len(probe) - n_unknown, "n_unknown": n_unknown,
            "curve": {"fpir": [c["fpir_achieved"] for c in curve.values()],
                      "dir": [c["dir"] for c in curve.values()]}}


def evaluate_idrate(sc: Scored) -> dict:
    res = idm.id_rate_pairs(sc.matrices[("query", "query")], sc.labels["query"],
                            sc.matrices[("query", "distractor")], FPRS)
    return {"id_rate": res["id_rate"], "auc": res["auc"], "n_pos": res["n_pos"], "n_neg": res["n_neg"]}


def evaluate_search(sc: Scored, rerankers=RERANKERS) -> dict:
    s = sc.matrices[("query", "gallery")]
    relevant = sc.relevance()
    rows = rerank_rows(s, sc.matrices[("query", "query")], sc.matrices[("gallery", "gallery")], relevant,
                       dev_rows(sc.labels["query"]), rerankers)
    return {"rank": rows[0]["rank"], "map": rows[0]["map"], "cmc": rows[0]["cmc"], "retrieval": rows,
            "n_no_relevant": int((~relevant.any(axis=1)).sum())}


def evaluate(sc: Scored, rerankers=RERANKERS) -> dict:
    """The figures of one scored protocol (see the module docstring)."""
    kind = sc.protocol.kind
    if kind == "closed":
        return evaluate_closed(sc, rerankers)
    if kind == "open":
        return evaluate_open(sc)
    if kind == "idrate":
        return evaluate_idrate(sc)
    return evaluate_search(sc, rerankers)

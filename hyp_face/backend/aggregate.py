"""Set aggregators (issue 12): one vector per set of face embeddings, selectable per side with ``--aggregator``.

An aggregator maps an (N, D) set, and optionally its per-face metadata, to the (1, D') vector the back-end scores
with. Specifications (the ``--aggregator`` words):

* ``mean`` / ``median``: the v2 / v3 rules (:func:`ops.mean_vector`, :func:`ops.median_vector`);
* ``qmean:<quality>[:<gamma>]``: the mean weighted by ``quality ** gamma`` (default gamma 1), the quality being the
  detector ``score``, the face ``size`` (square root of the box area), the chip ``sharpness`` or the embedding
  ``norm`` before L2 normalisation, all read from the store's face metadata;
* ``pairs``: mean-of-pairs scoring, the mean cosine over all enrollment x test face pairs. It is the dot product of
  the two sets' means of unit vectors, so this aggregator returns that mean *without* re-normalising it
  (``Aggregator.unit`` False) and the scorer takes a plain dot product on that side;
* ``proxyfusion:<model.pt>[:<w>]``: a trained ProxyFusion model (:mod:`hyp_face.fusion.proxyfusion`), its gallery
  network on the enrollment side and its probe network on the test side. With a mean weight ``w`` in [0, 1) the
  output is the residual blend ``[sqrt(w) * mean, sqrt(1 - w) * proxyfusion]`` of the two unit vectors, so a score
  is ``w * cos(means) + (1 - w) * cos(ProxyFusion outputs)``.

Every output but ``pairs`` is L2-normalised; a one-element set gives its element, normalised, under every rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hyp_face.io.embed_store import FaceMeta

from . import ops

QUALITIES: dict[str, Callable[[FaceMeta], np.ndarray]] = {
    "score": lambda m: m.score,
    "size": lambda m: np.sqrt(np.clip((m.box[:, 2] - m.box[:, 0]) * (m.box[:, 3] - m.box[:, 1]), 0, None)),
    "sharpness": lambda m: m.sharpness,
    "norm": lambda m: m.norm,
}
FIXED = ("mean", "median", "pairs")
KINDS = (*FIXED, "qmean", "proxyfusion")


class AggregatorError(ValueError):
    """A bad aggregator specification or a set it cannot pool (empty, NaN, quality missing)."""


def check_set(x: np.ndarray, what: str = "set") -> np.ndarray:
    """``x`` as a float64 (N, D) matrix with N >= 1 and finite values, else an error naming ``what``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise AggregatorError(f"{what}: empty set (shape {x.shape}); an aggregator needs at least one face")
    if not np.isfinite(x).all():
        raise AggregatorError(f"{what}: NaN or infinite features")
    return x


def quality_weights(q: np.ndarray, gamma: float = 1.0, what: str = "set") -> np.ndarray:
    """Weights ``q ** gamma / sum(q ** gamma)`` (computed in the log domain); equal qualities give equal weights.

    Qualities must be finite and >= 0; a set whose qualities are all 0 gets equal weights.
    """
    q = np.asarray(q, dtype=np.float64)
    if not np.isfinite(q).all() or (q < 0).any():
        raise AggregatorError(f"{what}: qualities must be finite and >= 0 (got {q[~np.isfinite(q) | (q < 0)][:3]}); "
                              "NaN means the store predates this measure: re-extract or choose another quality")
    if not (q > 0).any():
        return np.full(len(q), 1.0 / len(q))
    logw = np.where(q > 0, gamma * np.log(np.where(q > 0, q, 1.0)), -np.inf)
    return ops.softmax_rows(logw[None])[0]


@dataclass(frozen=True)
class Aggregator:
    """A parsed ``--aggregator`` specification; ``pool`` maps one set to its (1, D') vector."""

    kind: str
    quality: str = ""
    gamma: float = 1.0
    model: object = None  # a ProxyFusionAggregator for kind "proxyfusion"
    mean_weight: float = 0.0  # proxyfusion only: the weight of the mean-pooled vector in the residual blend
    spec: str = ""

    @property
    def unit(self) -> bool:
        """Whether the output is L2-normalised (all but ``pairs``, whose scores are plain dot products)."""
        return self.kind != "pairs"

    @property
    def needs_meta(self) -> bool:
        """Whether ``pool`` reads the face metadata (a one-face set never does)."""
        return self.kind == "qmean"

    def pool(self, x: np.ndarray, meta: FaceMeta | None = None, side: str = "test", what: str = "set") -> np.ndarray:
        """The (1, D') vector of one set; ``side`` (enroll | test) picks ProxyFusion's gallery / probe network."""
        x = check_set(x, what)
        if self.kind == "pairs":
            return ops.l2_normalize(x).mean(axis=0, keepdims=True)
        if self.kind == "proxyfusion":
            return self.blend_with_mean(x, self.model.pool(x, side=side, what=what))
        if self.kind == "qmean" and len(x) > 1:
            if meta is None or len(meta) != len(x):
                raise AggregatorError(f"{what}: qmean:{self.quality} needs the face metadata of every face")
            w = quality_weights(QUALITIES[self.quality](meta), self.gamma, f"{what} ({self.quality})")
            return ops.l2_normalize(w[None] @ x)
        rule = ops.mean_vector if self.kind == "mean" else ops.median_vector
        return ops.l2_normalize(rule(x))

    def blend_with_mean(self, x: np.ndarray, fused: np.ndarray) -> np.ndarray:
        """``fused`` itself, or with a mean weight w the unit vector [sqrt(w) * mean(x), sqrt(1 - w) * fused]."""
        if not self.mean_weight:
            return fused
        mean = ops.l2_normalize(ops.mean_vector(x))
        return np.hstack([np.sqrt(self.mean_weight) * mean, np.sqrt(1.0 - self.mean_weight) * fused])


def parse_aggregator(spec: str, embedder: str | None = None) -> Aggregator:
    """The aggregator of a specification (see the module docstring); ``embedder`` is checked against a trained
    model's."""
    kind, _, rest = spec.partition(":")
    if kind in FIXED and not rest:
        return Aggregator(kind, spec=spec)
    if kind == "qmean":
        quality, _, gamma = rest.partition(":")
        if quality not in QUALITIES:
            raise AggregatorError(f"aggregator {spec!r}: quality must be one of {sorted(QUALITIES)}")
        try:
            g = float(gamma) if gamma else 1.0
        except ValueError:
            raise AggregatorError(f"aggregator {spec!r}: gamma {gamma!r} is not a number") from None
        return Aggregator(kind, quality, g, spec=spec)
    if kind == "proxyfusion" and rest:
        from hyp_face.fusion.proxyfusion import ProxyFusionAggregator  # torch only when asked for

        path, weight = split_mean_weight(spec, rest)
        if not os.path.isfile(path):
            raise AggregatorError(f"aggregator {spec!r}: no model file {path} (train one with "
                                  "python -m hyp_face.bin.train_set_fusion)")
        return Aggregator(kind, model=ProxyFusionAggregator.load(path, embedder), mean_weight=weight, spec=spec)
    raise AggregatorError(f"unknown aggregator {spec!r}; expected mean, median, pairs, qmean:<{'|'.join(QUALITIES)}>"
                          "[:gamma] or proxyfusion:<model.pt>[:mean-weight]")


def proxyfusion_model_path(spec: str) -> str:
    """The model file of a ``proxyfusion:<model.pt>[:<w>]`` specification."""
    return split_mean_weight(spec, spec.partition(":")[2])[0]


def split_mean_weight(spec: str, rest: str) -> tuple[str, float]:
    """``<model.pt>[:<w>]`` as (path, w), w 0 when absent; w must lie in [0, 1)."""
    path, _, last = rest.rpartition(":")
    if not path:
        return rest, 0.0
    try:
        weight = float(last)
    except ValueError:
        return rest, 0.0  # a colon inside the model path
    if not 0.0 <= weight < 1.0:
        raise AggregatorError(f"aggregator {spec!r}: the mean weight must lie in [0, 1), got {weight}")
    return path, weight


def aggregate_sets(agg: Aggregator, sets: list[np.ndarray], metas: list[FaceMeta | None] | None = None,
                   side: str = "test", names: list[str] | None = None) -> list[np.ndarray]:
    """One (1, D') float64 vector per set."""
    metas = metas if metas is not None else [None] * len(sets)
    names = names if names is not None else [f"set {i}" for i in range(len(sets))]
    return [agg.pool(x, m, side, n) for x, m, n in zip(sets, metas, names)]


def tag(agg: Aggregator) -> str:
    """Directory-name form of a specification: ``qmean:sharpness:2`` -> ``qmean-sharpness-2``; a ProxyFusion
    model by its file stem."""
    if agg.kind == "proxyfusion":
        from pathlib import Path

        stem = Path(proxyfusion_model_path(agg.spec)).stem
        return f"proxyfusion-{stem}" + (f"-mean{agg.mean_weight:g}" if agg.mean_weight else "")
    return agg.spec.replace(":", "-")

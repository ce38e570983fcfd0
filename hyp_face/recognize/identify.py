"""Identification against a gallery: the best gallery identity of each track (or face) and its score, or
``unknown`` below a threshold.

Scores are the cosine of L2-normalised embeddings, or, with a :class:`ScoreNorm`, that cosine s-normalised against
a cohort of faces of other people (:class:`hyp_face.backend.snorm.SNorm`, docs/original_recipe.md §6.5: each
gallery item's and each probe's scores against the cohort put the raw cosine on a per-face scale). An identity's
score is the best over its gallery items (as the open-set metrics of :mod:`hyp_face.metrics.identification` score a
gallery), so the threshold chosen at a false positive identification rate on the LFW open-set protocol
(:mod:`hyp_face.recognize.threshold`, with the same scoring) applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..backend.ops import l2_normalize
from ..backend.snorm import SNorm
from ..track.types import Track
from .timeline import UNKNOWN, TrackLabel


@dataclass
class Identification:
    """Best identity and its score per probe; ``identity`` is UNKNOWN where the score is not above the threshold
    (as :func:`hyp_face.metrics.identification.dir_at_fpir` counts false positives: scores above it)."""

    identity: list[str]
    score: np.ndarray  # (N,) float64 best identity score, -inf for an empty gallery
    best: list[str]  # best identity even when below the threshold (for logs and reports)


@dataclass(frozen=True)
class ScoreNorm:
    """S-norm of identification scores: ``mode`` (``faithful`` or ``asnorm``, :mod:`hyp_face.backend.snorm`) against
    the raw ``cohort`` faces (N_c x D; people in neither the gallery nor the videos), with the statistics of each
    side's ``ncoh`` closest cohort faces."""

    mode: str
    cohort: np.ndarray
    ncoh: int


class Identifier:
    """Gallery items (embeddings and the identity of each), the score normalisation and the unknown threshold (in
    the domain of the normalised scores when ``norm`` is given)."""

    def __init__(self, embeds: np.ndarray, names: Sequence[str], threshold: float, norm: ScoreNorm | None = None):
        if len(embeds) != len(names):
            raise ValueError(f"{len(embeds)} gallery embeddings but {len(names)} names")
        self.identities, self._codes = np.unique(np.asarray(names, dtype=str), return_inverse=True)
        self._items = np.asarray(embeds, dtype=np.float32)
        self._unit_items = l2_normalize(self._items)
        self.threshold = float(threshold)
        self.norm = norm
        self._snorm = (SNorm(norm.mode, self._unit_items, norm.cohort, norm.ncoh)
                       if norm is not None and len(self._items) else None)

    def item_scores(self, probes: np.ndarray) -> np.ndarray:
        """(N, items) cosine of each probe with each gallery item, s-normalised when the identifier has a norm."""
        unit = l2_normalize(probes)
        scores = unit @ self._unit_items.T  # = cosine(probes, items), each side normalised once
        if self._snorm is None or not len(probes):
            return scores
        return self._snorm.normalize(scores.T, unit @ self._snorm.cohort_unit.T, unit).T

    def identity_scores(self, probes: np.ndarray) -> np.ndarray:
        """(N, K) score of each probe against each identity: the best over the identity's items."""
        scores = np.full((len(probes), len(self.identities)), -np.inf)
        if len(probes) and len(self._items):
            np.maximum.at(scores.T, self._codes, self.item_scores(probes).T)
        return scores

    def identify(self, probes: np.ndarray) -> Identification:
        """The best identity of each probe, UNKNOWN below the threshold."""
        scores = self.identity_scores(probes)
        if not len(self.identities):
            n = len(probes)
            return Identification([UNKNOWN] * n, np.full(n, -np.inf), [UNKNOWN] * n)
        best = scores.argmax(axis=1)
        top = scores[np.arange(len(scores)), best]
        names = [str(self.identities[b]) for b in best]
        known = [n if s > self.threshold else UNKNOWN for n, s in zip(names, top)]
        return Identification(known, top, names)


def person_names(person_index: Sequence[int]) -> list[str]:
    """``person_00``, ``person_01``, ... per track, numbered in order of first appearance."""
    order: dict[int, int] = {}
    for p in person_index:
        order.setdefault(int(p), len(order))
    return [f"person_{order[int(p)]:02d}" for p in person_index]


def named_by_context(person_index: Sequence[int], found: Identification) -> list[str]:
    """Identities after the video context: a track left ``unknown`` takes the identity of a named track of the same
    person (the people clustering of the video, :func:`hyp_face.track.people.cluster_tracks`, which never joins
    tracks on screen together) when that is also its own best gallery identity. Small, blurred faces score below
    the open-set threshold even when the gallery ranks them right; another track of the person that passed it
    vouches for them (README "Who appears when", Identification)."""
    named: dict[int, set[str]] = {}
    for person, name in zip(person_index, found.identity):
        if name != UNKNOWN:
            named.setdefault(int(person), set()).add(name)
    return [best if name == UNKNOWN and best in named.get(int(person), ()) else name
            for person, name, best in zip(person_index, found.identity, found.best)]


def label_tracks(tracks: Sequence[Track], person_index: Sequence[int], identifier: Identifier,
                 context: bool = True) -> dict[int, TrackLabel]:
    """A :class:`TrackLabel` per track: its person cluster in the video and its gallery identity (with the video
    context of :func:`named_by_context` unless ``context`` is False)."""
    if not tracks:
        return {}
    found = identifier.identify(np.stack([t.embedding for t in tracks]))
    identities = named_by_context(person_index, found) if context else found.identity
    return {t.track_id: TrackLabel(t.track_id, person, identity, float(score))
            for t, person, identity, score in zip(tracks, person_names(person_index), identities, found.score)}

"""The unknown threshold of gallery recognition, chosen at a target false positive identification rate (FPIR) on
the LFW open-set protocol (:func:`hyp_face.identify.protocols.lfw_open_set`) for a config's front end.

The protocol's gallery (the first photo of half the identities with >= 2 photos) and probes (their other photos:
known; every photo of the other identities: unknown) are embedded with the config's front end, one face per
photo (nearest the image centre, as in :mod:`hyp_face.eval.lfw`), scored as recognition scores them
(:class:`hyp_face.recognize.identify.Identifier`), and the threshold is the one of
:func:`hyp_face.metrics.identification.dir_at_fpir`: the score at position floor(FPIR x N) of the descending
top scores of the N unknown probes. ``max_probes`` keeps a deterministic share of the probes (sha256 of the file
name) when the whole protocol is too long to embed; the FPIR resolution is then 1 / (unknown probes kept).
:func:`stored_open_set_threshold` reads the embeddings ``run_060_identify.sh`` computed for ``data/lfw_id_open``
instead (the whole protocol, one face per photo as :func:`hyp_face.identify.scoring.load_faces` picks it).

With a :class:`CohortChoice`, scores are s-normalised (:class:`hyp_face.recognize.identify.ScoreNorm`) against a
cohort drawn from the protocol itself: the photos of its single-photo identities (unknown probes, in no gallery),
less the people ``exclude`` names (e.g. those of a test corpus composed from the same photos). Those photos are then
cohort only, no longer probes (a probe's own photo would be in its cohort), and the threshold is chosen on the
normalised scores; :func:`hyp_face.recognize.gallery.write_cohort` stores the cohort for recognition.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..eval.lfw import embed_images, frontend_detector
from ..frontend import FrontEndConfig, build_extractor
from ..identify.protocols import RoleSet, lfw_open_set, read_protocol
from ..identify.scoring import load_faces
from ..metrics.identification import dir_at_fpir
from .gallery import PLAIN_THR_KEY, SNORM_THR_KEY
from .identify import Identifier, ScoreNorm

log = logging.getLogger(__name__)

DEFAULT_FPIR = 1e-2


@dataclass(frozen=True)
class CohortChoice:
    """S-norm of the scores (``mode``, ``ncoh``: :class:`ScoreNorm`) against the protocol's single-photo people,
    less ``exclude``."""

    mode: str
    ncoh: int
    exclude: frozenset[str] = frozenset()


@dataclass
class Cohort:
    """The cohort faces: one per photo, with its item key."""

    keys: list[str]
    embeds: np.ndarray  # (N_c, D)


@dataclass
class ThresholdResult:
    """The chosen threshold and what it was measured on."""

    threshold: float
    fpir: float
    fpir_achieved: float
    dir: float  # rank-1 detection and identification rate of the known probes at that threshold
    n_gallery: int
    n_known: int
    n_unknown: int
    score_norm: str = "none"  # or the s-norm mode
    ncoh: int = 0
    n_cohort: int = 0
    cohort: Cohort | None = field(default=None, repr=False, compare=False)

    def config_line(self, what: str) -> str:
        """The global-config line that stores it, with how it was chosen."""
        key = PLAIN_THR_KEY if self.score_norm == "none" else SNORM_THR_KEY
        norm = ("" if self.score_norm == "none"
                else f"{self.score_norm} s-norm, ncoh {self.ncoh} of {self.n_cohort} cohort faces, ")
        return (f"{key}={self.threshold:.4f}  # FPIR {self.fpir:g} (achieved {self.fpir_achieved:.4f})"
                f" on {what}: {norm}{self.n_gallery} gallery, {self.n_known} known + {self.n_unknown} unknown "
                f"probes, DIR {self.dir:.3f}")

    def figures(self) -> dict:
        """The result without the cohort faces (for JSON)."""
        return {k: v for k, v in vars(self).items() if k != "cohort"}


def keep_share(items: RoleSet, max_items: int | None) -> dict[str, str]:
    """At most ``max_items`` items of a role, the same ones on every run (smallest sha256 of the item id)."""
    keys = sorted(items.vid, key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    return {k: items.vid[k] for k in sorted(keys[:max_items] if max_items else keys)}


def split_cohort(probe: RoleSet, gallery: RoleSet, exclude: frozenset[str] = frozenset()) -> tuple[RoleSet, RoleSet]:
    """(probes left, cohort) of an open-set protocol: the cohort is the probes of single-photo identities that are
    not in the gallery, less the people of ``exclude`` (who stay probes)."""
    photos = Counter(probe.utt2spk.values())
    enrolled = set(gallery.utt2spk.values())
    cohort = {u for u, who in probe.utt2spk.items() if photos[who] == 1 and who not in enrolled and who not in exclude}
    if not cohort:
        raise ValueError(f"{probe.path or probe.source}: no single-photo identity left for the cohort")
    return _subset(probe, set(probe.vid) - cohort), _subset(probe, cohort)


def _subset(items: RoleSet, keys: set[str]) -> RoleSet:
    return RoleSet({k: v for k, v in items.vid.items() if k in keys},
                   {k: v for k, v in items.utt2spk.items() if k in keys}, items.source, path=items.path)


def threshold_at_fpir(probe_embeds: np.ndarray, probe_ids: list[str], gallery_embeds: np.ndarray,
                      gallery_ids: list[str], fpir: float = DEFAULT_FPIR,
                      norm: ScoreNorm | None = None) -> ThresholdResult:
    """Threshold at ``fpir`` of probes against a gallery (probes whose identity is not in it are unknown), scored
    as :class:`Identifier` scores them (s-normalised with ``norm``)."""
    ident = Identifier(gallery_embeds, gallery_ids, 0.0, norm)
    res = dir_at_fpir(ident.identity_scores(probe_embeds), probe_ids, list(ident.identities), (fpir,))[fpir]
    n_unknown = int(np.sum(~np.isin(probe_ids, gallery_ids)))
    found = ThresholdResult(float(res["threshold"]), fpir, res["fpir_achieved"], res["dir"], len(gallery_ids),
                            len(probe_ids) - n_unknown, n_unknown)
    if norm is not None:
        found.score_norm, found.ncoh, found.n_cohort = norm.mode, norm.ncoh, len(norm.cohort)
    return found


def _choose(probes: tuple[np.ndarray, list[str]], gallery: tuple[np.ndarray, list[str]], fpir: float,
            choice: CohortChoice | None, cohort: Cohort | None) -> ThresholdResult:
    """The threshold of embedded probes and gallery, with the s-norm of ``choice`` against ``cohort``."""
    norm = ScoreNorm(choice.mode, cohort.embeds, choice.ncoh) if choice is not None else None
    result = threshold_at_fpir(probes[0], probes[1], gallery[0], gallery[1], fpir, norm)
    result.cohort = cohort
    return result


def lfw_open_set_threshold(cfg: FrontEndConfig, people: dict[str, list[Path]], fpir: float = DEFAULT_FPIR,
                           max_probes: int | None = None, device: str = "cpu",
                           batch_size: int = 32, choice: CohortChoice | None = None) -> ThresholdResult:
    """Embed the LFW open-set protocol with ``cfg``'s front end and choose the threshold at ``fpir`` (on s-normalised
    scores with ``choice``; the result then holds the cohort)."""
    protocol = lfw_open_set(people, "lfw_id_all")
    gallery, probe = protocol.sets["gallery"], protocol.sets["probe"]
    cohort_set = None
    if choice is not None:
        probe, cohort_set = split_cohort(probe, gallery, choice.exclude)
    probes = keep_share(probe, max_probes)
    front = build_extractor(cfg, device=device)
    log.info("%s", cfg.describe(front.embedder))
    detect = frontend_detector(front.detector)
    thr = cfg.thresholds("facedet")[0]

    def embed(vid: dict[str, str]) -> np.ndarray:
        embeds, found = embed_images([Path(p) for p in vid.values()], detect, front.embedder, thr, batch_size,
                                     front.refiner)
        if not found.all():
            log.info("%d of %d photos without a detection use a centred box", int((~found).sum()), len(found))
        return embeds

    log.info("LFW open set: %d gallery photos, %d of %d probes", len(gallery.vid), len(probes), len(probe.vid))
    g = embed(gallery.vid)
    p = embed(probes)
    cohort = Cohort(list(cohort_set.vid), embed(cohort_set.vid)) if cohort_set is not None else None
    return _choose((p, [probe.utt2spk[k] for k in probes]), (g, [gallery.utt2spk[k] for k in gallery.vid]), fpir,
                   choice, cohort)


def stored_open_set_threshold(protocol_dir: str | Path, embed_dir: str | Path, fpir: float = DEFAULT_FPIR,
                              choice: CohortChoice | None = None) -> ThresholdResult:
    """The threshold at ``fpir`` of an open-set protocol dir scored with the embeddings of ``embed_dir`` (on
    s-normalised scores with ``choice``; the result then holds the cohort)."""
    protocol = read_protocol(protocol_dir)
    if protocol.kind != "open":
        raise ValueError(f"{protocol_dir}: a {protocol.kind} protocol, not an open set")
    roles = {"probe": protocol.sets["probe"], "gallery": protocol.sets["gallery"]}
    if choice is not None:
        roles["probe"], roles["cohort"] = split_cohort(roles["probe"], roles["gallery"], choice.exclude)
    sides = {}
    for role, items in roles.items():
        faces = load_faces(items, embed_dir)
        keys = sorted(items.vid)
        sides[role] = (keys, np.concatenate([faces[k][:1] for k in keys]), [items.utt2spk[k] for k in keys])
    cohort = Cohort(sides["cohort"][0], sides["cohort"][1]) if choice is not None else None
    return _choose(sides["probe"][1:], sides["gallery"][1:], fpir, choice, cohort)

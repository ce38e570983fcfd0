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
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backend.ops import cosine
from ..eval.lfw import embed_images, frontend_detector
from ..frontend import FrontEndConfig, build_extractor
from ..identify.protocols import RoleSet, lfw_open_set, read_protocol
from ..identify.scoring import load_faces
from ..metrics.identification import dir_at_fpir

log = logging.getLogger(__name__)

DEFAULT_FPIR = 1e-2


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

    def config_line(self, what: str) -> str:
        """The global-config line that stores it, with how it was chosen."""
        return (f"recognize_unknown_thr={self.threshold:.4f}  # FPIR {self.fpir:g} (achieved {self.fpir_achieved:.4f})"
                f" on {what}: {self.n_gallery} gallery, {self.n_known} known + {self.n_unknown} unknown probes, "
                f"DIR {self.dir:.3f}")


def keep_share(items: RoleSet, max_items: int | None) -> dict[str, str]:
    """At most ``max_items`` items of a role, the same ones on every run (smallest sha256 of the item id)."""
    keys = sorted(items.vid, key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    return {k: items.vid[k] for k in sorted(keys[:max_items] if max_items else keys)}


def threshold_at_fpir(probe_embeds: np.ndarray, probe_ids: list[str], gallery_embeds: np.ndarray,
                      gallery_ids: list[str], fpir: float = DEFAULT_FPIR) -> ThresholdResult:
    """Threshold at ``fpir`` of probes against a gallery (probes whose identity is not in it are unknown)."""
    res = dir_at_fpir(cosine(probe_embeds, gallery_embeds), probe_ids, gallery_ids, (fpir,))[fpir]
    n_unknown = int(np.sum(~np.isin(probe_ids, gallery_ids)))
    return ThresholdResult(float(res["threshold"]), fpir, res["fpir_achieved"], res["dir"], len(gallery_ids),
                           len(probe_ids) - n_unknown, n_unknown)


def lfw_open_set_threshold(cfg: FrontEndConfig, people: dict[str, list[Path]], fpir: float = DEFAULT_FPIR,
                           max_probes: int | None = None, device: str = "cpu",
                           batch_size: int = 32) -> ThresholdResult:
    """Embed the LFW open-set protocol with ``cfg``'s front end and choose the threshold at ``fpir``."""
    protocol = lfw_open_set(people, "lfw_id_all")
    gallery, probe = protocol.sets["gallery"], protocol.sets["probe"]
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
    return threshold_at_fpir(p, [probe.utt2spk[k] for k in probes], g, [gallery.utt2spk[k] for k in gallery.vid],
                             fpir)


def stored_open_set_threshold(protocol_dir: str | Path, embed_dir: str | Path,
                              fpir: float = DEFAULT_FPIR) -> ThresholdResult:
    """The threshold at ``fpir`` of an open-set protocol dir scored with the embeddings of ``embed_dir``."""
    protocol = read_protocol(protocol_dir)
    if protocol.kind != "open":
        raise ValueError(f"{protocol_dir}: a {protocol.kind} protocol, not an open set")
    sides = []
    for role in ("probe", "gallery"):
        items = protocol.sets[role]
        faces = load_faces(items, embed_dir)
        keys = sorted(items.vid)
        sides.append((np.concatenate([faces[k][:1] for k in keys]), [items.utt2spk[k] for k in keys]))
    (p, p_ids), (g, g_ids) = sides
    return threshold_at_fpir(p, p_ids, g, g_ids, fpir)

"""The gallery of recognition: the people to name, enrolled once into an embedding store.

A gallery is either a folder ``<name>/<photos or clips>`` (one folder per person, any number of ``.jpg``, ``.png``,
``.mp4``, ... files; :func:`hyp_face.io.folder_corpus.folder_enrollment`) or a data dir (``vid.scp`` + ``utt2spk``,
spk = the name). Each medium gives one gallery item:

* a photo: its face nearest the image centre (the LFW rule of :mod:`hyp_face.eval.lfw`);
* a clip: the largest face of each sampled frame, averaged and L2-normalised.

The store (``<store>/gallery.h5`` + ``gallery.scp``, :mod:`hyp_face.io.embed_store`, one row per usable item, with
the item's status) gets a manifest (:class:`hyp_face.io.manifest.Job`): enrolling again with the same media, front end
and code reuses it; otherwise only the items whose file content changed, or that are new, are embedded again.
A medium that cannot be read, or where no face is found, is logged with its file and enrolled as nothing
(status in the store); a person left without any usable item is logged and cannot be named.

The s-norm cohort of recognition (:class:`hyp_face.recognize.identify.ScoreNorm`) is an embedding store too
(``<dir>/cohort.h5`` + ``cohort.scp``, one face per LFW photo, written by ``hyp_face.bin.choose_unknown_thr
--cohort-out``); :func:`scoring_rule` takes from the front-end config how tracks are scored: plain cosine with
``recognize_unknown_thr``, or ``recognize_score_norm`` (``faithful`` / ``asnorm``) with ``recognize_snorm_ncoh``,
``recognize_cohort`` (the store's ``.scp``) and ``recognize_snorm_unknown_thr``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embed.base import l2_normalize
from ..eval.lfw import central_index
from ..extract import FaceExtractor, VideoFaces
from ..frontend import FrontEndConfig
from ..io.datadir import read_utt2spk, read_vid_scp
from ..io.embed_store import STATUS_OK, EmbedReader, EmbedWriter
from ..io.folder_corpus import folder_enrollment
from ..io.manifest import Job, code_version, file_sha256, manifest_path, read_manifest
from ..video import is_photo, probe
from .identify import Identifier, ScoreNorm

log = logging.getLogger(__name__)

STORE_NAME = "gallery"
COHORT_NAME = "cohort"
# config keys of the thresholds and the cohort that hyp_face.bin.choose_unknown_thr writes (FrontEndConfig fields)
PLAIN_THR_KEY, SNORM_THR_KEY, COHORT_KEY = "recognize_unknown_thr", "recognize_snorm_unknown_thr", "recognize_cohort"
STATUS_NO_FACE = "no face found"
CODE = ("recognize/gallery.py", "extract.py", "detect", "align", "embed", "video")


@dataclass
class Gallery:
    """Enrolled gallery items: key, person and embedding of each usable item."""

    keys: list[str]
    names: list[str]
    embeds: np.ndarray  # (N, D) float32, L2-normalised

    def identifier(self, threshold: float, norm: ScoreNorm | None = None) -> Identifier:
        return Identifier(self.embeds, self.names, threshold, norm)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))


def gallery_media(source: str | os.PathLike) -> tuple[dict[str, str], dict[str, str]]:
    """``(vid, utt2spk)`` of a gallery: a data dir when ``source`` holds a ``vid.scp``, else a ``<name>/<media>``
    folder (utt ``<name>-<file id>``)."""
    source = Path(source)
    if (source / "vid.scp").is_file():
        vid, utt2spk = read_vid_scp(source / "vid.scp"), read_utt2spk(source / "utt2spk")
        missing = sorted(set(vid) - set(utt2spk))
        if missing:
            raise ValueError(f"{source / 'utt2spk'}: no person for {len(missing)} items of vid.scp, e.g. {missing[0]}")
        return vid, {u: utt2spk[u] for u in vid}
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such gallery folder (a folder <name>/<photos or clips>, or a data dir)")
    if any(p.is_file() and not p.name.startswith(".") for p in source.iterdir()):
        raise ValueError(f"{source}: a gallery holds one folder per person, <name>/<photos or clips>, not files")
    data = folder_enrollment(source)
    return data.vid, data.utt2spk


def item_embedding(faces: VideoFaces, media: str) -> np.ndarray:
    """The one (1, D) embedding of a gallery medium (see the module docstring); (0, D) without a face."""
    if not len(faces.embeds):
        return faces.embeds
    if is_photo(media):
        width, height = probe(media).display_size
        i = central_index((height, width), faces.meta.box.astype(np.float64))
        return faces.embeds[i:i + 1]
    box = faces.meta.box
    area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    largest = {}
    for i, (frame, a) in enumerate(zip(faces.meta.frame, area)):
        if frame not in largest or a > area[largest[frame]]:
            largest[frame] = i
    return l2_normalize(faces.embeds[list(largest.values())].mean(axis=0, keepdims=True))


def embed_item(extractor: FaceExtractor, utt: str, media: str) -> tuple[np.ndarray, str]:
    """(embedding rows, status) of one gallery medium; problems are logged, never raised."""
    faces = extractor.process(media, key=utt)
    emb = item_embedding(faces, media)
    status = STATUS_NO_FACE if faces.status == STATUS_OK and not len(emb) else faces.status
    if status != STATUS_OK:
        log.warning("gallery %s (%s): %s; not enrolled", utt, media, status)
    return emb, status


def unchanged_items(scp: Path, manifest: dict) -> dict[str, tuple[np.ndarray, str]]:
    """Rows and status of the items of the last enrolment (``scp``) whose content and front end are unchanged."""
    old = read_manifest(manifest_path(scp)) or {}
    if not scp.is_file() or old.get("frontend") != manifest["frontend"]:
        return {}
    same = [u for u, d in manifest["inputs"].items() if old.get("inputs", {}).get(u) == d]
    with EmbedReader(scp) as reader:
        return {u: (reader.read(u), reader.status(u)) for u in same if u in reader}


def enroll(source: str | os.PathLike, extractor: FaceExtractor, frontend: dict, store_dir: str | os.PathLike) -> Gallery:
    """Enroll the gallery ``source`` with ``extractor`` into ``store_dir`` (see the module docstring).

    ``frontend`` is the front end's fingerprint (:meth:`hyp_face.frontend.FrontEndConfig.fingerprint`)."""
    vid, utt2spk = gallery_media(source)
    prefix = Path(store_dir) / STORE_NAME
    scp, h5 = prefix.with_name(STORE_NAME + ".scp"), prefix.with_name(STORE_NAME + ".h5")
    manifest = {"inputs": {u: _digest(m) for u, m in vid.items()},
                "options": {"people": utt2spk, "fps": extractor.opts.fps},
                "frontend": frontend, "code": code_version(CODE)}
    reused = unchanged_items(scp, manifest)
    job = Job(f"gallery {source}", [scp, h5], manifest)
    if job.start(log):
        embedded = unusable = 0
        with EmbedWriter(prefix) as writer:
            for utt, media in vid.items():
                emb, status = reused[utt] if utt in reused else embed_item(extractor, utt, media)
                writer.write(utt, emb, status=status)
                unusable += not len(emb)
                embedded += utt not in reused and bool(len(emb))
        log.info("gallery %s: %d items: %d unchanged, %d embedded now, %d without a usable face (unreadable, or no "
                 "face found)", source, len(vid), len(reused), embedded, unusable)
        job.finish()
    return load_gallery(scp, utt2spk)


def load_gallery(scp: str | os.PathLike, utt2spk: dict[str, str]) -> Gallery:
    """The usable items of an enrolled store; people without any are logged."""
    keys, names, rows = [], [], []
    with EmbedReader(scp) as reader:
        for utt in sorted(reader.keys()):
            emb = reader.read(utt)
            if len(emb):
                keys.append(utt)
                names.append(utt2spk[utt])
                rows.append(emb[0])
    lost = sorted(set(utt2spk.values()) - set(names))
    if lost:
        log.warning("gallery %s: no usable face for %s; they cannot be named", scp, ", ".join(lost))
    if not keys:
        raise ValueError(f"{scp}: the gallery has no usable face")
    return Gallery(keys, names, np.stack(rows).astype(np.float32))


def write_cohort(keys: list[str], embeds: np.ndarray, out_dir: str | os.PathLike) -> Path:
    """Store the cohort faces (one row per key) in ``<out_dir>/cohort.{h5,scp}``; returns the ``.scp``."""
    prefix = Path(out_dir) / COHORT_NAME
    with EmbedWriter(prefix) as writer:
        for key, row in zip(keys, embeds):
            writer.write(key, row[None, :])
    return prefix.with_name(COHORT_NAME + ".scp")


def read_cohort(scp: str | os.PathLike) -> np.ndarray:
    """(N_c, D) cohort faces of a store :func:`write_cohort` wrote."""
    with EmbedReader(scp) as reader:
        rows = [reader.read(key) for key in sorted(reader.keys())]
    rows = [r[0] for r in rows if len(r)]
    if not rows:
        raise ValueError(f"{scp}: the cohort has no face")
    return np.stack(rows)


@dataclass
class ScoringRule:
    """How tracks are scored against the gallery: the unknown threshold and the s-norm (None: plain cosine)."""

    threshold: float
    norm: ScoreNorm | None = None

    def describe(self) -> str:
        if self.norm is None:
            return f"cosine, unknown at or below {self.threshold:.4f}"
        return (f"{self.norm.mode} s-norm (ncoh {self.norm.ncoh} of {len(self.norm.cohort)} cohort faces), "
                f"unknown at or below {self.threshold:.4f}")

    def fingerprint(self) -> dict:
        """What changes the identities (for the rerun manifest): threshold, s-norm and the cohort's content."""
        if self.norm is None:
            return {"unknown_thr": self.threshold}
        cohort = hashlib.sha256(np.ascontiguousarray(self.norm.cohort, dtype=np.float64).tobytes()).hexdigest()
        return {"unknown_thr": self.threshold, "score_norm": self.norm.mode, "ncoh": self.norm.ncoh, "cohort": cohort}


def scoring_rule(cfg: FrontEndConfig, override: float | None = None) -> ScoringRule:
    """The scoring of a front-end config (module docstring); ``override`` (``--unknown-thr``) replaces the threshold
    of the rule in use. A config with s-norm whose cohort store is missing falls back, with a warning, to plain
    cosine with ``recognize_unknown_thr``."""
    where = cfg.config_file or "the front end"
    mode = cfg.recognize_score_norm
    if mode != "none":
        cohort = cfg.recognize_cohort
        if cohort and Path(cohort).is_file():
            thr = cfg.recognize_snorm_unknown_thr if override is None else override
            if thr is None or cfg.recognize_snorm_ncoh is None:
                raise ValueError(f"{where}: recognize_score_norm={mode} needs recognize_snorm_unknown_thr and "
                                 "recognize_snorm_ncoh")
            return ScoringRule(float(thr), ScoreNorm(mode, read_cohort(cohort), cfg.recognize_snorm_ncoh))
        log.warning("%s: no s-norm cohort at %r; scoring with plain cosine and recognize_unknown_thr. To build it "
                    "(minutes; it also prints the threshold to store): python -m hyp_face.bin.choose_unknown_thr "
                    "--config-file %s --lfw-dir <LFW photos> --score-norm %s --ncoh %s --cohort-out %s",
                    where, cohort, where, mode, cfg.recognize_snorm_ncoh, Path(cohort).parent if cohort else "DIR")
    thr = cfg.recognize_unknown_thr if override is None else override
    if thr is None:
        raise ValueError(f"{where} has no {PLAIN_THR_KEY}; give --unknown-thr "
                         "(hyp_face.bin.choose_unknown_thr chooses one)")
    return ScoringRule(float(thr))


def _digest(media: str) -> str:
    """Content hash of a medium, or why it cannot be read (then it is embedded again, and fails with its status)."""
    try:
        return file_sha256(media)
    except OSError as err:
        return f"unreadable: {err.strerror}"

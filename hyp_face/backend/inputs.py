"""Loading of back-end inputs (docs/original_recipe.md §6.1): trials, enrollment list, embeddings with the missing-data rules."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from hyp_face.io.datadir import read_trials, read_utt2spk  # noqa: F401 (re-exported for eval_be)
from hyp_face.io.embed_store import EmbedReader, FaceMeta, StoreError

log = logging.getLogger(__name__)


@dataclass
class Enrollment:
    """Models (in enrollment-list order), their enrollment videos and reference faces."""

    models: list[str]
    videos: list[str]
    video_model: np.ndarray
    refs: list[np.ndarray]


def load_enrollment(utt2spk: str, trial_models: list[str], ref_scp: str, facedet_scp: str,
                    default_dim: int = 512) -> Enrollment:
    """Enrollment videos of the trial models, with R_m (or mean(E_m), or one zero vector when both are empty)."""
    wanted = set(trial_models)
    rows = [(utt, spk) for utt, spk in read_utt2spk(utt2spk).items() if spk in wanted]
    models = list(dict.fromkeys(spk for _, spk in rows))
    missing = sorted(wanted - set(models))
    if missing:
        raise ValueError(f"{utt2spk}: no enrollment video for {len(missing)} trial model(s), e.g. {missing[:5]}")
    index = {m: i for i, m in enumerate(models)}
    with EmbedReader(ref_scp) as ref_reader, EmbedReader(facedet_scp) as facedet_reader:
        refs = read_all_required(ref_reader, [utt for utt, _ in rows])
        dim = embedding_dim(refs, default_dim, ref_scp)
        for i, (utt, _) in enumerate(rows):
            if len(refs[i]) == 0:
                refs[i] = reference_fallback(facedet_reader, utt, dim)
    return Enrollment(models, [u for u, _ in rows], np.array([index[s] for _, s in rows], dtype=np.int64), refs)


def reference_fallback(facedet: EmbedReader, utt: str, dim: int) -> np.ndarray:
    """Mean of the facedet embeddings of ``utt`` (the whole file) when its reference store has none (no face, or
    no speech, in the enrollment segment), else one zero vector."""
    faces = read_required(facedet, utt)
    if len(faces):
        log.warning("%s: no reference embedding (no face or speech in its enrollment segment), using the mean of its "
                    "%d facedet embeddings (the whole file)", utt, len(faces))
        return faces.mean(axis=0, keepdims=True)
    log.warning("%s: no reference nor facedet embedding, using a zero vector", utt)
    return np.zeros((1, dim))


def load_tests(test_scp: str, tests: list[str], default_dim: int = 512) -> list[np.ndarray]:
    """Faces of each test video (float64); an empty video becomes one zero vector (``default_dim`` when no video
    has a stored dimension)."""
    with EmbedReader(test_scp) as reader:
        mats = read_all_required(reader, tests)
    dim = embedding_dim(mats, default_dim, test_scp)
    empty = [k for k, m in zip(tests, mats) if len(m) == 0]
    if empty:
        log.warning("%s: %d test video(s) without faces scored with a zero vector, e.g. %s",
                    test_scp, len(empty), empty[:3])
    return [m if len(m) else np.zeros((1, dim)) for m in mats]


def load_cohort(utt2spk: str, embed_scp: str) -> np.ndarray:
    """All faces of the cohort videos listed in ``utt2spk`` and present in ``embed_scp``, in list order."""
    with EmbedReader(embed_scp) as reader:
        keys = [utt for utt in read_utt2spk(utt2spk) if utt in reader]
        if not keys:
            raise ValueError(f"no video of cohort list {utt2spk} is in {embed_scp}")
        mats = read_all_required(reader, keys)
    embedding_dim(mats, 0, embed_scp)
    faces = np.concatenate(mats)
    if not len(faces):
        raise ValueError(f"cohort {utt2spk} ({embed_scp}) has no faces")
    log.info("cohort: %d faces from %d videos", len(faces), len(keys))
    return faces


def load_metas(embed_scp: str, keys: list[str]) -> list[FaceMeta]:
    """Per-face metadata of each key (for the quality-weighted aggregator)."""
    with EmbedReader(embed_scp) as reader:
        return [reader.read_meta(k) for k in keys]


def read_required(reader: EmbedReader, key: str) -> np.ndarray:
    """Embeddings of ``key`` as float64; a key absent from the scp, or NaN / inf values, are errors naming both."""
    require_listed(reader, [key])
    return require_finite(reader, [key], [reader.read(key).astype(np.float64)])[0]


def read_all_required(reader: EmbedReader, keys: list[str]) -> list[np.ndarray]:
    """:func:`read_required` of every key, read in one pass per file (``EmbedReader.read_many``)."""
    require_listed(reader, keys)
    return require_finite(reader, keys, reader.read_many(keys, np.float64))


def require_listed(reader: EmbedReader, keys: list[str]) -> None:
    """A key absent from the scp is an error naming both."""
    for key in keys:
        if key not in reader:
            raise StoreError(f"{reader.scp_path}: key {key!r} is not listed")


def require_finite(reader: EmbedReader, keys: list[str], mats: list[np.ndarray]) -> list[np.ndarray]:
    """``mats``; NaN or infinite values are an error naming the scp and the key."""
    for key, mat in zip(keys, mats):
        if not np.isfinite(mat).all():
            raise StoreError(f"{reader.scp_path}: key {key!r} holds NaN or infinite values")
    return mats


def embedding_dim(mats: list[np.ndarray], default: int = 512, source: str = "") -> int:
    """Dimension of the embeddings (from the stored shapes; ``default`` if nothing is stored)."""
    dims = {m.shape[1] for m in mats if m.ndim == 2 and m.shape[1] > 0}
    if len(dims) > 1:
        raise ValueError(f"{source}: embeddings of different dimensions: {sorted(dims)}")
    return dims.pop() if dims else default

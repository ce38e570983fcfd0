"""Faces of the template protocol (issue 12): LFW identities, hash splits, degraded variants and their embeddings.

Every LFW image of an identity with at least ``min_images`` photos is embedded twice, once clean and once
degraded (:func:`degrade`), into two embedding stores keyed by the image name (``Aaron_Eckhart_0001``), with the
full per-face metadata (detector score, box, landmarks, raw norm, chip sharpness). Templates are drawn from these
stores later (:mod:`hyp_face.fusion.templates`), so the expensive part runs once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

from hyp_face.eval.lfw import central_index, default_face, load_rgb
from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta
from hyp_face.io.table import write_lines

log = logging.getLogger(__name__)

LFW_NAME = re.compile(r"^(?P<name>.+)_(?P<num>\d{4})\.(jpg|jpeg|png)$", re.IGNORECASE)


def identity_images(lfw_dir: str | Path, min_images: int = 4) -> dict[str, list[Path]]:
    """``<Name>_<NNNN>.jpg`` photos of a flat LFW folder grouped by identity, identities with >= min_images."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(Path(lfw_dir).iterdir()):
        m = LFW_NAME.match(path.name)
        if m:
            groups.setdefault(m["name"], []).append(path)
    if not groups:
        raise ValueError(f"{lfw_dir}: no <Name>_<NNNN>.jpg photo")
    return {k: v for k, v in groups.items() if len(v) >= min_images}


def name_hash(text: str) -> int:
    """A stable 64-bit hash of ``text`` (sha1), independent of Python's hash seed."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def split_of(name: str, dev_percent: int = 20, test_percent: int = 30) -> str:
    """train, dev or test, from the hash of the identity's name."""
    bucket = name_hash(name) % 100
    return "test" if bucket < test_percent else "dev" if bucket < test_percent + dev_percent else "train"


def protocol_images(lfw_dir: str | Path, min_images: int = 4, train_min_images: int = 2) -> list[Path]:
    """Photos the protocol embeds: identities with >= ``min_images`` photos (templates of every split) and, to grow
    the training set, train-split identities with >= ``train_min_images``."""
    groups = identity_images(lfw_dir, min(min_images, train_min_images))
    return [p for name, paths in groups.items() for p in paths
            if len(paths) >= min_images or split_of(name) == "train" and len(paths) >= train_min_images]


def degrade(image: np.ndarray, face_width: float, seed: int) -> tuple[np.ndarray, str]:
    """A degraded copy of an RGB image and a description: the face shrunk to 24-32 px wide and back, with
    probability 1/2 a Gaussian blur (sigma 1-2.5 px), a grey occlusion of a band of 35-50% of the face on one of its
    four sides, then JPEG at quality 5-20.

    ``face_width`` is the detected face's width in pixels; ``seed`` makes the draw deterministic per image.
    """
    rng = np.random.default_rng(seed)
    pil = Image.fromarray(image)
    w, h = pil.size
    target = rng.uniform(24, 32)
    scale = min(1.0, target / max(face_width, 1.0))
    small = pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    pil = small.resize((w, h), Image.BILINEAR)
    steps = [f"shrink{target:.0f}px"]
    if rng.random() < 0.5:
        sigma = rng.uniform(1.0, 2.5)
        pil = pil.filter(ImageFilter.GaussianBlur(sigma))
        steps.append(f"blur{sigma:.1f}")
    out = np.array(pil)
    side, band = int(rng.integers(4)), rng.uniform(0.35, 0.5)
    fw = int(face_width)
    x0, y0 = max(0, (w - fw) // 2), max(0, (h - fw) // 2)
    cut = int(band * fw)
    box = [(x0, y0, x0 + fw, y0 + cut), (x0, y0 + fw - cut, x0 + fw, y0 + fw),
           (x0, y0, x0 + cut, y0 + fw), (x0 + fw - cut, y0, x0 + fw, y0 + fw)][side]
    out[box[1]:box[3], box[0]:box[2]] = 128
    steps.append(f"occlude{'TBLR'[side]}{band:.2f}")
    quality = int(rng.integers(5, 21))
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=quality)
    steps.append(f"jpeg{quality}")
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")), "+".join(steps)


def pick_face(image: np.ndarray, detector, thresholds: Sequence[float]):
    """Box, score and landmarks of the central detection at the first threshold that finds one, else a centred
    default face with score 0."""
    for thr in thresholds:
        det = detector.detect([image], threshold=thr)[0]
        i = central_index(image.shape, det.boxes)
        if i is not None:
            return np.asarray(det.boxes[i]), float(det.scores[i]), np.asarray(det.landmarks[i])
    box, landmarks = default_face(image.shape)
    return box, 0.0, landmarks


def embed_image(image: np.ndarray, detector, embedder, thresholds: Sequence[float]):
    """The (1, D) embedding and ``FaceMeta`` of the central face of one image."""
    box, score, landmarks = pick_face(image, detector, thresholds)
    chips = embedder.align_many([image], np.zeros(1, np.int64), box[None], landmarks[None])
    out = embedder.embed_with_quality(chips)
    meta = FaceMeta(frame=[0], time=[0.0], box=box[None], score=[score], landmarks=landmarks[None],
                    norm=out.norm, sharpness=out.sharpness)
    return out.embeds, meta


def embed_protocol_faces(images: Sequence[Path], out_dir: Path, detector, embedder,
                         thresholds: Sequence[float], degraded_only: bool = False) -> None:
    """``clean.{h5,scp}`` and ``degraded.{h5,scp}`` in ``out_dir``: each image embedded as is and degraded, and
    ``degraded.txt`` (``<image> <degradation>``). ``degraded_only`` keeps an existing clean store (its boxes give
    the face widths) and redoes the degraded one."""
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    old = EmbedReader(out_dir / "clean.scp") if degraded_only else None
    clean = None if degraded_only else EmbedWriter(out_dir / "clean")
    try:
        with EmbedWriter(out_dir / "degraded") as bad:
            for path in tqdm(images, desc="faces", unit="image", mininterval=30):
                key = path.stem
                image = load_rgb(path)
                if old is not None:
                    box = old.read_meta(key).box[0]
                else:
                    emb, meta = embed_image(image, detector, embedder, thresholds)
                    clean.write(key, emb, meta)
                    box = meta.box[0]
                worse, how = degrade(image, float(box[2] - box[0]), name_hash(key))
                emb, meta = embed_image(worse, detector, embedder, thresholds)
                bad.write(key, emb, meta)
                lines.append(f"{key} {how}")
        if clean is not None:
            clean.close()
    except BaseException:
        if clean is not None:
            clean.abort()
        raise
    finally:
        if old is not None:
            old.close()
    write_lines(out_dir / "degraded.txt", lines)

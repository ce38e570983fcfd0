"""The per-embedder track hyper-parameters of a config, chosen on LFW (never on the test clips; docs/tracks.md).

    python -m hyp_face.track.devparams --config-file global_conf/X.sh --lfw-dir D --pairs D/pairs_resolved.csv \
        --pairs-per-fold 30 --out-dir exp/lfw

prints the config lines ``track_min_cos=``, ``people_ahc_thr=`` and ``track_sharpness_ref=``:

* ``track_min_cos``: the cosine that 1% of the different-person pairs exceed, over every pair of the images
  (rounded to 0.01); consecutive frames of one person are far closer than two LFW photos of them;
* ``people_ahc_thr``: pseudo-videos of 2-6 LFW people whose "tracks" are pooled pairs of photos are clustered
  with :func:`hyp_face.track.people.cluster_tracks` for every threshold of a 0.01 grid; the value is the middle of
  the range where the pairwise F1 of the same-person decisions is at least 0.99 (else the best F1);
* ``track_sharpness_ref``: the median sharpness of this embedder's aligned chips of the LFW photos (2 digits).

It also prints, as comments, how the shot-cut rule (``TrackOptions.cut_threshold``, the same for every embedder)
separates the same photo moved (up to 15 px) and zoomed (up to 20%), i.e. motion within a shot, from two
different LFW photos, i.e. a change of scene (a hard case: centred faces of similar composition).

Embeddings come from the cache of ``hyp_face.eval.lfw`` (``<out-dir>/cache``), computed when absent.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ..cli import pin_threads, run_main, setup_logging
from ..eval.lfw import Pairs, cached_embeddings, load_rgb, read_pairs
from ..frontend import FrontEndConfig, add_frontend_args, build_extractor
from ..video import Frame
from .people import cluster_tracks
from .shots import colour_histogram, histogram_distance
from .types import Track

TARGET_F1 = 0.99
SHARPNESS_IMAGES = 80


def identities(images: Sequence[Path]) -> np.ndarray:
    """The person of each LFW image (``Name_Surname_0001.jpg`` -> ``Name_Surname``)."""
    return np.array([re.sub(r"_\d+$", "", Path(p).stem) for p in images])


def min_cos_at_far(embeds: np.ndarray, names: np.ndarray, far: float = 0.01) -> float:
    """The cosine exceeded by a fraction ``far`` of the different-person pairs of images."""
    iu = np.triu_indices(len(embeds), 1)
    cos = (embeds @ embeds.T)[iu]
    return float(np.quantile(cos[names[iu[0]] != names[iu[1]]], 1.0 - far))


def _pooled(x: np.ndarray, time: float) -> Track:
    """A pseudo-track of the photos ``x`` at ``time`` (each its own moment: the people clustering never joins
    tracks on screen together)."""
    v = x.sum(0)
    return Track(0, np.zeros(0, np.int64), np.zeros(0, np.int64), np.array([time]), np.zeros((0, 4), np.float32),
                 np.zeros(0, np.float32), (v / np.linalg.norm(v)).astype(np.float32))


def pseudo_videos(embeds: np.ndarray, names: np.ndarray, n_videos: int = 300,
                  seed: int = 0) -> list[tuple[list[Track], np.ndarray]]:
    """Videos of 2-6 people (among those with 4 or more photos), each person's photos pooled two by two."""
    rng = np.random.default_rng(seed)
    people = [n for n in np.unique(names) if np.count_nonzero(names == n) >= 4]
    videos = []
    for _ in range(n_videos):
        tracks, labels = [], []
        for k, name in enumerate(rng.choice(people, size=rng.integers(2, 7), replace=False)):
            idx = rng.permutation(np.flatnonzero(names == name))
            for j in range(0, len(idx) - 1, 2):
                tracks.append(_pooled(embeds[idx[j:j + 2]], float(len(tracks))))
                labels.append(k)
        videos.append((tracks, np.array(labels)))
    return videos


def pairwise_f1(videos: list[tuple[list[Track], np.ndarray]], threshold: float) -> float:
    """F1 of the same-person decisions of :func:`cluster_tracks` over every pair of tracks of each video."""
    tp = fp = fn = 0
    for tracks, labels in videos:
        pred = np.array(cluster_tracks(tracks, threshold))
        iu = np.triu_indices(len(labels), 1)
        same, joined = labels[iu[0]] == labels[iu[1]], pred[iu[0]] == pred[iu[1]]
        tp += int(np.count_nonzero(same & joined))
        fp += int(np.count_nonzero(~same & joined))
        fn += int(np.count_nonzero(same & ~joined))
    return 2 * tp / max(2 * tp + fp + fn, 1)


def people_threshold(videos: list[tuple[list[Track], np.ndarray]], grid: np.ndarray) -> tuple[float, np.ndarray]:
    """The middle of the grid range with F1 >= TARGET_F1 (else the best F1), and the F1 of every grid value."""
    f1 = np.array([pairwise_f1(videos, float(t)) for t in grid])
    good = grid[f1 >= TARGET_F1]
    if not len(good):
        return float(grid[int(np.argmax(f1))]), f1
    return float(np.floor(100 * (good.min() + good.max()) / 2 + 1e-9) / 100), f1


def median_sharpness(cfg: FrontEndConfig, images: Sequence[Path], device: str) -> float:
    """Median sharpness of the chips of the faces the front end finds in ``images``."""
    extractor = build_extractor(cfg, device=device)
    frames = (Frame(load_rgb(Path(p)), i, float(i)) for i, p in enumerate(images))
    threshold = cfg.thresholds("facedet")[0]
    return float(np.median(np.concatenate([f.meta.sharpness for f in extractor.stream_faces(frames, threshold)])))


def _moved(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` shifted by up to 15 px and zoomed in by up to 20%, at its size (a camera move within a shot)."""
    from PIL import Image

    h, w = image.shape[:2]
    c = int(min(h, w) * rng.uniform(0, 0.2) / 2)
    dx, dy = rng.integers(-15, 16, size=2)
    crop = image[max(c + dy, 0):h - c + dy, max(c + dx, 0):w - c + dx]
    return np.asarray(Image.fromarray(crop).resize((w, h)))


def cut_report(images: Sequence[Path], thresholds: Sequence[float] = (0.2, 0.3, 0.4, 0.5)) -> list[str]:
    """Comment lines: false cuts (moved photo) and missed cuts (another photo) of each cut threshold."""
    rng = np.random.default_rng(0)
    photos = [load_rgb(Path(p)) for p in images]
    hists = [colour_histogram(x) for x in photos]
    moved = np.array([histogram_distance(h, colour_histogram(_moved(x, rng))) for h, x in zip(hists, photos)])
    other = np.array([histogram_distance(hists[i], hists[(i + 1) % len(hists)]) for i in range(len(hists))])
    return [f"# cut_threshold {t:.2f}: false cuts {np.mean(moved > t):.3f}, missed cuts {np.mean(other <= t):.3f}"
            for t in thresholds]


def choose(cfg: FrontEndConfig, pairs: Pairs, out_dir: Path, device: str = "cpu") -> dict[str, float]:
    """The three config values (and log lines of how they came out)."""
    embeds, found, _ = cached_embeddings(cfg, pairs, out_dir / "cache", device, 64, cfg.thresholds("facedet")[0])
    names = identities(pairs.images)[found]
    embeds = embeds[found] / np.maximum(np.linalg.norm(embeds[found], axis=1, keepdims=True), 1e-12)
    grid = np.round(np.arange(-0.2, 1.0, 0.01), 2)
    videos = pseudo_videos(embeds, names)
    thr, f1 = people_threshold(videos, grid)
    for t, f in zip(grid, f1):
        if f >= 0.9:
            print(f"# people_ahc_thr {t:.2f}: pairwise F1 {f:.4f}")
    step = max(1, len(pairs.images) // SHARPNESS_IMAGES)
    sharp = median_sharpness(cfg, pairs.images[::step][:SHARPNESS_IMAGES], device)
    print("\n".join(cut_report(pairs.images[::step // 2 or 1][:2 * SHARPNESS_IMAGES])))
    return {"track_min_cos": round(min_cos_at_far(embeds, names), 2), "people_ahc_thr": thr,
            "track_sharpness_ref": float(f"{sharp:.2g}")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lfw-dir", required=True, help="folder the pair paths are relative to")
    p.add_argument("--pairs", required=True, help="pairs_resolved.csv or pairs.txt")
    p.add_argument("--pairs-per-fold", type=int, default=30, help="the first N same and N different pairs per fold")
    p.add_argument("--out-dir", default="exp/lfw", help="the embedding cache of hyp_face.eval.lfw goes here")
    p.add_argument("--device", default="cpu")
    add_frontend_args(p)
    args = p.parse_args(argv)
    setup_logging(1)
    pin_threads(None)
    pairs = read_pairs(args.pairs, args.lfw_dir).subset(args.pairs_per_fold)
    for name, value in choose(FrontEndConfig.from_args(args), pairs, Path(args.out_dir), args.device).items():
        print(f"{name}={value:g}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

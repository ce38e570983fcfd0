"""Benchmark of the identification metrics and the re-ranking on synthetic scores.

    python -m hyp_face.bench.identification [--probes 10000] [--gallery 10000] [--per-identity 10]
        [--rerank-sizes 1000,2000,5000] [--repeats 1]

Metrics: closed-set CMC, DIR@FPIR, mAP/Rank-k on a probes x gallery matrix, and the pairwise ID rate with
AUC on a probes x probes matrix plus the gallery as distractors. Scores are N(0, 1), mates shifted by +2;
each identity has ``per_identity`` gallery items. Target on the 2-core CPU: each metric on 10^4 x 10^4 in
under 10 s. Re-ranking: k-reciprocal (k1 = 20, k2 = 6) and ECN (rank, dist) on clustered unit vectors with
N = Q + G items, Q = N / 10. Prints one JSON object with the wall times and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Callable

import numpy as np

from hyp_face.metrics.identification import closed_set_cmc, dir_at_fpir, id_rate_pairs, retrieval_map
from hyp_face.rerank import ecn, k_reciprocal


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic_scores(n_probe: int, n_gallery: int, per_identity: int, seed: int = 0):
    """(scores, probe_ids, gallery_ids): a tenth of the probes are unknown identities."""
    rng = np.random.default_rng(seed)
    n_ident = max(1, n_gallery // per_identity)
    gallery_ids = np.arange(n_gallery) % n_ident
    probe_ids = rng.integers(0, n_ident, n_probe)
    probe_ids[: n_probe // 10] += n_ident  # unknown
    scores = rng.normal(size=(n_probe, n_gallery))
    scores += 2.0 * (probe_ids[:, None] == gallery_ids[None, :])
    return scores, probe_ids, gallery_ids


def bench_metrics(n_probe: int, n_gallery: int, per_identity: int, repeats: int) -> dict:
    """Wall time (best of ``repeats``) of each metric on one synthetic matrix."""
    scores, probe_ids, gallery_ids = synthetic_scores(n_probe, n_gallery, per_identity)
    known = np.isin(probe_ids, gallery_ids)
    closed = scores[known], probe_ids[known], gallery_ids
    qq = np.random.default_rng(1).normal(size=(n_probe, n_probe))
    qq += 2.0 * (probe_ids[:, None] == probe_ids[None, :])  # the pairwise ID rate: query x query, mates +2
    jobs = {
        "closed_set_cmc": lambda: closed_set_cmc(*closed),
        "dir_at_fpir": lambda: dir_at_fpir(scores, probe_ids, gallery_ids),
        "retrieval_map": lambda: retrieval_map(scores, probe_ids, gallery_ids),
        "id_rate_pairs": lambda: id_rate_pairs(qq, probe_ids, scores),
    }
    return {name: _best_time(fn, repeats) for name, fn in jobs.items()}


def clustered_similarities(n_query: int, n_gallery: int, dim: int = 128, seed: int = 0):
    """Cosine similarities (qg, qq, gg) of unit vectors around n / 10 centres."""
    rng = np.random.default_rng(seed)
    n = n_query + n_gallery
    centres = rng.normal(size=(max(1, n // 10), dim))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q, g = x[:n_query], x[n_query:]
    return q @ g.T, q @ q.T, g @ g.T


def bench_rerank(sizes: list[int], repeats: int) -> dict:
    """Wall time of each re-ranking at each total item count N (Q = N / 10 queries)."""
    out = {}
    for n in sizes:
        sims = clustered_similarities(max(1, n // 10), n - max(1, n // 10))
        out[str(n)] = {
            "k_reciprocal": _best_time(lambda: k_reciprocal(*sims), repeats),
            "ecn_rank": _best_time(lambda: ecn(*sims, method="rank"), repeats),
            "ecn_dist": _best_time(lambda: ecn(*sims, method="dist"), repeats),
        }
    return out


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "numpy": np.__version__}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probes", type=int, default=10000)
    p.add_argument("--gallery", type=int, default=10000)
    p.add_argument("--per-identity", type=int, default=10, help="gallery items per identity")
    p.add_argument("--rerank-sizes", default="1000,2000,5000", help="comma-separated item counts N ('' for none)")
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.rerank_sizes.split(",") if s]
    result = {
        "machine": machine(),
        "metrics": {"probes": args.probes, "gallery": args.gallery, "per_identity": args.per_identity,
                    "wall_s": bench_metrics(args.probes, args.gallery, args.per_identity, args.repeats)},
        "rerank_wall_s": bench_rerank(sizes, args.repeats),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

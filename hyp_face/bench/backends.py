"""Benchmark of the back-ends v1-v9 on a synthetic SRE19-eval-sized problem (not a test).

Problem (defaults): 600 models with 1-5 reference faces, 2,000 test videos with 15 faces on average (geometric,
at most 200, 1-3 identities each), D = 512, a cohort of 30,000 faces; faces are identity centres plus noise
(same-identity cosine ~0.87), so AHC and attention have structure to work on. Reports wall time and peak traced
memory (numpy allocations, tracemalloc) of each back-end, plain and with each s-norm, as a markdown table.

    OMP_NUM_THREADS=1 python -m hyp_face.bench.backends [--versions v1,v4] [--snorm none,faithful] [--workers 2]
    python -m hyp_face.bench.backends --device cuda      # torch float64 on a GPU
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from hyp_face.backend.engine import NumpyEngine, TorchEngine, make_engine
from hyp_face.backend.versions import (
    VERSIONS,
    BackendParams,
    Scorer,
    enroll_side,
    test_side,
)

NOISE = 0.017  # per dimension: |noise|^2 = 512 * 0.017^2 ~ 0.15


def make_problem(num_models: int, num_tests: int, mean_faces: int, max_faces: int, cohort: int, dim: int,
                 seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Reference sets, test sets and cohort faces (float64)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4 * num_models, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def faces(ids: np.ndarray) -> np.ndarray:
        return centres[ids] + NOISE * rng.normal(size=(len(ids), dim))

    refs = [faces(np.full(rng.integers(1, 6), m)) for m in range(num_models)]
    sizes = np.minimum(rng.geometric(1.0 / mean_faces, size=num_tests), max_faces)
    tests = [faces(rng.choice(rng.integers(0, len(centres), size=rng.integers(1, 4)), size=n)) for n in sizes]
    return refs, tests, faces(rng.integers(0, len(centres), size=cohort))


def run_one(version: str, mode: str, refs, tests, cohort, ncoh: int, engine: NumpyEngine | TorchEngine,
            workers: int) -> tuple[float, float, str]:
    """Wall seconds, peak traced MiB (host numpy allocations) and peak GPU MiB ("-" off CUDA) of one back-end
    (sides + scoring + s-norm)."""
    params = BackendParams(version)  # the version's original values (v8: self_att_a 1)
    cuda = isinstance(engine, TorchEngine) and engine.device.type == "cuda"
    if cuda:
        engine.torch.cuda.reset_peak_memory_stats(engine.device)
    tracemalloc.start()
    start = time.perf_counter()
    scorer = Scorer(params, enroll_side(params, refs), np.arange(len(refs)), len(refs), engine=engine,
                    workers=workers)
    sides = test_side(params, tests)
    if mode == "none":
        scorer.score(sides)
    else:
        scorer.score(sides, scorer.cohort_norm(mode, cohort, ncoh, 0))
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    gpu_peak = f"{engine.torch.cuda.max_memory_allocated(engine.device) / 2**20:.0f}" if cuda else "-"
    return wall, peak, gpu_peak


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--versions", default=",".join(VERSIONS))
    p.add_argument("--snorm", default="none,faithful,asnorm")
    p.add_argument("--models", type=int, default=600)
    p.add_argument("--tests", type=int, default=2000)
    p.add_argument("--mean-faces", type=int, default=15)
    p.add_argument("--max-faces", type=int, default=200)
    p.add_argument("--cohort", type=int, default=30000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--ncoh", type=int, default=1000)
    p.add_argument("--engine", default="auto", choices=("auto", "numpy", "torch"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1, help="threads scoring blocks concurrently")
    args = p.parse_args(argv)
    engine = make_engine(args.engine, args.device)
    refs, tests, cohort = make_problem(args.models, args.tests, args.mean_faces, args.max_faces, args.cohort,
                                       args.dim)
    print(f"{len(refs)} models ({sum(map(len, refs))} reference faces), {len(tests)} test videos "
          f"({sum(map(len, tests))} faces, max {max(map(len, tests))}), cohort {len(cohort)}, D={args.dim}, "
          f"ncoh={args.ncoh}, engine {engine.name} on {args.device}, "
          f"{args.workers} worker(s)\n")
    print("| back-end | s-norm | wall (s) | peak traced RAM (MiB) | peak GPU (MiB) |\n|---|---|---:|---:|---:|",
          flush=True)
    for mode in args.snorm.split(","):
        for version in args.versions.split(","):
            wall, peak, gpu_peak = run_one(version, mode, refs, tests, cohort, args.ncoh, engine, args.workers)
            print(f"| {version} | {mode} | {wall:.1f} | {peak:.0f} | {gpu_peak} |", flush=True)


if __name__ == "__main__":
    main()

"""Back-end versions v1-v9 (spec 6.3) and the blocked model x test score matrix, with optional s-norm."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from . import ops
from .engine import NumpyEngine, TorchEngine
from .snorm import SNorm

VERSIONS = tuple(f"v{i}" for i in range(1, 10))


@dataclass(frozen=True)
class BackendParams:
    """Version and hyper-parameters (defaults of spec 12.1)."""

    version: str
    thr_ahc: float = 0.8
    self_att_a: float = 2.0
    att_a: float = 4.0

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"unknown back-end version {self.version!r}; expected one of {VERSIONS}")


def _identity(x: np.ndarray, p: BackendParams) -> np.ndarray:
    return x


def _mean(x: np.ndarray, p: BackendParams) -> np.ndarray:
    return ops.mean_vector(x)


def _median(x: np.ndarray, p: BackendParams) -> np.ndarray:
    return ops.median_vector(x)


def _ahc(x: np.ndarray, p: BackendParams) -> np.ndarray:
    return ops.ahc_centroids(x, p.thr_ahc)


def _self_att(x: np.ndarray, p: BackendParams) -> np.ndarray:
    return ops.self_attention(x, p.self_att_a)


Transform = Callable[[np.ndarray, BackendParams], np.ndarray]
# version -> (enrollment-side transform, test-side transform); v7 adds attention pooling when scoring.
SIDES: dict[str, tuple[Transform, Transform]] = {
    "v1": (_identity, _identity),
    "v2": (_mean, _identity),
    "v3": (_median, _identity),
    "v4": (_median, _ahc),
    "v5": (_ahc, _ahc),
    "v6": (_median, _self_att),
    "v7": (_median, _self_att),
    "v8": (_identity, _self_att),
    "v9": (_self_att, _self_att),
}


def enroll_side(params: BackendParams, refs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per enrollment video, the vectors the version scores with (float64)."""
    f = SIDES[params.version][0]
    return [f(np.asarray(r, dtype=np.float64), params) for r in refs]


def test_side(params: BackendParams, tests: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per test video, the vectors the version scores with (float64)."""
    f = SIDES[params.version][1]
    return [f(np.asarray(t, dtype=np.float64), params) for t in tests]


def video_blocks(sizes: Sequence[int], max_rows: int) -> list[tuple[int, int]]:
    """Consecutive video ranges ``[a, b)`` whose total size stays <= max_rows (a larger video is alone)."""
    blocks, start, total = [], 0, 0
    for i, n in enumerate(sizes):
        if total and total + n > max_rows:
            blocks.append((start, i))
            start, total = i, 0
        total += n
    if start < len(sizes):
        blocks.append((start, len(sizes)))
    return blocks


@dataclass
class Scorer:
    """Model x test score matrix of one version, computed over blocks of test videos.

    ``enroll`` holds the version's enrollment sets (one per enrollment video) and ``enroll_model`` the model index
    of each; scores of a model with several enrollment videos are the max over them. The score and s-norm
    matrices of each block live on ``engine`` (numpy by default, torch for a GPU); pooling runs in numpy.
    ``workers`` threads score blocks concurrently (the heavy numpy, scipy and BLAS calls release the GIL).
    """

    params: BackendParams
    enroll: list[np.ndarray]
    enroll_model: np.ndarray
    num_models: int
    block_rows: int = 4096
    mem_budget: float = 1e9
    engine: NumpyEngine | TorchEngine = field(default_factory=NumpyEngine)
    workers: int = 1

    def __post_init__(self) -> None:
        order = np.argsort(self.enroll_model, kind="stable")
        self.enroll = [self.enroll[i] for i in order]
        models = np.asarray(self.enroll_model)[order]
        if set(models.tolist()) != set(range(self.num_models)):
            raise ValueError("every model needs at least one enrollment video")
        self._model_starts = np.flatnonzero(np.r_[True, models[1:] != models[:-1]])
        video_starts = ops.starts_of([len(e) for e in self.enroll])
        self.enroll_matrix = np.concatenate(self.enroll)
        self._enroll_unit = self.engine.asarray(ops.l2_normalize(self.enroll_matrix))
        self._row_starts = video_starts[self._model_starts]  # a model's rows are contiguous after sorting

    def cohort_norm(self, mode: str, cohort: np.ndarray, ncoh: int, discard: int) -> SNorm:
        """The s-norm of this scorer's enrollment vectors against the raw ``cohort`` faces (N_c x D)."""
        return SNorm(mode, self._enroll_unit, cohort, ncoh, discard, self.engine)

    def score(self, tests: Sequence[np.ndarray], snorm: SNorm | None = None, progress: bool = False) -> np.ndarray:
        """(num_models x num_tests) scores of the version's test sets, s-normalised when ``snorm`` is given.

        ``progress`` draws a tqdm bar (test videos done) on stderr.
        """
        out = np.empty((self.num_models, len(tests)))
        rows = self.block_rows
        if snorm is not None:  # a few (N_cohort x block) float64 matrices live at once in each worker
            budget = self.mem_budget / self.workers
            rows = int(min(rows, max(64, budget // (48 * len(snorm.cohort)))))

        bar = tqdm(total=len(tests), desc="score", unit="video", disable=not progress, mininterval=5)

        def score_block(block: tuple[int, int]) -> None:
            a, b = block
            out[:, a:b] = self._score_block(tests[a:b], snorm)
            bar.update(b - a)

        blocks = video_blocks([len(t) for t in tests], rows)
        with bar:
            if self.workers > 1:
                with ThreadPoolExecutor(self.workers) as pool:
                    list(pool.map(score_block, blocks))
            else:
                for block in blocks:
                    score_block(block)
        return out

    def _score_block(self, tests: Sequence[np.ndarray], snorm: SNorm | None) -> np.ndarray:
        eng = self.engine
        if self.params.version == "v7":
            scores = eng.asarray(ops.attention_pool_cosine(self.enroll_matrix, tests, self.params.att_a))
            col_starts = np.arange(len(tests))
        else:
            test_unit = eng.asarray(ops.l2_normalize(np.concatenate(tests)))
            scores = self._enroll_unit @ test_unit.T
            col_starts = ops.starts_of([len(t) for t in tests])
        if snorm is not None:
            if self.params.version == "v7":
                test_cohort = ops.attention_pool_cosine(snorm.cohort, tests, self.params.att_a).T
                scores = snorm.normalize(scores, eng.asarray(np.ascontiguousarray(test_cohort)))
            else:
                scores = snorm.normalize(scores, test_unit @ snorm.cohort_unit.T, test_unit)
        return ops.group_max(eng.to_numpy(scores), self._row_starts, col_starts)

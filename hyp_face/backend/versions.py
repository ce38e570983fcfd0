"""Back-end versions v1-v9 (docs/original_recipe.md §6.3) and the blocked model x test score matrix, with optional
s-norm.

``SPECS`` describes each version once: its two sides, the parameters it uses, their defaults, the config keys that
set them and its directory name. The run scripts, ``make_res_tables``, the tuning code and every CLI read it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from . import ops
from .engine import NumpyEngine, TorchEngine
from .snorm import SNorm

Sets = Sequence[np.ndarray]  # one (N, D) matrix of vectors per video

#: Original values of the hyper-parameters (docs/original_recipe.md §12.1), shared by every version that uses them
#: unless the version has its own (``VersionSpec.own_defaults``).
PARAM_DEFAULTS: dict[str, float] = {"thr_ahc": 0.8, "self_att_a": 2.0, "att_a": 4.0}
#: How a parameter appears in a back-end's directory name (be_v4_thrahc0.8, be_v7_selfatt_a2_att_a4).
PARAM_TAGS: dict[str, str] = {"thr_ahc": "thrahc", "self_att_a": "selfatt_a", "att_a": "att_a"}
#: Size of one (N_cohort x block) s-norm matrix: blocks this small stay in the allocator's reused memory and closer
#: to the cache (10-15% faster than 160 MB blocks on 12,000 cohort faces).
SNORM_BLOCK_BYTES = 32e6
#: Seconds between two progress lines of :meth:`Scorer.score`.
PROGRESS_SECONDS = 10.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendParams:
    """Version and hyper-parameters; a parameter left out (None) takes the version's default (``default_value``)."""

    version: str
    thr_ahc: float = None  # type: ignore[assignment]  # resolved in __post_init__
    self_att_a: float = None  # type: ignore[assignment]
    att_a: float = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.version not in SPECS:
            raise ValueError(f"unknown back-end version {self.version!r}; expected one of {VERSIONS}")
        for name in PARAM_DEFAULTS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, default_value(self.version, name))
            else:
                object.__setattr__(self, name, float(getattr(self, name)))


def _identity(sets: Sets, p: BackendParams) -> Sets:
    return sets


def _mean(sets: Sets, p: BackendParams) -> Sets:
    return [ops.mean_vector(x) for x in sets]


def _median(sets: Sets, p: BackendParams) -> Sets:
    return [ops.median_vector(x) for x in sets]


def _ahc(sets: Sets, p: BackendParams) -> Sets:
    return [ops.ahc_centroids(x, p.thr_ahc) for x in sets]


def _self_att(sets: Sets, p: BackendParams) -> Sets:
    return ops.self_attention_sets(sets, p.self_att_a)


Transform = Callable[[Sets, BackendParams], Sets]  # one video's set of vectors each -> the version's


@dataclass(frozen=True)
class VersionSpec:
    """One back-end version: what each side scores with, the parameters it uses and its own defaults.

    ``own_defaults`` holds the parameters whose original value differs from ``PARAM_DEFAULTS`` (v8: self_att_a 1);
    a config sets those only through the version's own key (``config_keys``). ``attention_pooling`` (v7) scores
    each enrollment vector against its attention pooling (``att_a``) of the test side instead of the max cosine.
    """

    name: str
    enroll: Transform
    test: Transform
    summary: str
    params: tuple[str, ...] = ()
    own_defaults: Mapping[str, float] = field(default_factory=dict)
    attention_pooling: bool = False


SPECS: dict[str, VersionSpec] = {s.name: s for s in (
    VersionSpec("v1", _identity, _identity, "all reference faces x all test faces, max cosine"),
    VersionSpec("v2", _mean, _identity, "mean of the reference faces x all test faces, max cosine"),
    VersionSpec("v3", _median, _identity, "median of the reference faces x all test faces, max cosine"),
    VersionSpec("v4", _median, _ahc, "median of the reference faces x AHC cluster means of the test faces, "
                "max cosine", ("thr_ahc",)),
    VersionSpec("v5", _ahc, _ahc, "AHC cluster means on both sides, max cosine", ("thr_ahc",)),
    VersionSpec("v6", _median, _self_att, "median of the reference faces x self-attention-refined test faces, "
                "max cosine", ("self_att_a",)),
    VersionSpec("v7", _median, _self_att, "median of the reference faces x its attention pooling (att_a) over the "
                "self-attention-refined test faces, cosine", ("self_att_a", "att_a"), attention_pooling=True),
    VersionSpec("v8", _identity, _self_att, "all reference faces x self-attention-refined test faces, max cosine",
                ("self_att_a",), {"self_att_a": 1.0}),
    VersionSpec("v9", _self_att, _self_att, "self-attention-refined faces on both sides, max cosine",
                ("self_att_a",)),
)}
VERSIONS = tuple(SPECS)


def default_value(version: str, param: str) -> float:
    """The original value of ``param`` for ``version``."""
    return SPECS[version].own_defaults.get(param, PARAM_DEFAULTS[param])


def config_keys(version: str, param: str) -> tuple[str, ...]:
    """Config variables that set ``param`` for ``version``, strongest first.

    ``<param>_<version>`` (e.g. ``thr_ahc_v5``) sets one version; ``<param>`` (e.g. ``self_att_a``) sets every
    version that shares the original default, so not v8's self_att_a (original 1): only ``self_att_a_v8`` sets it.
    """
    own = f"{param}_{version}"
    return (own,) if param in SPECS[version].own_defaults else (own, param)


def params_from_config(version: str, config: Mapping[str, str], given: Mapping[str, float | None] | None = None,
                       origin: str = "config") -> BackendParams:
    """Parameters of ``version``: ``given`` (command line, None = not given) > ``config`` keys > defaults. A given
    parameter that ``version`` does not take is an error: it would otherwise be ignored without a word."""
    unused = sorted(p for p, v in (given or {}).items() if v is not None and p not in SPECS[version].params)
    if unused:
        takes = ", ".join(f"--{p.replace('_', '-')}" for p in SPECS[version].params) or "no parameter"
        raise ValueError(f"{version} does not use --{unused[0].replace('_', '-')} (it takes {takes})")
    values: dict[str, float] = {}
    for param in SPECS[version].params:
        if given and given.get(param) is not None:
            values[param] = float(given[param])  # type: ignore[arg-type]
            continue
        key = next((k for k in config_keys(version, param) if config.get(k, "") != ""), None)
        if key is not None:
            try:
                values[param] = float(config[key])
            except ValueError:
                raise ValueError(f"{origin}: {key}={config[key]!r} is not a number") from None
    return BackendParams(version, **values)


def _number(value: float) -> str:
    """Shortest text that reads back as ``value``, without a trailing ``.0`` (40.0 -> 40, 0.95 -> 0.95)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def be_name(params: BackendParams) -> str:
    """Directory name of a back-end and its parameter values, e.g. ``be_v7_selfatt_a2_att_a4``."""
    tags = "".join(f"_{PARAM_TAGS[p]}{_number(getattr(params, p))}" for p in SPECS[params.version].params)
    return f"be_{params.version}{tags}"


def parse_be_name(name: str) -> BackendParams | None:
    """The back-end and parameters a directory name stands for (inverse of ``be_name``); None for another name."""
    version, _, rest = name.removeprefix("be_").partition("_")
    if not name.startswith("be_") or version not in SPECS:
        return None
    values = {}
    for param in SPECS[version].params:
        tag = PARAM_TAGS[param]
        if not rest.startswith(tag):
            return None
        number, _, rest = rest[len(tag):].partition("_")
        try:
            values[param] = float(number)
        except ValueError:
            return None
    if rest:
        return None
    params = BackendParams(version, **values)
    return params if be_name(params) == name else None


def be_options(params: BackendParams) -> list[str]:
    """``eval_be`` command-line words that reproduce ``params`` (only the parameters the version uses)."""
    words = ["--backend", params.version]
    for p in SPECS[params.version].params:
        words += [f"--{p.replace('_', '-')}", _number(getattr(params, p))]
    return words


def enroll_side(params: BackendParams, refs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per enrollment video, the vectors the version scores with (float64)."""
    return SPECS[params.version].enroll([np.asarray(r, dtype=np.float64) for r in refs], params)


def test_side(params: BackendParams, tests: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per test video, the vectors the version scores with (float64)."""
    return SPECS[params.version].test([np.asarray(t, dtype=np.float64) for t in tests], params)


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
    unit_enroll: bool = True  # False: score the enrollment / test vectors as they are (mean-of-pairs aggregator)
    unit_test: bool = True

    def __post_init__(self) -> None:
        order = np.argsort(self.enroll_model, kind="stable")
        self.enroll = [self.enroll[i] for i in order]
        models = np.asarray(self.enroll_model)[order]
        if set(models.tolist()) != set(range(self.num_models)):
            raise ValueError("every model needs at least one enrollment video")
        self._model_starts = np.flatnonzero(np.r_[True, models[1:] != models[:-1]])
        video_starts = ops.starts_of([len(e) for e in self.enroll])
        self.enroll_matrix = np.concatenate(self.enroll)
        self._enroll_unit = self.engine.asarray(_unit(self.enroll_matrix, self.unit_enroll))
        self._row_starts = video_starts[self._model_starts]  # a model's rows are contiguous after sorting

    def cohort_norm(self, mode: str, cohort: np.ndarray, ncoh: int, discard: int) -> SNorm:
        """The s-norm of this scorer's enrollment vectors against the raw ``cohort`` faces (N_c x D)."""
        return SNorm(mode, self._enroll_unit, cohort, ncoh, discard, self.engine)

    def score(self, tests: Sequence[np.ndarray], snorm: SNorm | None = None, progress: bool = False) -> np.ndarray:
        """(num_models x num_tests) scores of the version's test sets, s-normalised when ``snorm`` is given.

        ``progress`` logs the test videos done (:class:`ProgressLog`).
        """
        out = np.empty((self.num_models, len(tests)))
        rows = self.block_rows
        if snorm is not None:  # a few (N_cohort x block) float64 matrices live at once in each worker
            budget = min(self.mem_budget / self.workers / 6, SNORM_BLOCK_BYTES)
            rows = int(min(rows, max(64, budget // (8 * len(snorm.cohort)))))

        done = ProgressLog("score", len(tests), "test videos", progress)

        def score_block(block: tuple[int, int]) -> None:
            a, b = block
            out[:, a:b] = self._score_block(tests[a:b], snorm)
            done.update(b - a)

        blocks = video_blocks([len(t) for t in tests], rows)
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor  # on first use: one worker needs no pool

            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(score_block, blocks))
        else:
            for block in blocks:
                score_block(block)
        return out

    def _score_block(self, tests: Sequence[np.ndarray], snorm: SNorm | None) -> np.ndarray:
        eng = self.engine
        pooled = SPECS[self.params.version].attention_pooling
        if pooled:
            scores = eng.asarray(ops.attention_pool_cosine(self.enroll_matrix, tests, self.params.att_a))
            col_starts = np.arange(len(tests))
        else:
            test_unit = eng.asarray(_unit(np.concatenate(tests), self.unit_test))
            scores = self._enroll_unit @ test_unit.T
            col_starts = ops.starts_of([len(t) for t in tests])
        if snorm is not None:
            if pooled:
                test_cohort = ops.attention_pool_cosine(snorm.cohort, tests, self.params.att_a).T
                scores = snorm.normalize(scores, eng.asarray(np.ascontiguousarray(test_cohort)))
            else:
                scores = snorm.normalize(scores, test_unit @ snorm.cohort_unit.T, test_unit)
        return ops.group_max(eng.to_numpy(scores), self._row_starts, col_starts)


class ProgressLog:
    """Logs ``<what>: <done>/<total> <unit>`` at most every :data:`PROGRESS_SECONDS` and when all are done
    (thread-safe): the job log's progress, at no import cost (a tqdm import was 3% of a plain back-end's run)."""

    def __init__(self, what: str, total: int, unit: str, enabled: bool = True) -> None:
        self.what, self.total, self.unit, self.enabled = what, total, unit, enabled
        self.done = 0
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def update(self, count: int) -> None:
        """``count`` more done."""
        with self.lock:
            self.done += count
            now = time.monotonic()
            if self.enabled and (self.done >= self.total or now - self.last >= PROGRESS_SECONDS):
                self.last = now
                log.info("%s: %d/%d %s (%.1f s)", self.what, self.done, self.total, self.unit, now - self.start)


def _unit(x: np.ndarray, normalize: bool) -> np.ndarray:
    """Rows L2-normalised, or as they are (float64) when ``normalize`` is False."""
    return ops.l2_normalize(x) if normalize else np.asarray(x, dtype=np.float64)

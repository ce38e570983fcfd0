"""Array engines of the back-end: numpy on the CPU (default) or torch (CPU or CUDA), both float64.

An engine provides the few operations whose best form differs between the two: moving arrays, cohort selection
(ranks ``discard .. discard+k-1`` of each row, descending, ties: larger column index first, the rule of
:mod:`hyp_face.backend.snorm`) and sums over a selection. Everything else is written once with ``@`` and
arithmetic operators, which both array types share.

* numpy keeps a selection as a CSR 0/1 matrix with sorted column indices and sums selected rows in column strips
  of :data:`STRIP` columns, which stay in cache (about 3x faster than one product over the whole width);
  :meth:`NumpyEngine.dense` gives the 0/1 matrix for the sums that BLAS does faster.
* torch keeps a selection as a dense 0/1 float64 matrix, so every sum is one matmul: cheap on a GPU.

scipy.sparse is imported on first use: the back-ends without s-norm never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

STRIP = 48
TILE = 1024
SAMPLE_STRIDE = 8  # top_values bounds each row's threshold from every 8th column
TOP_ROWS = 128  # rows that top_values treats at once (its temporaries stay in cache: 1.5x faster)


def rank_indices(scores: np.ndarray, discard: int, k: int) -> np.ndarray:
    """(rows x k) column indices, ascending, of the ranks ``discard .. discard+k-1`` of each row.

    Thresholds come from ``np.partition`` of the values (10x faster than ``argpartition``), through
    :func:`top_values`; rows whose thresholds are tied with other entries are redone exactly with :func:`top_mask`.
    """
    rows, n = scores.shape
    top = discard + k
    if k <= 0 or top > n:
        raise ValueError(f"ranks {discard}..{top - 1} requested from {n} cohort vectors")
    part = top_values(scores, top)
    mask = scores >= part[:, :1]
    exact = mask.sum(axis=1) == top
    if discard:
        high = np.partition(part, top - discard, axis=1)[:, top - discard, None]
        above = scores >= high
        exact &= above.sum(axis=1) == discard
        mask &= ~above
    tied = np.flatnonzero(~exact)
    if len(tied):
        mask[tied] = top_mask(scores[tied], top) & ~top_mask(scores[tied], discard)
    return np.nonzero(mask)[1].reshape(rows, k)


def top_values(scores: np.ndarray, top: int) -> np.ndarray:
    """(rows x top) the ``top`` largest values of each row, the ``top``-th largest first (``np.partition``'s layout).

    A strided sample of each row bounds its threshold from below; the values above the bound (about 1.5 ``top``)
    are partitioned instead of the whole row, several times faster for ``top`` << n. Rows where the bound keeps
    fewer than ``top`` values are partitioned whole, so the result is always exact.
    """
    if len(scores) <= TOP_ROWS:
        return _top_values(scores, top)
    return np.concatenate([_top_values(scores[a:a + TOP_ROWS], top) for a in range(0, len(scores), TOP_ROWS)])


def _top_values(scores: np.ndarray, top: int) -> np.ndarray:
    """:func:`top_values` of a few rows."""
    rows, n = scores.shape
    sample = scores[:, ::SAMPLE_STRIDE]
    m = sample.shape[1]
    r = min(m, -(-top // SAMPLE_STRIDE) * 3 // 2 + 16)  # sample rank of the bound: ~1.5 top values stay above it
    if not rows or 4 * r > m:  # top is not small against n: nothing to gain
        return np.partition(scores, n - top, axis=1)[:, n - top:]  # a scalar kth takes numpy's SIMD path
    bound = np.partition(sample, m - r, axis=1)[:, m - r, None]
    above = scores >= bound
    counts = above.sum(axis=1)
    width = int(counts.max())
    if 2 * width > n:  # heavy ties at the bound
        return np.partition(scores, n - top, axis=1)[:, n - top:]
    packed = np.full((rows, width), -np.inf)
    packed[np.arange(width) < counts[:, None]] = scores[above]
    part = np.partition(packed, width - top, axis=1)[:, width - top:]
    short = np.flatnonzero(counts < top)
    if len(short):
        part[short] = np.partition(scores[short], n - top, axis=1)[:, n - top:]
    return part


def top_mask(scores: np.ndarray, top: int) -> np.ndarray:
    """Boolean mask of the ``top`` largest entries of each row (ties: larger column index first)."""
    n = scores.shape[1]
    if top <= 0:
        return np.zeros(scores.shape, dtype=bool)
    if top >= n:
        return np.ones(scores.shape, dtype=bool)
    kth = np.partition(scores, n - top, axis=1)[:, n - top, None]
    greater, equal = scores > kth, scores == kth
    needed = top - greater.sum(axis=1, keepdims=True)
    equal_from_end = np.cumsum(equal[:, ::-1], axis=1)[:, ::-1]
    return greater | (equal & (equal_from_end <= needed))


class NumpyEngine:
    """numpy / scipy on the CPU."""

    name = "numpy"

    def asarray(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return x

    def concat(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """Matrices stacked along the rows."""
        return np.concatenate(parts)

    def select(self, scores: np.ndarray, discard: int, k: int) -> sparse.csr_matrix:
        """CSR (rows x n) 0/1 matrix of the selected ranks of each row."""
        from scipy import sparse

        rows, n = scores.shape
        index = rank_indices(scores, discard, k)
        return sparse.csr_matrix((np.ones(rows * k), index.ravel(), np.arange(0, rows * k + 1, k)), shape=(rows, n))

    def prepare(self, rows: np.ndarray) -> list[np.ndarray]:
        """Column strips of ``rows.T`` (n x m), ready for repeated :meth:`selected_sums`.

        The transpose is copied in tiles of :data:`TILE` columns, which keeps it in cache (9x faster).
        """
        m, n = rows.shape
        strips = []
        for a in range(0, m, STRIP):
            strip = np.empty((n, min(STRIP, m - a)))
            for c in range(0, n, TILE):
                strip[c:c + TILE] = rows[a:a + STRIP, c:c + TILE].T
            strips.append(strip)
        return strips

    def dense(self, sel: sparse.csr_matrix) -> np.ndarray:
        """The selection as a dense 0/1 float64 matrix."""
        return sel.toarray()

    def selected_sums(self, sel: sparse.csr_matrix, prepared: list[np.ndarray]) -> np.ndarray:
        """``out[i, j] = sum of rows[j, c] over the selected c of row i``: (sel rows x m)."""
        return np.hstack([sel @ strip for strip in prepared])

    def own_sums(self, scores: np.ndarray, sel: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the sum and the sum of squares of its own selected entries."""
        picked = np.take_along_axis(scores, sel.indices.reshape(scores.shape[0], -1), axis=1)
        return picked.sum(axis=1), (picked * picked).sum(axis=1)


class TorchEngine:
    """torch float64 on ``device`` (``cpu``, ``cuda``, ``cuda:N``)."""

    name = "torch"

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"back-end device {device!r} requested but CUDA is not available")

    def asarray(self, x: Any) -> Any:
        if isinstance(x, self.torch.Tensor):
            return x.to(self.device, self.torch.float64)
        return self.torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.cpu().numpy()

    def concat(self, parts: Sequence[Any]) -> Any:
        return self.torch.cat(list(parts))

    def top_mask(self, scores: Any, top: int) -> Any:
        """Torch twin of :func:`top_mask` (same tie rule), with ``topk`` for the threshold."""
        n = scores.shape[1]
        if top <= 0 or top >= n:
            return self.torch.full(scores.shape, top > 0, dtype=self.torch.bool, device=scores.device)
        kth = self.torch.topk(scores, top, dim=1).values[:, -1:]
        greater, equal = scores > kth, scores == kth
        needed = top - greater.sum(dim=1, keepdim=True)
        equal_from_end = equal.flip(1).cumsum(dim=1).flip(1)
        return greater | (equal & (equal_from_end <= needed))

    def select(self, scores: Any, discard: int, k: int) -> Any:
        """Dense (rows x n) 0/1 float64 matrix of the selected ranks of each row."""
        n = scores.shape[1]
        if k <= 0 or discard + k > n:
            raise ValueError(f"ranks {discard}..{discard + k - 1} requested from {n} cohort vectors")
        mask = self.top_mask(scores, discard + k) & ~self.top_mask(scores, discard)
        return mask.to(self.torch.float64)

    def dense(self, sel: Any) -> Any:
        return sel

    def prepare(self, rows: Any) -> Any:
        return rows.T

    def selected_sums(self, sel: Any, prepared: Any) -> Any:
        return sel @ prepared

    def own_sums(self, scores: Any, sel: Any) -> tuple[Any, Any]:
        picked = scores * sel
        return picked.sum(dim=1), (picked * scores).sum(dim=1)


def make_engine(engine: str = "auto", device: str = "cpu") -> NumpyEngine | TorchEngine:
    """``numpy`` (CPU only), ``torch`` on ``device``, or ``auto``: numpy on the CPU, torch on a GPU."""
    if engine == "auto":
        engine = "numpy" if device == "cpu" else "torch"
    if engine == "numpy":
        if device != "cpu":
            raise ValueError(f"the numpy engine runs on the CPU only, not {device!r}; use --engine torch")
        return NumpyEngine()
    if engine == "torch":
        return TorchEngine(device)
    raise ValueError(f"unknown back-end engine {engine!r}; expected auto, numpy or torch")

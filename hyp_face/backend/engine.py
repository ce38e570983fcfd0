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

from ..cli import checked_device

if TYPE_CHECKING:
    from scipy import sparse

STRIP = 48
TILE = 1024
SAMPLE_STRIDE = 8  # _candidates bounds each row's threshold from every 8th column
TOP_ROWS = 128  # rows that rank_indices treats at once


def rank_indices(scores: np.ndarray, discard: int, k: int) -> np.ndarray:
    """(rows x k) column indices, ascending, of the ranks ``discard .. discard+k-1`` of each row.

    Rows are ranked :data:`TOP_ROWS` at a time (their temporaries stay in cache: 1.5x faster) by
    :func:`_rank_rows`; rows tied at a threshold are redone exactly with :func:`top_mask`.
    """
    rows, n = scores.shape
    top = discard + k
    if k <= 0 or top > n:
        raise ValueError(f"ranks {discard}..{top - 1} requested from {n} cohort vectors")
    if rows <= TOP_ROWS:
        return _rank_rows(scores, discard, k)
    return np.concatenate([_rank_rows(scores[a:a + TOP_ROWS], discard, k) for a in range(0, rows, TOP_ROWS)])


def _rank_rows(scores: np.ndarray, discard: int, k: int) -> np.ndarray:
    """:func:`rank_indices` of a few rows, from the candidates of :func:`_candidates` in one pass.

    The ``top``-th largest value of each row comes from ``np.partition`` of its candidates (10x faster than
    ``argpartition``); the candidates at or above it are the selection when there are exactly ``top`` of them
    (and exactly ``discard`` at or above the ``discard``-th largest); other rows (ties) go to :func:`top_mask`.
    """
    rows, n = scores.shape
    top = discard + k
    if not rows:
        return np.empty((0, k), dtype=np.int64)
    row_of, cols, vals, counts = _candidates(scores, top)
    width = int(counts.max())
    packed = np.full((rows, width), -np.inf)
    packed[np.arange(width) < counts[:, None]] = vals
    part = np.partition(packed, width - top, axis=1)[:, width - top:]  # the top largest, the top-th first
    keep = vals >= part[row_of, 0]
    exact = np.bincount(row_of[keep], minlength=rows) == top
    if discard:
        drop = vals >= np.partition(part, top - discard, axis=1)[row_of, top - discard]
        exact &= np.bincount(row_of[drop], minlength=rows) == discard
        keep &= ~drop
    out = np.empty((rows, k), dtype=np.int64)
    out[exact] = cols[keep & exact[row_of]].reshape(-1, k)
    tied = np.flatnonzero(~exact)
    if len(tied):
        mask = top_mask(scores[tied], top) & ~top_mask(scores[tied], discard)
        out[tied] = (np.flatnonzero(mask) % n).reshape(len(tied), k)
    return out


def _candidates(scores: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entries that may be among the ``top`` largest of their row: ``(row, column, value)`` of each, row-major
    with ascending columns, and the count per row.

    A strided sample of each row bounds its threshold from below: about 1.5 ``top`` values stay above it, several
    times fewer than the row for ``top`` << n. A row where the bound keeps fewer than ``top`` values, and every
    row when ``top`` is not small against n or ties crowd the bound, keeps all its entries.
    """
    rows, n = scores.shape
    sample = scores[:, ::SAMPLE_STRIDE]
    m = sample.shape[1]
    r = min(m, -(-top // SAMPLE_STRIDE) * 3 // 2 + 16)  # sample rank of the bound: ~1.5 top values stay above it
    if 4 * r <= m:
        above = scores >= np.partition(sample, m - r, axis=1)[:, m - r, None]
        counts = np.count_nonzero(above, axis=1)
        if 2 * int(counts.max()) <= n:  # else: heavy ties at the bound
            above[counts < top] = True
            flat = np.flatnonzero(above)  # 20x faster than a 2-D np.nonzero
            row_of, cols = np.divmod(flat, n)
            return row_of, cols, scores.ravel()[flat], np.bincount(row_of, minlength=rows)
    row_of, cols = np.divmod(np.arange(rows * n), n)
    return row_of, cols, scores.ravel(), np.full(rows, n)


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

    def select(self, scores: np.ndarray, discard: int, k: int) -> sparse.csr_matrix:
        """CSR (rows x n) 0/1 matrix of the selected ranks of each row."""
        from scipy import sparse

        rows, n = scores.shape
        index = rank_indices(scores, discard, k)
        return sparse.csr_matrix((np.ones(rows * k), index.ravel(), np.arange(0, rows * k + 1, k)), shape=(rows, n))

    def prepare(self, parts: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Column strips of the rows of ``parts`` stacked and transposed (n x sum of m_i), ready for repeated
        :meth:`selected_sums`.

        Each part (m_i x n) gets its own strips, copied in tiles of :data:`TILE` columns, which keeps the transpose
        in cache (9x faster), and never stacked: a part given as a transposed view is read in its own order. The
        sums of a column do not depend on its strip, so the strips' cut does not change a bit.
        """
        strips = []
        for rows in parts:
            m, n = rows.shape
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
        self.device = torch.device(checked_device(device))

    def asarray(self, x: Any) -> Any:
        if isinstance(x, self.torch.Tensor):
            return x.to(self.device, self.torch.float64)
        return self.torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.cpu().numpy()

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

    def prepare(self, parts: Sequence[Any]) -> Any:
        return self.torch.cat(list(parts)).T

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

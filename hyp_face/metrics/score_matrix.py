"""On-disk score matrix: one uncompressed ``.npz`` holding a full matrix and the keys of its rows and columns.

Format (read with ``allow_pickle=False``; written atomically, umask respected)::

    scores    float32 or float64, shape (R, C)   scores[r, c] for row key r, column key c
    row_keys  unicode array, shape (R,)          unique item keys (e.g. probe / query utterance ids)
    col_keys  unicode array, shape (C,)          unique item keys (e.g. gallery items)
    kind      0-d unicode array                  "similarity" (higher = more alike) or "distance" (lower)

API::

    ScoreMatrix(scores, row_keys, col_keys, kind="similarity")   .similarity() -> higher-is-better matrix
    write_score_matrix(path, matrix) -> None
    read_score_matrix(path) -> ScoreMatrix     # ValueError naming the file on any bad content

Back-ends write similarities (cosine or PLDA LLR); re-ranking (``hyp_face.rerank``) writes distances.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from hyp_face.io.table import atomic_write

KINDS = ("similarity", "distance")


@dataclass(frozen=True)
class ScoreMatrix:
    scores: np.ndarray
    row_keys: np.ndarray
    col_keys: np.ndarray
    kind: str = "similarity"

    def similarity(self) -> np.ndarray:
        """The scores with higher = more alike (distances negated)."""
        return self.scores if self.kind == "similarity" else -self.scores


def _duplicate(keys: np.ndarray) -> str | None:
    uniq, counts = np.unique(keys, return_counts=True)
    return str(uniq[counts > 1][0]) if (counts > 1).any() else None


def validate(matrix: ScoreMatrix, source: str) -> ScoreMatrix:
    """``matrix`` itself; ValueError naming ``source`` for a bad kind, shape, duplicate key or NaN score."""
    if matrix.kind not in KINDS:
        raise ValueError(f"{source}: kind {matrix.kind!r} is not one of {KINDS}")
    rows, cols = len(matrix.row_keys), len(matrix.col_keys)
    if matrix.scores.shape != (rows, cols):
        raise ValueError(f"{source}: scores shape {matrix.scores.shape} does not match {rows} row keys "
                         f"x {cols} column keys")
    for axis, keys in (("row", matrix.row_keys), ("column", matrix.col_keys)):
        dup = _duplicate(keys)
        if dup is not None:
            raise ValueError(f"{source}: duplicate {axis} key {dup!r}")
    bad = np.flatnonzero(np.isnan(matrix.scores).any(axis=1))
    if bad.size:
        raise ValueError(f"{source}: NaN score in row {int(bad[0])} (key {str(matrix.row_keys[bad[0]])!r})")
    return matrix


def write_score_matrix(path: str | os.PathLike, matrix: ScoreMatrix) -> None:
    """Validate ``matrix`` and write it atomically to ``path`` in the format above."""
    validate(matrix, str(path))
    with atomic_write(path, "wb") as f:
        np.savez(f, scores=matrix.scores, row_keys=np.asarray(matrix.row_keys, dtype=str),
                 col_keys=np.asarray(matrix.col_keys, dtype=str), kind=np.asarray(matrix.kind))


def read_score_matrix(path: str | os.PathLike) -> ScoreMatrix:
    """Read and validate a score matrix written by ``write_score_matrix``."""
    with np.load(path, allow_pickle=False) as z:
        missing = {"scores", "row_keys", "col_keys", "kind"} - set(z.files)
        if missing:
            raise ValueError(f"{path}: not a score matrix, missing {sorted(missing)}")
        matrix = ScoreMatrix(z["scores"], z["row_keys"], z["col_keys"], str(z["kind"]))
    return validate(matrix, str(path))

"""Score files ``<model> <test> <score>`` joined to trial lists ``<model> <test> [target|nontarget]``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hyp_face.io.datadir import read_trials
from hyp_face.io.table import TableError, read_columns, read_rows, write_lines


@dataclass
class Trials:
    """A trial list: parallel model and test ids and target flags (None when unlabelled), in file order."""

    models: list[str]
    tests: list[str]
    is_target: np.ndarray | None  # bool (N,)

    def __len__(self) -> int:
        return len(self.models)

    def spec_order(self) -> np.ndarray:
        """Permutation sorting the trials by test id, then model id (calibrated files, docs/original_recipe.md §6.4);
        stable, so repeated pairs keep their order."""
        return np.lexsort((sort_codes(self.models), sort_codes(self.tests)))


def sort_codes(names: Sequence[str]) -> np.ndarray:
    """Integer code of each name, numbered in the names' sorted order, so that sorting the codes sorts the names (5x
    faster than sorting them as a numpy unicode array, which also holds every name at the longest one's width)."""
    rank = {name: i for i, name in enumerate(sorted(set(names)))}
    return np.fromiter(map(rank.__getitem__, names), np.int64, len(names))


def load_trials(path: str | os.PathLike, need_labels: bool = True) -> Trials:
    """Read a trial list (``hyp_face.io.datadir.read_trials``); a key with both classes if ``need_labels``."""
    trials = Trials(*read_trials(path))
    if not len(trials):
        raise TableError(path, 0, "no trials")
    if need_labels:
        if trials.is_target is None:
            raise TableError(path, 1, "trial list has no target/nontarget labels")
        if trials.is_target.all() or not trials.is_target.any():
            raise TableError(path, 0, "a key needs both target and nontarget trials")
    return trials


def _parse_scores(path: str | os.PathLike, rows: list[tuple[int, list[str]]]) -> np.ndarray:
    """Third column as float64; the first unparsable or NaN value is an error naming its line."""
    try:
        scores = np.array([f[2] for _, f in rows], dtype=np.float64)
    except ValueError:
        scores = None
    if scores is None or np.isnan(scores).any():
        for lineno, fields in rows:
            try:
                value = float(fields[2])
            except ValueError:
                value = np.nan
            if np.isnan(value):
                raise TableError(path, lineno, f"bad score {fields[2]!r}")
    return scores


def read_scores(path: str | os.PathLike) -> dict[tuple[str, str], float]:
    """Read a score file into ``{(model, test): score}``; duplicate pairs are an error."""
    columns = read_columns(path, 3, 3)  # fast path; anything unusual is read again line by line
    if columns is not None:
        try:
            values = np.array(columns[2], dtype=np.float64)
        except ValueError:
            values = None
        if values is not None and not np.isnan(values).any():
            table = dict(zip(zip(columns[0], columns[1]), values.tolist()))
            if len(table) == len(values):
                return table
    rows = read_rows(path, 3, 3)
    scores = _parse_scores(path, rows)
    table = dict(zip(((f[0], f[1]) for _, f in rows), scores.tolist()))
    if len(table) != len(rows):
        seen: set[tuple[str, str]] = set()
        for lineno, (model, test, _) in rows:
            if (model, test) in seen:
                raise TableError(path, lineno, f"duplicate score for {model} {test}")
            seen.add((model, test))
    return table


def trial_scores(trials: Trials, score_path: str | os.PathLike) -> np.ndarray:
    """Scores of the trials, in trial order; a missing trial is an error naming the file and trial.

    Pairs in the score file that are not trials are ignored.
    """
    table = read_scores(score_path)
    scores = np.fromiter(
        (table.get(pair, np.nan) for pair in zip(trials.models, trials.tests)), dtype=np.float64, count=len(trials)
    )
    missing = np.flatnonzero(np.isnan(scores))
    if missing.size:
        i = missing[0]
        raise ValueError(
            f"{score_path}: no score for trial {trials.models[i]} {trials.tests[i]} "
            f"({missing.size} of {len(trials)} trials missing)"
        )
    return scores


def template_text(names: Sequence[str]) -> list[str]:
    """Names as literal text of a ``%`` template."""
    return [name.replace("%", "%%") for name in names]


def score_lines(models: Sequence[str], tests: Sequence[str], scores: Sequence[float]) -> list[str]:
    """``<model> <test> <score>`` lines (``%f``, as the original writes them) as one block of text, from the model
    and test of each line as :func:`template_text`: one ``%`` of a template holding the names is 1.7x faster than
    one f-string per line."""
    if not len(scores):
        return []
    return ["\n".join([f"{m} {t} %f" for m, t in zip(models, tests)]) % tuple(scores)]


def write_scores(path: str | os.PathLike, trials: Trials, scores: np.ndarray) -> None:
    """Atomically write the trials' scores (``%f``) sorted by test id, then model id (docs/original_recipe.md §6.4)."""
    order = trials.spec_order().tolist()
    unique = list(dict.fromkeys([*trials.models, *trials.tests]))
    literal = dict(zip(unique, template_text(unique)))
    write_lines(path, score_lines([literal[trials.models[i]] for i in order], [literal[trials.tests[i]] for i in order],
                                  np.asarray(scores, dtype=np.float64)[order].tolist()))

"""Kaldi-style data directories of videos and photos: read, write and validate.

A data dir holds (all sorted by the first field in C-locale byte order, as Kaldi's ``sort -k1,1``):

* ``vid.scp``           ``<utt> <media path>``
* ``utt2spk``           ``<utt> <spk>``  (spk = enrollment model, or the utt itself for test dirs)
* ``spk2utt``           ``<spk> <utt> [<utt> ...]``
* ``face_boundingbox``  ``<utt> <instant> <x1> <y1> <x2> <y2> [extra ...]`` (optional, enrollment dirs; kept in the
  order it was written: the order of the corpus annotation file). ``instant`` is seconds for SRE19, a frame
  index for JANUS.
* ``trials``            ``<model> <test> target|nontarget`` (optional, test dirs; ``<model> <test>`` when unlabelled)

Every parse error names the file and the line (:class:`hyp_face.io.table.TableError`). This is the one data-dir
library: Kaldi's ``utils/validate_data_dir.sh``, ``fix_data_dir.sh``, ``utt2spk_to_spk2utt.pl`` and
``spk2utt_to_utt2spk.pl`` are thin CLIs over it (``hyp_face.bin``).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from .table import (Row, TableError, atomic_write, field_count_problem, read_columns, read_rows, read_scp,
                    write_lines, write_scp)

log = logging.getLogger(__name__)

LABELS = ("target", "nontarget")
MAX_PROBLEMS_PER_FILE = 20  # problems listed per file by data_dir_problems
MAX_PROBLEMS_SHOWN = 10  # problems in the message of validate_data_dir
VID_SCP, UTT2SPK, SPK2UTT, FACE_BBOX, TRIALS = "vid.scp", "utt2spk", "spk2utt", "face_boundingbox", "trials"


class DataDirError(ValueError):
    """An inconsistent data directory (the message names the directory and the files involved)."""


class BoxRow(NamedTuple):
    """One annotated face: the instant (seconds or frame index) and the box x1, y1, x2, y2 in pixels."""

    instant: float
    box: tuple[float, float, float, float]


# ----------------------------------------------------------------------------------------------- utt2spk / spk2utt


def add_utt2spk_rows(table: dict[str, str], rows: Sequence[Row], name: str | os.PathLike) -> dict[str, str]:
    """Add ``<utt> <spk>`` rows to ``table`` (in order) and return it; a repeated utterance is an error."""
    for lineno, (utt, spk) in rows:
        if utt in table:
            raise TableError(name, lineno, f"duplicate utterance {utt!r}")
        table[utt] = spk
    return table


def add_spk2utt_rows(table: dict[str, list[str]], rows: Sequence[Row], name: str | os.PathLike) -> dict[str, list[str]]:
    """Add ``<spk> <utt> ...`` rows to ``table`` (in order) and return it; a repeated speaker is an error."""
    for lineno, (spk, *utts) in rows:
        if spk in table:
            raise TableError(name, lineno, f"duplicate speaker {spk!r}")
        table[spk] = utts
    return table


def read_utt2spk(path: str | os.PathLike) -> dict[str, str]:
    """Read ``<utt> <spk>`` lines into a dict (file order); duplicates and wrong column counts are errors."""
    columns = read_columns(path, 2, 2)  # fast path; anything unusual is read again line by line
    if columns is not None and len(set(columns[0])) == len(columns[0]):
        return dict(zip(*columns))
    return add_utt2spk_rows({}, read_rows(path, 2, 2), path)


def read_spk2utt(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read ``<spk> <utt> ...`` lines into a dict of lists (file order)."""
    return add_spk2utt_rows({}, read_rows(path, 2), path)


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str], sort: bool = True) -> dict[str, list[str]]:
    """Group utterances by speaker: speakers sorted, utterances sorted within each speaker (C order).

    ``sort=False`` keeps the order of ``utt2spk``: speakers in order of first appearance, as Kaldi's
    ``utt2spk_to_spk2utt.pl``.
    """
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(utt2spk) if sort else utt2spk:
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return {spk: spk2utt[spk] for spk in sorted(spk2utt)} if sort else spk2utt


def spk2utt_to_utt2spk(spk2utt: Mapping[str, Sequence[str]], sort: bool = True) -> dict[str, str]:
    """Invert ``spk2utt``; an utterance listed under two speakers is an error. Sorted by utterance, or with
    ``sort=False`` in the order of ``spk2utt`` (Kaldi's ``spk2utt_to_utt2spk.pl``)."""
    utt2spk: dict[str, str] = {}
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt in utt2spk:
                raise DataDirError(f"utterance {utt!r} belongs to speakers {utt2spk[utt]!r} and {spk!r}")
            utt2spk[utt] = spk
    return {utt: utt2spk[utt] for utt in sorted(utt2spk)} if sort else utt2spk


def write_utt2spk(path: str | os.PathLike, utt2spk: Mapping[str, str]) -> None:
    """Atomically write ``utt2spk`` sorted by utterance."""
    write_scp(path, dict(utt2spk))


def write_spk2utt(path: str | os.PathLike, spk2utt: Mapping[str, Sequence[str]]) -> None:
    """Atomically write ``spk2utt`` sorted by speaker (utterances in the given order)."""
    write_lines(path, [" ".join([spk, *spk2utt[spk]]) for spk in sorted(spk2utt)])


# ----------------------------------------------------------------------------------------------- vid.scp


def read_vid_scp(path: str | os.PathLike) -> dict[str, str]:
    """Read ``<utt> <media path>`` lines (file order); duplicate keys are an error."""
    return read_scp(path)


def write_vid_scp(path: str | os.PathLike, vid: Mapping[str, str]) -> None:
    """Atomically write ``vid.scp`` sorted by utterance."""
    write_scp(path, dict(vid))


# ----------------------------------------------------------------------------------------------- trials


Problem = tuple[int, str]  # (1-based line, 0 for the whole file; message)


def trial_problems(rows: Sequence[Row]) -> Iterator[Problem]:
    """Problems of trial rows: 2 or 3 columns (the same on every line), a known label, no repeated trial."""
    first: dict[tuple[str, str], int] = {}
    ncols = len(rows[0][1]) if rows else 3
    for lineno, fields in rows:
        if len(fields) != ncols:
            yield lineno, f"expected {ncols} fields like line {rows[0][0]}, got {len(fields)}"
        elif ncols == 3 and fields[2] not in LABELS:
            yield lineno, f"label must be target or nontarget, got {fields[2]!r}"
        pair = (fields[0], fields[1])
        if pair in first:
            yield lineno, f"trial {pair[0]} {pair[1]} repeated (first at line {first[pair]})"
        first.setdefault(pair, lineno)


def _codes(column: Sequence[str]) -> np.ndarray:
    """Integer code of each value, 0, 1, ... in order of first appearance."""
    index = {value: i for i, value in enumerate(dict.fromkeys(column))}
    return np.fromiter(map(index.__getitem__, column), np.int64, len(column))


def has_repeated_pair(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether a ``(first[i], second[i])`` pair occurs twice (from integer codes: 2x faster than a set of pairs)."""
    if not len(first):
        return False
    a, b = _codes(first), _codes(second)
    width = int(b.max()) + 1
    pairs = a * width + b
    if (int(a.max()) + 1) * width <= 8 * len(pairs):  # few distinct pairs possible (e.g. a full matrix): count them
        return bool(np.bincount(pairs).max() > 1)
    pairs.sort()
    return bool((pairs[1:] == pairs[:-1]).any())


def read_trial_rows(path: str | os.PathLike) -> list[Row]:
    """Validated trial rows ``(lineno, [model, test, label?])``; the first problem is an error naming the line."""
    rows = read_rows(path, 2, 3)
    for lineno, msg in trial_problems(rows):
        raise TableError(path, lineno, msg)
    return rows


def read_trials(path: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray | None]:
    """Read a trial list: ``(models, tests, labels)`` in file order.

    Lines are ``<model> <test> target|nontarget``; ``labels`` is a bool array (True = target). An unlabelled
    2-column file gives ``labels=None``. Mixed column counts, unknown labels and repeated (model, test) pairs are
    errors naming the file and line.
    """
    columns = read_columns(path, 2, 3)  # fast path; anything unusual is read again line by line
    if columns is not None and not has_repeated_pair(columns[0], columns[1]):
        if len(columns) == 2:
            return columns[0], columns[1], None
        if set(columns[2]) <= set(LABELS):  # then the length tells them apart (2.5x faster than comparing)
            return columns[0], columns[1], np.fromiter(map(len, columns[2]), np.int64, len(columns[2])) == len("target")
    rows = [fields for _, fields in read_trial_rows(path)]
    models = [f[0] for f in rows]
    tests = [f[1] for f in rows]
    if rows and len(rows[0]) == 2:
        return models, tests, None
    return models, tests, np.array([f[2] == "target" for f in rows], dtype=bool)


def write_trials(path: str | os.PathLike, trials: Iterable[Sequence[str]]) -> None:
    """Atomically write trial rows (``(model, test, label)`` or ``(model, test)``) in the given order."""
    write_lines(path, [" ".join(row) for row in trials])


# ----------------------------------------------------------------------------------------------- face_boundingbox


def parse_number(path: str | os.PathLike, lineno: int, text: str, what: str) -> float:
    """A finite float, or an error naming the file, line and field."""
    try:
        value = float(text)
    except ValueError:
        raise TableError(path, lineno, f"{what} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise TableError(path, lineno, f"{what} is not finite: {text!r}")
    return value


def parse_box_row(path: str | os.PathLike, lineno: int, instant: str, coords: Sequence[str]) -> BoxRow:
    """Validate an instant and x1 y1 x2 y2 (numbers, x2 >= x1, y2 >= y1)."""
    t = parse_number(path, lineno, instant, "instant")
    x1, y1, x2, y2 = (parse_number(path, lineno, c, n) for c, n in zip(coords, ("x1", "y1", "x2", "y2")))
    if x2 < x1 or y2 < y1:
        raise TableError(path, lineno, f"box has x2 < x1 or y2 < y1: {' '.join(coords)}")
    return BoxRow(t, (x1, y1, x2, y2))


def read_face_boundingbox(path: str | os.PathLike) -> dict[str, list[BoxRow]]:
    """Read ``<utt> <instant> <x1> <y1> <x2> <y2> [extra ...]`` into utt -> rows (file order; extras ignored)."""
    boxes: dict[str, list[BoxRow]] = {}
    for lineno, fields in read_rows(path, 6):
        boxes.setdefault(fields[0], []).append(parse_box_row(path, lineno, fields[1], fields[2:6]))
    return boxes


def write_face_boundingbox(path: str | os.PathLike, rows: Iterable[Sequence[str]]) -> None:
    """Atomically write ``face_boundingbox`` rows (``utt, instant, x1, y1, x2, y2, extra...``) in the given order."""
    write_lines(path, [" ".join(row) for row in rows])


# ----------------------------------------------------------------------------------------------- whole data dirs


@dataclass
class DataDir:
    """A data directory in memory.

    ``boxes`` and ``trials`` are rows of strings written verbatim in the given order; ``copies`` maps file
    names in the directory to source files copied byte for byte (e.g. ``trials.tsv``).
    """

    vid: dict[str, str]
    utt2spk: dict[str, str]
    boxes: list[tuple[str, ...]] | None = None
    trials: list[tuple[str, ...]] | None = None
    copies: dict[str, Path] = field(default_factory=dict)

    def without(self, utts: set[str]) -> "DataDir":
        """A copy without the utterances ``utts`` and their boxes (trials are kept: see :func:`drop_trials`)."""
        return DataDir(
            vid={u: p for u, p in self.vid.items() if u not in utts},
            utt2spk={u: s for u, s in self.utt2spk.items() if u not in utts},
            boxes=None if self.boxes is None else [r for r in self.boxes if r[0] not in utts],
            trials=None if self.trials is None else list(self.trials),
            copies=dict(self.copies),
        )


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Atomically copy ``src`` to ``dst`` byte for byte."""
    with open(src, "rb") as fin, atomic_write(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)


def write_data_dir(path: str | os.PathLike, data: DataDir) -> None:
    """Write (atomically, file by file) a data dir; a stale ``face_boundingbox``/``trials`` is removed."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if set(data.vid) != set(data.utt2spk):
        raise DataDirError(f"{path}: vid and utt2spk have different utterances")
    write_vid_scp(path / VID_SCP, data.vid)
    write_utt2spk(path / UTT2SPK, data.utt2spk)
    write_spk2utt(path / SPK2UTT, utt2spk_to_spk2utt(data.utt2spk))
    for name, rows, writer in ((FACE_BBOX, data.boxes, write_face_boundingbox), (TRIALS, data.trials, write_trials)):
        if rows is None:
            (path / name).unlink(missing_ok=True)
        else:
            writer(path / name, rows)
    for name, src in data.copies.items():
        copy_file(src, path / name)


def media_problem(media: str) -> str | None:
    """Why a media file cannot be used (``missing`` or ``empty``), or None."""
    if not os.path.isfile(media):
        return "missing"
    return "empty" if os.path.getsize(media) == 0 else None


def check_media(vid: Mapping[str, str]) -> dict[str, str]:
    """Problems of media files: utt -> ``missing`` or ``empty`` (files that exist and are non-empty are fine)."""
    return {utt: why for utt, media in vid.items() if (why := media_problem(media)) is not None}


def find_unusable_media(vid: Mapping[str, str], where: str, strict: bool = False) -> set[str]:
    """Utterances whose media file is missing or empty, logged as a warning (an error with ``strict``).

    No usable file at all is always an error (a wrong corpus root, most likely).
    """
    problems = check_media(vid)
    if not problems:
        return set()
    listing = ", ".join(f"{vid[u]} ({why})" for u, why in list(problems.items())[:10])
    more = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
    msg = f"{where}: {len(problems)} of {len(vid)} media files are missing or empty: {listing}{more}"
    if strict or len(problems) == len(vid):
        raise DataDirError(msg + ("" if strict else " (no usable file at all: check the corpus root)"))
    log.warning("%s; they are excluded (use --strict true to make this an error)", msg)
    return set(problems)


# ----------------------------------------------------------------------------------------------- validation


class Problems:
    """Problems found in a data dir, as ``<file>:<line>: <message>`` (at most MAX_PROBLEMS_PER_FILE per file)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.per_file: dict[Path, int] = {}

    def add(self, path: Path, lineno: int, msg: str) -> None:
        n = self.per_file[path] = self.per_file.get(path, 0) + 1
        if n <= MAX_PROBLEMS_PER_FILE:
            self.lines.append(f"{path}:{lineno}: {msg}" if lineno else f"{path}: {msg}")
        elif n == MAX_PROBLEMS_PER_FILE + 1:
            self.lines.append(f"{path}: more problems not shown")

    def add_all(self, path: Path, problems: Iterable[Problem]) -> None:
        for lineno, msg in problems:
            self.add(path, lineno, msg)

    def rows(self, path: Path, min_cols: int, max_cols: int | None = None) -> list[Row] | None:
        """The well-formed rows of ``path``, each other line a problem; None (and a problem) when it is not text."""
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except UnicodeDecodeError as err:
            self.add(path, 0, f"not UTF-8 text ({err.reason})")
            return None
        rows = []
        for lineno, line in enumerate(lines, 1):
            if not (fields := line.split()):
                continue
            if (problem := field_count_problem(fields, min_cols, max_cols)) is not None:
                self.add(path, lineno, f"{problem}: {line.strip()!r}")
            else:
                rows.append((lineno, fields))
        return rows


def key_order_problems(rows: Sequence[Row]) -> Iterator[Problem]:
    """Keys (first fields) must be strictly increasing in C (byte) order."""
    for (_, prev), (lineno, fields) in zip(rows, rows[1:]):
        if fields[0] == prev[0]:
            yield lineno, f"duplicate key {fields[0]!r}"
        elif fields[0] < prev[0]:
            yield lineno, f"not sorted: {fields[0]!r} after {prev[0]!r} (use LC_ALL=C sort or utils/fix_data_dir.sh)"


def spk2utt_problems(rows: Sequence[Row], utt2spk: Mapping[str, str]) -> Iterator[Problem]:
    """``spk2utt`` lists exactly the utterances of each speaker of ``utt2spk``."""
    expected = utt2spk_to_spk2utt(utt2spk)
    for lineno, (spk, *utts) in rows:
        if spk not in expected:
            yield lineno, f"speaker {spk!r} is not in utt2spk"
        elif sorted(utts) != expected[spk]:
            yield lineno, f"utterances of {spk!r} differ from utt2spk (utils/fix_data_dir.sh regenerates spk2utt)"
    for spk in sorted(set(expected) - {fields[0] for _, fields in rows})[:MAX_PROBLEMS_PER_FILE]:
        yield 0, f"speaker {spk!r} of utt2spk is missing"


def same_utt_problems(rows: Sequence[Row], utt_lines: Mapping[str, int]) -> Iterator[Problem]:
    """The keys of ``rows`` are the utterances of utt2spk (``utt -> its line``), no more, no fewer."""
    for lineno, fields in rows:
        if fields[0] not in utt_lines:
            yield lineno, f"utterance {fields[0]!r} is not in utt2spk"
    for utt in sorted(set(utt_lines) - {fields[0] for _, fields in rows})[:MAX_PROBLEMS_PER_FILE]:
        yield 0, f"utterance {utt!r} (utt2spk line {utt_lines[utt]}) is missing"


def media_problems(rows: Sequence[Row]) -> Iterator[Problem]:
    """Every media file of ``vid.scp`` rows exists and is not empty."""
    for lineno, (utt, *media) in rows:
        if (why := media_problem(" ".join(media))) is not None:
            yield lineno, f"file of {utt!r} is {why}: {' '.join(media)}"


def box_problems(path: Path, rows: Sequence[Row], utts: Mapping[str, int]) -> Iterator[Problem]:
    """``face_boundingbox`` rows name known utterances and valid boxes (see :func:`parse_box_row`)."""
    for lineno, fields in rows:
        if fields[0] not in utts:
            yield lineno, f"utterance {fields[0]!r} is not in utt2spk"
        try:
            parse_box_row(path, lineno, fields[1], fields[2:6])
        except TableError as err:
            yield lineno, err.msg


def trial_id_problems(rows: Sequence[Row], utts: Mapping[str, int], models: set[str] | None) -> Iterator[Problem]:
    """Each trial's test is an utterance of this dir and, when ``models`` is given, its model is enrolled."""
    for lineno, (model, test, *_) in rows:
        if test not in utts:
            yield lineno, f"test utterance {test!r} is not in utt2spk"
        if models is not None and model not in models:
            yield lineno, f"model {model!r} is not enrolled (not a speaker of the enrollment dir)"


def enroll_models(enroll_dir: str | os.PathLike) -> set[str]:
    """The model ids (speakers) of an enrollment data dir."""
    return set(read_utt2spk(Path(enroll_dir) / UTT2SPK).values())


def data_dir_problems(
    path: str | os.PathLike, enroll_dir: str | os.PathLike | None = None, check_files: bool = True,
    spk_sort: bool = True,
) -> list[str]:
    """Every problem of a data dir as ``<file>:<line>: <message>`` (empty: valid).

    ``vid.scp``/``utt2spk``/``spk2utt`` exist, parse, are sorted (``spk2utt`` only with ``spk_sort``) and unique;
    ``vid.scp`` lists the utterances of ``utt2spk`` and ``spk2utt`` groups them; ``face_boundingbox`` rows name
    known utterances and valid boxes; ``trials`` rows are well formed, their tests are utterances of this dir and,
    with ``enroll_dir``, their models its speakers.  ``check_files``: every media file exists and is non-empty.
    """
    data = Path(path)
    if not data.is_dir():
        return [f"{data}: not a directory"]
    found = Problems()
    for name in (UTT2SPK, SPK2UTT, VID_SCP):
        if not (data / name).is_file():
            found.add(data / name, 0, "missing (required)")
    utt_rows = None if found.lines else found.rows(data / UTT2SPK, 2, 2)
    if utt_rows is None:  # the other files are checked against utt2spk
        return found.lines
    found.add_all(data / UTT2SPK, key_order_problems(utt_rows))
    utt2spk = {fields[0]: fields[1] for _, fields in utt_rows}
    utt_lines = {fields[0]: lineno for lineno, fields in reversed(utt_rows)}
    if (rows := found.rows(data / SPK2UTT, 2)) is not None:
        found.add_all(data / SPK2UTT, key_order_problems(rows) if spk_sort else ())
        found.add_all(data / SPK2UTT, spk2utt_problems(rows, utt2spk))
    if (rows := found.rows(data / VID_SCP, 2)) is not None:
        found.add_all(data / VID_SCP, key_order_problems(rows))
        found.add_all(data / VID_SCP, same_utt_problems(rows, utt_lines))
        found.add_all(data / VID_SCP, media_problems(rows) if check_files else ())
    if (data / FACE_BBOX).is_file() and (rows := found.rows(data / FACE_BBOX, 6)) is not None:
        found.add_all(data / FACE_BBOX, box_problems(data / FACE_BBOX, rows, utt_lines))
    if (data / TRIALS).is_file() and (rows := found.rows(data / TRIALS, 2, 3)) is not None:
        found.add_all(data / TRIALS, trial_problems(rows))
        models = None if enroll_dir is None else enroll_models(enroll_dir)
        found.add_all(data / TRIALS, trial_id_problems(rows, utt_lines, models))
    return found.lines


def validate_data_dir(
    path: str | os.PathLike, enroll_dir: str | os.PathLike | None = None, check_files: bool = False
) -> None:
    """Raise :class:`DataDirError` listing the problems of a data dir (see :func:`data_dir_problems`)."""
    problems = data_dir_problems(path, enroll_dir, check_files)
    if problems:
        shown = "\n  ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        raise DataDirError(f"{path}: invalid data dir:\n  {shown}{more}")


# ----------------------------------------------------------------------------------------------- fix_data_dir


def unique_by_key(path: Path, rows: Sequence[Row]) -> list[Row]:
    """Rows sorted by key; exact duplicate lines dropped, conflicting duplicate keys an error."""
    first: dict[str, Row] = {}
    for lineno, fields in rows:
        if fields[0] in first and first[fields[0]][1] != fields:
            raise TableError(path, lineno, f"key {fields[0]!r} repeated with a different value "
                                           f"(first at line {first[fields[0]][0]})")
        first.setdefault(fields[0], (lineno, fields))
    return [first[k] for k in sorted(first)]


def fix_data_dir(path: str | os.PathLike) -> str:
    """Kaldi's fix_data_dir.sh: sort the files, keep the utterances present in all of utt2spk/vid.scp/
    face_boundingbox, regenerate spk2utt, and drop the trials whose test utterance is gone; the previous files go to
    ``<data>/.backup/``.  A summary line."""
    data = Path(path)
    if not data.is_dir():
        raise DataDirError(f"{data}: not a directory")
    present = [name for name in (UTT2SPK, VID_SCP, FACE_BBOX) if (data / name).is_file()]
    if UTT2SPK not in present:
        raise TableError(data / UTT2SPK, 0, "missing (required)")
    tables = {}
    for name in present:
        rows = read_rows(data / name, 6 if name == FACE_BBOX else 2, 2 if name == UTT2SPK else None)
        # face_boundingbox keeps several lines per utt in their order (stable sort by key).
        tables[name] = (sorted(rows, key=lambda r: r[1][0]) if name == FACE_BBOX
                        else unique_by_key(data / name, rows))
    trials = read_rows(data / TRIALS, 2, 3) if (data / TRIALS).is_file() else None
    keep = set.intersection(*({fields[0] for _, fields in rows} for rows in tables.values()))
    backup = data / ".backup"
    backup.mkdir(exist_ok=True)
    for name in (*present, SPK2UTT, TRIALS):
        if (data / name).is_file():
            copy_file(data / name, backup / name)
    for name, rows in tables.items():
        write_lines(data / name, [" ".join(f) for _, f in rows if f[0] in keep])
    write_spk2utt(data / SPK2UTT, utt2spk_to_spk2utt({f[0]: f[1] for _, f in tables[UTT2SPK] if f[0] in keep}))
    dropped = {name: len({f[0] for _, f in rows} - keep) for name, rows in tables.items()}
    detail = ", ".join(f"{n} in {name} but not in every other file" for name, n in dropped.items() if n)
    summary = f"kept {len(keep)} of the {len(tables[UTT2SPK])} utterances of utt2spk" + (f" ({detail})" if detail else "")
    if trials is not None:
        kept_trials = [" ".join(f) for _, f in trials if f[1] in keep]
        if len(kept_trials) < len(trials):
            write_lines(data / TRIALS, kept_trials)
            summary += f"; dropped {len(trials) - len(kept_trials)} of {len(trials)} trials, whose test utterance is gone"
    return summary


# ----------------------------------------------------------------------------------------------- enrollment/test pairs


def unusable_utts(
    data: DataDir, source_ids: Mapping[str, str], exclude: set[str], strict: bool, where: str
) -> set[str]:
    """Utterances to drop: those whose corpus id is in ``exclude`` or whose media is missing or empty."""
    listed = {u for u, sid in source_ids.items() if sid in exclude}
    if listed:
        log.warning("%s: excluding %d utterances of the exclusion list: %s", where, len(listed), sorted(listed))
    rest = {u: p for u, p in data.vid.items() if u not in listed}
    return listed | (find_unusable_media(rest, where, strict) if rest else set())


def drop_trials(trials: list[tuple[str, ...]], models: set[str], tests: set[str], where: str) -> list[tuple[str, ...]]:
    """Keep the trials whose model and test are still present; warn about the others."""
    kept = [t for t in trials if t[0] in models and t[1] in tests]
    if len(kept) < len(trials):
        gone = sorted({f"{t[0]} {t[1]}" for t in trials if t[0] not in models or t[1] not in tests})
        log.warning(
            "%s: dropped %d trials of excluded or unusable media, e.g. %s", where, len(trials) - len(kept), gone[:5]
        )
    return kept


def write_enroll_test(out_dir: Path, enroll_name: str, enroll: DataDir, test_name: str, test: DataDir) -> None:
    """Write an enrollment and a test dir, then validate them (trial models against the enrollment)."""
    write_data_dir(out_dir / enroll_name, enroll)
    write_data_dir(out_dir / test_name, test)
    validate_data_dir(out_dir / enroll_name)
    validate_data_dir(out_dir / test_name, enroll_dir=out_dir / enroll_name)
    spk2utt = utt2spk_to_spk2utt(enroll.utt2spk)
    several = [spk for spk, utts in spk2utt.items() if len(utts) > 1]
    if several:
        log.info("%s: %d models have more than one enrollment medium, e.g. %s", enroll_name, len(several), several[:5])
    log.info(
        "%s: %d models, %d enrollment media, %d box rows; %s: %d test media, %d trials (%d target)",
        enroll_name, len(spk2utt), len(enroll.vid), len(enroll.boxes or []), test_name, len(test.vid),
        len(test.trials or []), sum(t[2:3] == ("target",) for t in test.trials or []),
    )  # fmt: skip


def exclude_and_write(
    out_dir: Path,
    names: tuple[str, str],
    sets: tuple[DataDir, DataDir],
    source_ids: tuple[Mapping[str, str], Mapping[str, str]],
    exclude: set[str],
    strict: bool,
) -> None:
    """Drop excluded/unusable media (and the trials using them) from an enrollment/test pair, then write both."""
    enroll, test = sets
    enroll = enroll.without(unusable_utts(enroll, source_ids[0], exclude, strict, names[0]))
    test = test.without(unusable_utts(test, source_ids[1], exclude, strict, names[1]))
    test.trials = drop_trials(test.trials or [], set(enroll.utt2spk.values()), set(test.vid), names[1])
    write_enroll_test(out_dir, names[0], enroll, names[1], test)

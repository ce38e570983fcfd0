"""Kaldi-style data directories of videos and photos: read, write and validate.

A data dir holds (all sorted by the first field in C-locale byte order, as Kaldi's ``sort -k1,1``):

* ``vid.scp``           ``<utt> <media path>``
* ``utt2spk``           ``<utt> <spk>``  (spk = enrollment model, or the utt itself for test dirs)
* ``spk2utt``           ``<spk> <utt> [<utt> ...]``
* ``face_boundingbox``  ``<utt> <instant> <x1> <y1> <x2> <y2> [extra ...]`` (optional, enrollment dirs; kept in the
  order it was written: the order of the corpus annotation file). ``instant`` is seconds for SRE19, a frame
  index for JANUS.
* ``trials``            ``<model> <test> target|nontarget`` (optional, test dirs; ``<model> <test>`` when unlabelled)

Every parse error names the file and the line (:class:`hyp_face.io.table.TableError`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from .table import TableError, atomic_write, read_rows, read_scp, write_lines, write_scp

log = logging.getLogger(__name__)

LABELS = ("target", "nontarget")
VID_SCP, UTT2SPK, SPK2UTT, FACE_BBOX, TRIALS = "vid.scp", "utt2spk", "spk2utt", "face_boundingbox", "trials"


class DataDirError(ValueError):
    """An inconsistent data directory (the message names the directory and the files involved)."""


class BoxRow(NamedTuple):
    """One annotated face: the instant (seconds or frame index) and the box x1, y1, x2, y2 in pixels."""

    instant: float
    box: tuple[float, float, float, float]


# ----------------------------------------------------------------------------------------------- utt2spk / spk2utt


def read_utt2spk(path: str | os.PathLike) -> dict[str, str]:
    """Read ``<utt> <spk>`` lines into a dict (file order); duplicates and wrong column counts are errors."""
    table: dict[str, str] = {}
    for lineno, (utt, spk) in read_rows(path, 2, 2):
        if utt in table:
            raise TableError(path, lineno, f"duplicate utterance {utt!r}")
        table[utt] = spk
    return table


def read_spk2utt(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read ``<spk> <utt> ...`` lines into a dict of lists (file order)."""
    table: dict[str, list[str]] = {}
    for lineno, fields in read_rows(path, 2):
        if fields[0] in table:
            raise TableError(path, lineno, f"duplicate speaker {fields[0]!r}")
        table[fields[0]] = fields[1:]
    return table


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> dict[str, list[str]]:
    """Group utterances by speaker: speakers sorted, utterances sorted within each speaker."""
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return {spk: spk2utt[spk] for spk in sorted(spk2utt)}


def spk2utt_to_utt2spk(spk2utt: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Invert ``spk2utt``; an utterance listed under two speakers is an error. Sorted by utterance."""
    utt2spk: dict[str, str] = {}
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt in utt2spk:
                raise DataDirError(f"utterance {utt!r} belongs to speakers {utt2spk[utt]!r} and {spk!r}")
            utt2spk[utt] = spk
    return {utt: utt2spk[utt] for utt in sorted(utt2spk)}


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


def parse_label(path: str | os.PathLike, lineno: int, label: str) -> bool:
    """``target`` -> True, ``nontarget`` -> False; anything else is an error naming the file and line."""
    if label not in LABELS:
        raise TableError(path, lineno, f"unknown trial label {label!r} (expected target or nontarget)")
    return label == "target"


def read_trial_rows(path: str | os.PathLike) -> list[tuple[int, list[str]]]:
    """Validated trial rows ``(lineno, [model, test, label?])``: 2 or 3 columns (the same on every line), known
    labels, no repeated (model, test) pair; errors name the file and line."""
    rows = read_rows(path, 2, 3)
    seen: dict[tuple[str, str], int] = {}
    ncols = len(rows[0][1]) if rows else 3
    for lineno, fields in rows:
        if len(fields) != ncols:
            raise TableError(path, lineno, f"expected {ncols} fields like line {rows[0][0]}, got {len(fields)}")
        pair = (fields[0], fields[1])
        if pair in seen:
            raise TableError(path, lineno, f"duplicate trial {pair[0]} {pair[1]} (first at line {seen[pair]})")
        seen[pair] = lineno
        if ncols == 3:
            parse_label(path, lineno, fields[2])
    return rows


def read_trials(path: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray | None]:
    """Read a trial list: ``(models, tests, labels)`` in file order.

    Lines are ``<model> <test> target|nontarget``; ``labels`` is a bool array (True = target). An unlabelled
    2-column file gives ``labels=None``. Mixed column counts, unknown labels and repeated (model, test) pairs are
    errors naming the file and line.
    """
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


def check_sorted(path: str | os.PathLike, keys: Sequence[str]) -> None:
    """Error naming the first line whose key is not strictly after the previous one (C-locale order)."""
    for i in range(1, len(keys)):
        if keys[i] <= keys[i - 1]:
            raise TableError(path, i + 1, f"not sorted/unique (C locale): {keys[i]!r} after {keys[i - 1]!r}")


def check_media(vid: Mapping[str, str]) -> dict[str, str]:
    """Problems of media files: utt -> ``missing`` or ``empty`` (files that exist and are non-empty are fine)."""
    problems = {}
    for utt, media in vid.items():
        if not os.path.isfile(media):
            problems[utt] = "missing"
        elif os.path.getsize(media) == 0:
            problems[utt] = "empty"
    return problems


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


def validate_data_dir(
    path: str | os.PathLike, enroll_dir: str | os.PathLike | None = None, check_files: bool = False
) -> None:
    """Check a data dir; raise :class:`DataDirError` or :class:`TableError` naming the file on the first problem.

    Checks: ``vid.scp``/``utt2spk``/``spk2utt`` exist, parse, are sorted and unique; they list the same
    utterances and ``spk2utt`` is ``utt2spk`` grouped; ``face_boundingbox`` rows parse and name known utts;
    ``trials`` rows parse, test ids are utts of this dir and, with ``enroll_dir``, models are its speakers.
    ``check_files`` also requires every media file to exist and be non-empty.
    """
    path = Path(path)
    for name in (VID_SCP, UTT2SPK, SPK2UTT):
        if not (path / name).is_file():
            raise DataDirError(f"{path}: missing {name}")
    vid = read_vid_scp(path / VID_SCP)
    utt2spk = read_utt2spk(path / UTT2SPK)
    spk2utt = read_spk2utt(path / SPK2UTT)
    for name, keys in ((VID_SCP, list(vid)), (UTT2SPK, list(utt2spk)), (SPK2UTT, list(spk2utt))):
        check_sorted(path / name, keys)
    if set(vid) != set(utt2spk):
        only = sorted(set(vid) ^ set(utt2spk))[:5]
        raise DataDirError(f"{path}: {VID_SCP} and {UTT2SPK} list different utterances, e.g. {only}")
    if spk2utt_to_utt2spk(spk2utt) != {u: utt2spk[u] for u in sorted(utt2spk)}:
        raise DataDirError(f"{path}: {SPK2UTT} does not match {UTT2SPK}")
    if check_files:
        problems = check_media(vid)
        if problems:
            utt, why = next(iter(problems.items()))
            raise DataDirError(f"{path}/{VID_SCP}: {len(problems)} media files missing or empty, e.g. {utt}: {why}")
    if (path / FACE_BBOX).is_file():
        unknown = set(read_face_boundingbox(path / FACE_BBOX)) - set(utt2spk)
        if unknown:
            raise DataDirError(f"{path}/{FACE_BBOX}: utterances not in {UTT2SPK}, e.g. {sorted(unknown)[:5]}")
    if (path / TRIALS).is_file():
        validate_trials(path / TRIALS, set(utt2spk), None if enroll_dir is None else enroll_models(enroll_dir))


def enroll_models(enroll_dir: str | os.PathLike) -> set[str]:
    """The model ids (speakers) of an enrollment data dir."""
    return set(read_utt2spk(Path(enroll_dir) / UTT2SPK).values())


def validate_trials(path: str | os.PathLike, tests: set[str], models: set[str] | None = None) -> None:
    """Every trial's test id is in ``tests`` and (if given) its model in ``models``; errors name the line."""
    for lineno, fields in read_trial_rows(path):
        if fields[1] not in tests:
            raise TableError(path, lineno, f"test {fields[1]!r} is not in the data dir")
        if models is not None and fields[0] not in models:
            raise TableError(path, lineno, f"model {fields[0]!r} is not enrolled")


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

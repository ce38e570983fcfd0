"""Kaldi data-directory helpers (stdlib only): the engine of utt2spk_to_spk2utt.pl,
spk2utt_to_utt2spk.pl, split_scp.pl, fix_data_dir.sh and validate_data_dir.sh.

Data directories hold ``utt2spk`` (required), ``spk2utt``, ``vid.scp`` (``<utt> <path>``),
``face_boundingbox`` (``<utt> <t|frame> <x1> <y1> <x2> <y2> [extra...]``, several lines per utt
allowed) and, for test sets, ``trials`` (``<model> <test-utt> target|nontarget``, or without the label
on every line for an unlabelled list).  Keys are sorted
in C (byte) order.  Every error names the file and the line.

    python3 data_tools.py fix DATA_DIR
    python3 data_tools.py validate [--no-check-files] [--no-spk-sort] DATA_DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the recipe root, when run from a checkout
from hyp_face.io.table import TableError, write_lines  # noqa: E402

UTT_FILES = ("utt2spk", "vid.scp", "face_boundingbox")  # files whose first field is an utterance
TRIAL_LABELS = ("target", "nontarget")
MAX_ERRORS_PER_FILE = 20


Row = tuple[int, list[str]]  # (1-based line number, fields)


def read_rows(path: str | os.PathLike | None, stream: TextIO | None = None, min_fields: int = 1,
              max_fields: int | None = None) -> list[Row]:
    """Non-empty lines of ``path`` (or ``stream``) as (lineno, fields); checks the field count."""
    name = path if path is not None else "<stdin>"
    rows = []
    with (open(path, encoding="utf-8") if path is not None else stream) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < min_fields or (max_fields is not None and len(fields) > max_fields):
                want = (str(min_fields) if max_fields == min_fields else f"at least {min_fields}"
                        if max_fields is None else f"{min_fields}..{max_fields}")
                raise TableError(name, lineno, f"expected {want} fields, got {len(fields)}: {line.strip()!r}")
            rows.append((lineno, fields))
    return rows


def read_inputs(paths: list[str], min_fields: int, max_fields: int | None = None) -> list[Row]:
    """Rows of the given files in order, or of stdin when there are none (Kaldi filters)."""
    if not paths:
        return read_rows(None, sys.stdin, min_fields, max_fields)
    return [row for p in paths for row in read_rows(p, None, min_fields, max_fields)]


# ---------------------------------------------------------------------------------------------
# utt2spk <-> spk2utt


def utt2spk_to_spk2utt(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Speaker -> utterances, speakers in order of first appearance (as Kaldi's script)."""
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in pairs:
        spk2utt.setdefault(spk, []).append(utt)
    return spk2utt


def spk2utt_lines(spk2utt: dict[str, list[str]]) -> list[str]:
    return [" ".join([spk, *utts]) for spk, utts in spk2utt.items()]


# ---------------------------------------------------------------------------------------------
# split_scp


def split_sizes(num_lines: int, num_parts: int) -> list[int]:
    """Kaldi's split_scp.pl sizes: equal parts, the first ``num_lines % num_parts`` get one more."""
    base, extra = divmod(num_lines, num_parts)
    return [base + (i < extra) for i in range(num_parts)]


def speaker_boundaries(counts: list[int], num_parts: int) -> list[int]:
    """Cut points (in speakers) of ``num_parts`` contiguous groups with balanced utterance counts."""
    total, cuts, cum = sum(counts), [0], [0]
    for c in counts:
        cum.append(cum[-1] + c)
    for k in range(1, num_parts):
        lo, hi = cuts[-1] + 1, len(counts) - (num_parts - k)
        target = k * total / num_parts
        cuts.append(min(range(lo, hi + 1), key=lambda i: (abs(cum[i] - target), i)))
    return cuts + [len(counts)]


def split_scp(rows: list[Row], num_parts: int, utt2spk: dict[str, str] | None, scp: str) -> list[list[Row]]:
    """Contiguous parts of ``rows``; with ``utt2spk`` no speaker is split across parts."""
    if utt2spk is None:
        if len(rows) < num_parts:
            raise TableError(scp, 0, f"cannot split {len(rows)} lines into {num_parts} parts")
        parts, start = [], 0
        for size in split_sizes(len(rows), num_parts):
            parts.append(rows[start:start + size])
            start += size
        return parts
    groups: list[list[Row]] = []
    seen: dict[str, int] = {}
    for lineno, fields in rows:
        spk = utt2spk.get(fields[0])
        if spk is None:
            raise TableError(scp, lineno, f"utterance {fields[0]!r} is not in utt2spk")
        if spk in seen and seen[spk] != len(groups) - 1:
            raise TableError(scp, lineno, f"utterances of speaker {spk!r} are not contiguous")
        if spk not in seen:
            seen[spk] = len(groups)
            groups.append([])
        groups[-1].append((lineno, fields))
    if len(groups) < num_parts:
        raise TableError(scp, 0, f"cannot split {len(groups)} speakers into {num_parts} parts")
    cuts = speaker_boundaries([len(g) for g in groups], num_parts)
    return [[row for g in groups[a:b] for row in g] for a, b in zip(cuts, cuts[1:])]


# ---------------------------------------------------------------------------------------------
# fix_data_dir


def unique_by_key(path: Path, rows: list[Row]) -> list[Row]:
    """Rows sorted by key; exact duplicate lines dropped, conflicting duplicate keys an error."""
    first: dict[str, Row] = {}
    for lineno, fields in rows:
        if fields[0] in first and first[fields[0]][1] != fields:
            raise TableError(path, lineno, f"key {fields[0]!r} repeated with a different value "
                                          f"(first at line {first[fields[0]][0]})")
        first.setdefault(fields[0], (lineno, fields))
    return [first[k] for k in sorted(first)]


def fix_data_dir(data: Path) -> str:
    """Sort the files, keep the utterances present in all of utt2spk/vid.scp/face_boundingbox,
    regenerate spk2utt; the previous files go to ``<data>/.backup/``.  Returns a summary line."""
    present = [name for name in UTT_FILES if (data / name).is_file()]
    if "utt2spk" not in present:
        raise TableError(data / "utt2spk", 0, "missing (required)")
    tables = {}
    for name in present:
        rows = read_rows(data / name, min_fields=6 if name == "face_boundingbox" else 2,
                         max_fields=2 if name == "utt2spk" else None)
        # face_boundingbox keeps several lines per utt in their order (stable sort by key).
        tables[name] = (sorted(rows, key=lambda r: r[1][0]) if name == "face_boundingbox"
                        else unique_by_key(data / name, rows))
    keep = set.intersection(*({fields[0] for _, fields in rows} for rows in tables.values()))
    backup = data / ".backup"
    backup.mkdir(exist_ok=True)
    for name in (*present, "spk2utt"):
        if (data / name).is_file():
            shutil.copy2(data / name, backup / name)
    for name, rows in tables.items():
        write_lines(data / name, (" ".join(f) for _, f in rows if f[0] in keep))
    utt2spk = [(f[0], f[1]) for _, f in tables["utt2spk"] if f[0] in keep]
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    write_lines(data / "spk2utt", spk2utt_lines({s: spk2utt[s] for s in sorted(spk2utt)}))
    total = len(tables["utt2spk"])
    dropped = {name: len({f[0] for _, f in rows} - keep) for name, rows in tables.items()}
    detail = ", ".join(f"{n} utterances only in some files besides {name}" for name, n in dropped.items() if n)
    summary = f"kept {len(keep)} utterances out of {total} in utt2spk" + (f" ({detail})" if detail else "")
    if (data / "trials").is_file():
        missing = sum(f[1] not in keep for _, f in read_rows(data / "trials", min_fields=3, max_fields=3))
        if missing:
            summary += f"; WARNING: {missing} trials refer to test utterances not in {data}/utt2spk"
    return summary


# ---------------------------------------------------------------------------------------------
# validate_data_dir


class Checker:
    """Collects errors ``<file>:<line>: <message>`` (at most MAX_ERRORS_PER_FILE per file)."""

    def __init__(self):
        self.errors: list[str] = []
        self.per_file: dict[str, int] = {}

    def error(self, path: Path, lineno: int, msg: str) -> None:
        n = self.per_file[str(path)] = self.per_file.get(str(path), 0) + 1
        if n <= MAX_ERRORS_PER_FILE:
            self.errors.append(f"{path}:{lineno}: {msg}" if lineno else f"{path}: {msg}")
        elif n == MAX_ERRORS_PER_FILE + 1:
            self.errors.append(f"{path}: more errors not shown")

    def rows(self, path: Path, min_fields: int, max_fields: int | None = None) -> list[Row] | None:
        try:
            return read_rows(path, min_fields=min_fields, max_fields=max_fields)
        except TableError as err:
            self.errors.append(str(err))
        except UnicodeDecodeError as err:
            self.errors.append(f"{path}: not UTF-8 text ({err.reason})")
        return None

    def sorted_unique(self, path: Path, rows: list[Row]) -> None:
        """Keys strictly increasing in C order."""
        for (_, prev), (lineno, fields) in zip(rows, rows[1:]):
            if fields[0] == prev[0]:
                self.error(path, lineno, f"duplicate key {fields[0]!r}")
            elif fields[0] < prev[0]:
                self.error(path, lineno, f"not sorted: {fields[0]!r} after {prev[0]!r} (use LC_ALL=C sort "
                                         "or utils/fix_data_dir.sh)")

    def same_keys(self, path: Path, rows: list[Row], utts: dict[str, int]) -> None:
        keys = {f[0] for _, f in rows}
        for lineno, fields in rows:
            if fields[0] not in utts:
                self.error(path, lineno, f"utterance {fields[0]!r} is not in utt2spk")
        for utt in sorted(set(utts) - keys)[:MAX_ERRORS_PER_FILE]:
            self.error(path, 0, f"utterance {utt!r} (utt2spk line {utts[utt]}) is missing")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate_data_dir(data: Path, check_files: bool = True, spk_sort: bool = True) -> list[str]:
    """All errors found in ``data`` (empty list: valid)."""
    chk = Checker()
    if not data.is_dir():
        return [f"{data}: not a directory"]
    for name in ("utt2spk", "spk2utt", "vid.scp"):
        if not (data / name).is_file():
            chk.error(data / name, 0, "missing (required)")
    if chk.errors:
        return chk.errors
    utt2spk_rows = chk.rows(data / "utt2spk", 2, 2)
    if utt2spk_rows is None:
        return chk.errors
    chk.sorted_unique(data / "utt2spk", utt2spk_rows)
    utts = {f[0]: lineno for lineno, f in utt2spk_rows}
    check_spk2utt(chk, data / "spk2utt", utt2spk_rows, spk_sort)
    if (rows := chk.rows(data / "vid.scp", 2)) is not None:
        chk.sorted_unique(data / "vid.scp", rows)
        chk.same_keys(data / "vid.scp", rows, utts)
        if check_files:
            check_media_paths(chk, data / "vid.scp", rows)
    if (data / "face_boundingbox").is_file() and (rows := chk.rows(data / "face_boundingbox", 6)) is not None:
        for lineno, fields in rows:
            if fields[0] not in utts:
                chk.error(data / "face_boundingbox", lineno, f"utterance {fields[0]!r} is not in utt2spk")
            bad = [c for c in fields[1:6] if not is_number(c)]
            if bad:
                chk.error(data / "face_boundingbox", lineno, f"columns 2-6 must be numbers, got {bad[0]!r}")
    if (data / "trials").is_file() and (rows := chk.rows(data / "trials", 2, 3)) is not None:
        check_trials(chk, data / "trials", rows, utts)
    return chk.errors


def check_spk2utt(chk: Checker, path: Path, utt2spk_rows: list[Row], spk_sort: bool) -> None:
    """spk2utt lists exactly the utterances of each speaker of utt2spk."""
    rows = chk.rows(path, 2)
    if rows is None:
        return
    if spk_sort:
        chk.sorted_unique(path, rows)
    expected = utt2spk_to_spk2utt((f[0], f[1]) for _, f in utt2spk_rows)
    seen = set()
    for lineno, (spk, *utts) in rows:
        seen.add(spk)
        if spk not in expected:
            chk.error(path, lineno, f"speaker {spk!r} is not in utt2spk")
        elif sorted(utts) != sorted(expected[spk]):
            chk.error(path, lineno, f"utterances of {spk!r} differ from utt2spk (utils/fix_data_dir.sh regenerates it)")
    for spk in sorted(set(expected) - seen)[:MAX_ERRORS_PER_FILE]:
        chk.error(path, 0, f"speaker {spk!r} of utt2spk is missing")


def check_media_paths(chk: Checker, path: Path, rows: list[Row]) -> None:
    """Every media file exists and is not empty (piped commands ``...|`` are not checked)."""
    for lineno, fields in rows:
        media = " ".join(fields[1:])
        if media.endswith("|"):
            continue
        try:
            size = os.path.getsize(media)
        except OSError:
            chk.error(path, lineno, f"file of {fields[0]!r} does not exist: {media}")
            continue
        if size == 0:
            chk.error(path, lineno, f"file of {fields[0]!r} is empty: {media}")


def check_trials(chk: Checker, path: Path, rows: list[Row], utts: dict[str, int]) -> None:
    """``<model> <test> target|nontarget`` (or, unlabelled, ``<model> <test>`` on every line), test
    utterance in utt2spk, no repeated trial."""
    first: dict[tuple[str, str], int] = {}
    num_cols = len(rows[0][1]) if rows else 3
    for lineno, fields in rows:
        model, test = fields[:2]
        if len(fields) != num_cols:
            chk.error(path, lineno, f"expected {num_cols} fields like line {rows[0][0]}, got {len(fields)}")
        elif num_cols == 3 and fields[2] not in TRIAL_LABELS:
            chk.error(path, lineno, f"label must be target or nontarget, got {fields[2]!r}")
        if test not in utts:
            chk.error(path, lineno, f"test utterance {test!r} is not in utt2spk")
        if (model, test) in first:
            chk.error(path, lineno, f"trial {model} {test} repeated (first at line {first[model, test]})")
        first.setdefault((model, test), lineno)


# ---------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    fix = sub.add_parser("fix", help="sort, intersect, regenerate spk2utt")
    fix.add_argument("data")
    val = sub.add_parser("validate", help="check a data directory")
    val.add_argument("--no-check-files", action="store_true", help="do not check that vid.scp files exist")
    val.add_argument("--no-spk-sort", action="store_true", help="do not require spk2utt to be sorted")
    val.add_argument("data")
    args = parser.parse_args(argv)
    prog = f"{args.cmd}_data_dir.sh"
    data = Path(args.data)
    try:
        if args.cmd == "fix":
            print(f"{prog}: {data}: {fix_data_dir(data)}", file=sys.stderr)
            return 0
        errors = validate_data_dir(data, not args.no_check_files, not args.no_spk_sort)
    except (TableError, OSError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    for err in errors:
        print(f"{prog}: {err}", file=sys.stderr)
    if errors:
        return 1
    print(f"{prog}: Successfully validated data-directory {data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

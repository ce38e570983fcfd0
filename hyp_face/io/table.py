"""Whitespace-separated Kaldi tables: atomic writing and validated reading.

Every parse error names the file and the 1-based line number.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence


class TableError(ValueError):
    """A malformed line in a table file; the message names the file and line."""

    def __init__(self, path: str | os.PathLike, lineno: int, msg: str):
        super().__init__(f"{path}:{lineno}: {msg}")
        self.path = str(path)
        self.lineno = lineno
        self.msg = msg


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # other systems: read it by setting it, then restore it at once
    os.umask(mask)
    return mask


def umask_mode(executable: bool = False) -> int:
    """The mode a plain ``open()`` (or, ``executable``, ``mkdir``) gives a new file under the current umask."""
    return (0o777 if executable else 0o666) & ~current_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    The file gets the mode a plain ``open()`` would give it (``mkstemp`` alone gives 0600), so that results
    stay shareable under a group umask such as 002.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            os.fchmod(f.fileno(), umask_mode())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_lines(path: str | os.PathLike, lines: Sequence[str]) -> None:
    """Atomically write ``lines`` (without newlines) to ``path``, one per line."""
    lines = list(lines)
    with atomic_write(path) as f:
        if lines:  # one write, not two per line: score files have 10^5 lines and more
            f.write("\n".join(lines))
            f.write("\n")


Row = tuple[int, list[str]]  # (1-based line number, fields)


def field_count_problem(fields: Sequence[str], min_cols: int, max_cols: int | None) -> str | None:
    """What is wrong with the number of ``fields`` of a line (None: nothing)."""
    if len(fields) >= min_cols and (max_cols is None or len(fields) <= max_cols):
        return None
    want = (f"{min_cols}" if max_cols == min_cols else f"at least {min_cols}" if max_cols is None
            else f"{min_cols}..{max_cols}")
    return f"expected {want} fields, got {len(fields)}"


def parse_rows(
    lines: Iterable[str], name: str | os.PathLike, min_cols: int = 1, max_cols: int | None = None,
    comment: str | None = None,
) -> list[Row]:
    """Non-empty lines as ``(lineno, fields)``; checks the number of fields (errors name ``name`` and the line).

    Lines starting with ``comment`` (when given) are skipped.
    """
    rows = []
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or (comment and fields[0].startswith(comment)):
            continue
        if (problem := field_count_problem(fields, min_cols, max_cols)) is not None:
            raise TableError(name, lineno, f"{problem}: {line.strip()!r}")
        rows.append((lineno, fields))
    return rows


def read_rows(
    path: str | os.PathLike, min_cols: int = 1, max_cols: int | None = None, comment: str | None = None
) -> list[Row]:
    """Read the non-empty lines of ``path`` as ``(lineno, fields)``; see :func:`parse_rows`."""
    with open(path, encoding="utf-8") as f:
        return parse_rows(f, path, min_cols, max_cols, comment)


_PLAIN = bytes(range(0x21, 0x7F)) + b"\n "  # printable ASCII, newline and space: the bytes of a plain table


def read_columns(path: str | os.PathLike, min_cols: int = 1, max_cols: int | None = None,
                 tabs: bool = True) -> list[list[str]] | None:
    """The columns of a plain table, parsed in one pass over the bytes; None when it is not plain.

    Plain: printable ASCII fields separated by spaces (and tabs when ``tabs``), ``\n`` line ends,
    the same number of fields, within ``min_cols..max_cols``, on every non-empty line. Then the columns equal
    those of :func:`read_rows`; for anything else (other bytes, ``\r``, a bad line, an empty file) the caller
    falls back to the line-by-line reader, which names the file and line of a problem.
    """
    import numpy as np  # on first use: the launchers, which only write, never load numpy

    with open(path, "rb") as f:
        data = f.read()
    if not data or data.translate(None, _PLAIN + (b"\t" if tabs else b"")):  # a byte that is not plain is left
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    blank = buf <= 32  # space, newline or tab: every other byte left is printable
    starts = np.flatnonzero(np.concatenate(([not blank[0]], blank[:-1] > blank[1:])))  # first byte of each field
    per_line = np.diff(np.searchsorted(starts, np.flatnonzero(buf == 10)), prepend=0, append=len(starts))
    per_line = per_line[per_line > 0]
    ncols = int(per_line[0]) if per_line.size else 0
    if not ncols or (per_line != ncols).any() or ncols < min_cols or (max_cols is not None and ncols > max_cols):
        return None
    fields = data.decode("ascii").split()
    return [fields[i::ncols] for i in range(ncols)]


def read_inputs(paths: Sequence[str], min_cols: int = 1, max_cols: int | None = None) -> list[tuple[str, list[Row]]]:
    """``(name, rows)`` of each file in ``paths``, or of stdin when there is none (Kaldi filters)."""
    if not paths:
        return [("<stdin>", parse_rows(sys.stdin, "<stdin>", min_cols, max_cols))]
    return [(path, read_rows(path, min_cols, max_cols)) for path in paths]


def read_scp(path: str | os.PathLike) -> dict[str, str]:
    """Read ``<key> <value...>`` lines into an ordered dict; duplicate keys are an error."""
    columns = read_columns(path, 2, 2, tabs=False)
    if columns is not None and len(set(columns[0])) == len(columns[0]):
        return dict(zip(*columns))
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            key, _, value = line.partition(" ")
            value = value.strip()
            if not value:
                raise TableError(path, lineno, f"key {key!r} has no value")
            if key in table:
                raise TableError(path, lineno, f"duplicate key {key!r}")
            table[key] = value
    return table


def write_scp(path: str | os.PathLike, table: dict[str, str], sort: bool = True) -> None:
    """Atomically write a ``<key> <value>`` table, sorted by key (C locale order) by default."""
    keys = sorted(table) if sort else list(table)
    write_lines(path, [f"{k} {table[k]}" for k in keys])


def split_contiguous(keys: Sequence[str], num_parts: int, part: int) -> list[str]:
    """Keys of job ``part`` (1-based) of ``num_parts``: contiguous blocks of the sorted unique keys.

    Job J gets ranks r with floor((J-1)K/N) <= r < floor(JK/N) (docs/original_recipe.md §5.1).
    """
    if not 1 <= part <= num_parts:
        raise ValueError(f"part {part} is outside 1..{num_parts}")
    uniq = sorted(set(keys))
    k = len(uniq)
    return uniq[(part - 1) * k // num_parts : part * k // num_parts]


def split_sizes(num_lines: int, num_parts: int) -> list[int]:
    """Kaldi's split_scp.pl sizes: equal parts, the first ``num_lines % num_parts`` get one more.

    (The recipe's own job split is :func:`split_contiguous`; this one is the contract of ``utils/split_scp.pl``.)
    """
    base, extra = divmod(num_lines, num_parts)
    return [base + (i < extra) for i in range(num_parts)]


def speaker_boundaries(counts: Sequence[int], num_parts: int) -> list[int]:
    """Cut points (in speakers) of ``num_parts`` contiguous groups with balanced utterance counts."""
    total, cuts, cum = sum(counts), [0], [0]
    for c in counts:
        cum.append(cum[-1] + c)
    for k in range(1, num_parts):
        lo, hi = cuts[-1] + 1, len(counts) - (num_parts - k)
        target = k * total / num_parts
        cuts.append(min(range(lo, hi + 1), key=lambda i: (abs(cum[i] - target), i)))
    return cuts + [len(counts)]


def split_scp_rows(
    rows: list[Row], num_parts: int, utt2spk: dict[str, str] | None, name: str | os.PathLike
) -> list[list[Row]]:
    """Contiguous parts of ``rows`` (Kaldi's split_scp.pl); with ``utt2spk`` no speaker is split across parts."""
    if utt2spk is None:
        if len(rows) < num_parts:
            raise TableError(name, 0, f"cannot split {len(rows)} lines into {num_parts} parts")
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
            raise TableError(name, lineno, f"utterance {fields[0]!r} is not in utt2spk")
        if spk in seen and seen[spk] != len(groups) - 1:
            raise TableError(name, lineno, f"utterances of speaker {spk!r} are not contiguous")
        if spk not in seen:
            seen[spk] = len(groups)
            groups.append([])
        groups[-1].append((lineno, fields))
    if len(groups) < num_parts:
        raise TableError(name, 0, f"cannot split {len(groups)} speakers into {num_parts} parts")
    cuts = speaker_boundaries([len(g) for g in groups], num_parts)
    return [[row for g in groups[a:b] for row in g] for a, b in zip(cuts, cuts[1:])]

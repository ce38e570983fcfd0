"""Whitespace-separated Kaldi tables: atomic writing and validated reading.

Every parse error names the file and the 1-based line number.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Sequence


class TableError(ValueError):
    """A malformed line in a table file; the message names the file and line."""

    def __init__(self, path: str | os.PathLike, lineno: int, msg: str):
        super().__init__(f"{path}:{lineno}: {msg}")
        self.path = str(path)
        self.lineno = lineno


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
    with atomic_write(path) as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def read_rows(
    path: str | os.PathLike, min_cols: int = 1, max_cols: int | None = None, comment: str | None = None
) -> list[tuple[int, list[str]]]:
    """Read non-empty lines as ``(lineno, fields)``; check the number of fields.

    Lines starting with ``comment`` (when given) are skipped.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields or (comment and fields[0].startswith(comment)):
                continue
            if len(fields) < min_cols or (max_cols is not None and len(fields) > max_cols):
                want = f"{min_cols}" if max_cols == min_cols else f"{min_cols}..{max_cols or 'inf'}"
                raise TableError(path, lineno, f"expected {want} fields, got {len(fields)}: {line.rstrip()!r}")
            rows.append((lineno, fields))
    return rows


def read_scp(path: str | os.PathLike) -> dict[str, str]:
    """Read ``<key> <value...>`` lines into an ordered dict; duplicate keys are an error."""
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

    Job J gets ranks r with floor((J-1)K/N) <= r < floor(JK/N) (spec 5.1).
    """
    if not 1 <= part <= num_parts:
        raise ValueError(f"part {part} is outside 1..{num_parts}")
    uniq = sorted(set(keys))
    k = len(uniq)
    return uniq[(part - 1) * k // num_parts : part * k // num_parts]

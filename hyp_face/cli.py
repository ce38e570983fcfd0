"""Shared command-line helpers: logging set-up, booleans in Kaldi style, thread pinning, one-line input errors."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable

from hyp_face.io.table import TableError

_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def setup_logging(verbose: int = 1) -> None:
    """Log to stderr with time stamps; ``verbose`` 0 = warnings, 1 = info, 2 = debug."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s:%(lineno)d %(levelname)s %(message)s", force=True)


def run_main(main: Callable[[], object]) -> int:
    """Run a command's ``main`` and return its exit status. Bad input (a malformed line of a table or data dir, a
    missing or unreadable file or store entry, a value out of range; each message names the file, and the line
    where there is one) is printed as one line, ``<command>: <message>``, with status 1, not as a traceback;
    ``HYP_FACE_DEBUG=1`` shows the traceback."""
    try:
        status = main()
    except (ValueError, OSError, KeyError) as err:  # TableError, DataDirError, ... are ValueErrors
        from hyp_face.io.embed_store import StoreError  # a KeyError; any other KeyError is a bug

        if os.environ.get("HYP_FACE_DEBUG") or (isinstance(err, KeyError) and not isinstance(err, StoreError)):
            raise
        print(f"{Path(sys.argv[0]).stem}: {err}", file=sys.stderr)
        return 1
    return status if isinstance(status, int) else 0  # some mains return their results, for callers in Python


def checked_device(name: str) -> str:
    """``name`` when torch can run on that device here, else a ValueError that says why not (an unknown name, or
    CUDA asked of a machine or a torch build without it)."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}: expected cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available here (a CPU build of torch, or no GPU visible); "
                         "run on the CPU (--device cpu, or without --use-gpu true)")
    return name


def probability(text: str) -> float:
    """A probability strictly between 0 and 1, for argparse (a prior such as ``--p-target``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability strictly between 0 and 1, got {text}")
    return value


def str2bool(value: str | bool) -> bool:
    """Parse Kaldi-style booleans (``true``/``false``) for argparse."""
    if isinstance(value, bool):
        return value
    v = value.lower()
    if v in ("true", "1", "yes", "y"):
        return True
    if v in ("false", "0", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, which SLURM and taskset narrow), at least 1."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def thread_count(num_threads: int | None = None) -> int:
    """Threads of a job: ``num_threads``, else env ``HYP_FACE_THREADS``, else 1 (needs no torch)."""
    return num_threads or int(os.environ.get("HYP_FACE_THREADS", "1"))


def pin_threads(num_threads: int | None = None) -> int:
    """Pin torch intra-op threads to :func:`thread_count` and return the number used (imports torch; numpy-only
    code calls :func:`thread_count` instead).

    On small shared machines, torch with several threads slows down dramatically when another process
    competes for the cores, so one thread per job is the default; raise it for a dedicated machine.

    It also asks torch for transparent huge pages on its large CPU buffers (``THP_MEM_ALLOC_ENABLE``, unless set):
    frame-sized buffers are mapped afresh for each batch (``hyp_face.video.prefetch``), and faulting them in 2 MB
    pages instead of 4 kB ones cut extraction's page faults by three quarters and its CPU time by about a sixth.
    torch reads the variable at its first large allocation, so this must run before any.
    """
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    import torch

    n = thread_count(num_threads)
    torch.set_num_threads(n)
    return n


def read_shell_config(path: str | os.PathLike) -> dict[str, str]:
    """``name=value`` assignments of a shell config file (read, never executed: quotes and comments
    follow shell rules, ``$var`` refers to earlier assignments, anything else is left as written)."""
    values: dict[str, str] = {}
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            m = _ASSIGN.match(line)
            if not m:
                continue
            try:
                words = shlex.split(m.group(2), comments=True)
            except ValueError as err:
                raise TableError(path, lineno, f"cannot parse value: {err}") from err
            value = words[0] if words else ""
            values[m.group(1)] = _VAR_REF.sub(lambda r: values.get(r.group(1) or r.group(2), r.group(0)), value)
    return values

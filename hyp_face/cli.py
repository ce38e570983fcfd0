"""Shared command-line helpers: logging set-up, booleans in Kaldi style, thread pinning."""

from __future__ import annotations

import argparse
import logging
import os


def setup_logging(verbose: int = 1) -> None:
    """Log to stderr with time stamps; ``verbose`` 0 = warnings, 1 = info, 2 = debug."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s:%(lineno)d %(levelname)s %(message)s", force=True)


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


def pin_threads(num_threads: int | None = None) -> int:
    """Pin torch intra-op threads (default: env ``HYP_FACE_THREADS`` or 1) and return the number used.

    On small shared machines, torch with several threads slows down dramatically when another process
    competes for the cores, so one thread per job is the default; raise it for a dedicated machine.
    """
    import torch

    n = num_threads or int(os.environ.get("HYP_FACE_THREADS", "1"))
    torch.set_num_threads(n)
    return n

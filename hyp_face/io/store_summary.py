"""What an extraction stage produced, from the statuses its embedding store records.

A video ends in one of three ways: faces, no face (a normal outcome), or unreadable (missing, undecodable,
truncated to nothing, no video stream: the status starts with ``STATUS_VIDEO_ERROR``). Too many unreadable
videos mean a broken corpus or a moved one, and fail the stage (docs/rerun.md).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hyp_face.io.embed_store import STATUS_VIDEO_ERROR, EmbedReader

SHOWN_UNREADABLE = 5


@dataclass
class ExtractionSummary:
    """Counts of one embedding store and the unreadable videos with their reasons."""

    source: str
    videos: int = 0
    faces: int = 0
    no_face: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    @classmethod
    def from_store(cls, embed_scp: str | os.PathLike) -> "ExtractionSummary":
        """Summarise every video listed in ``embed_scp``."""
        summary = cls(str(embed_scp))
        with EmbedReader(embed_scp) as reader:
            for key in reader.keys():
                summary.videos += 1
                status = reader.status(key)
                n = reader.num_faces(key)
                summary.faces += n
                if status.startswith(STATUS_VIDEO_ERROR):
                    summary.unreadable.append((key, status[len(STATUS_VIDEO_ERROR):]))
                elif n == 0:
                    summary.no_face += 1
        return summary

    def lines(self) -> list[str]:
        """Console summary: one line of counts, then the first unreadable videos with their reasons."""
        out = [f"{self.source}: {self.videos} videos, {self.faces} faces, {self.no_face} without a face, "
               f"{len(self.unreadable)} unreadable"]
        out += [f"  unreadable {key}: {reason}" for key, reason in self.unreadable[:SHOWN_UNREADABLE]]
        if len(self.unreadable) > SHOWN_UNREADABLE:
            out.append(f"  ... and {len(self.unreadable) - SHOWN_UNREADABLE} more unreadable (statuses in the "
                       "store, warnings in the job logs)")
        return out


def allowed_unreadable(limit: str, videos: int) -> int:
    """Largest number of unreadable videos that ``limit`` allows in a set of ``videos``: a count (``3``) or a
    percentage of the set (``5%``)."""
    text = limit.strip()
    try:
        value = float(text[:-1]) if text.endswith("%") else int(text)
    except ValueError:
        raise ValueError(f"--max-unreadable must be a count or a percentage like 5%, got {limit!r}") from None
    if value < 0:
        raise ValueError(f"--max-unreadable must not be negative, got {limit!r}")
    return int(value * videos / 100 + 1e-9) if text.endswith("%") else int(value)


def unreadable_exit(unreadable: int, total: int, limit: str, noun: str = "videos") -> int:
    """The exit status of a stage with ``unreadable`` of ``total`` items unreadable: 1, after an error line on
    stderr, when that is more than ``limit`` (a count or a percentage) allows; else 0. A bad ``limit`` raises
    ``ValueError`` (a command's :func:`hyp_face.cli.run_main` prints it)."""
    if unreadable <= allowed_unreadable(limit, total):
        return 0
    print(f"{Path(sys.argv[0]).stem}: {unreadable} of {total} {noun} unreadable, more than --max-unreadable {limit}; repair them (a "
          "rerun redoes the jobs whose files changed) or drop them from the data dir's vid.scp", file=sys.stderr)
    return 1

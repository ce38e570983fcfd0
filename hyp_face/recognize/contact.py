"""Contact sheets: a PNG of face crops per person of a video."""

from __future__ import annotations

from pathlib import Path

from .timeline import VideoTimeline


def write_contact_sheets(timeline: VideoTimeline, folder: Path) -> dict[str, Path]:
    """Write ``<folder>/<person>.png`` for every person of ``timeline``; returns the paths by person."""
    raise NotImplementedError("contact sheets: coming in the next commit of branch h-outputs")

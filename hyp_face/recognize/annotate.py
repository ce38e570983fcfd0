"""The annotated video: the source with boxes, names and scores drawn (H.264 through PyAV, audio kept)."""

from __future__ import annotations

import os

from .timeline import VideoTimeline


def annotate_video(timeline: VideoTimeline, path: str | os.PathLike) -> int:
    """Write the annotated copy of ``timeline.source`` to ``path``; returns the number of frames written."""
    raise NotImplementedError("annotated video: coming in the next commit of branch h-outputs")

"""Test sets per face track: each track of a test video is pooled on its own and the video scores the maximum over
its tracks, so that a test video holding several people (target and distractors) does not mix them in one set
(issue 12, "tracks where available"; tracks: docs/tracks.md)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hyp_face.io.embed_store import FaceMeta

NO_TRACK = -1  # FaceMeta.track of a face outside any track; such faces form one set of their own


class TrackSetError(ValueError):
    """The test store cannot be split into track sets."""


def require_tracks(metas: Sequence[FaceMeta], source: str) -> None:
    """Raise naming ``source`` when no face of any test video has a track id."""
    if not any((m.track > NO_TRACK).any() for m in metas):
        raise TrackSetError(f"{source}: no test face has a track id (FaceMeta.track is -1 everywhere); extract the "
                            "test videos with --track-fps (docs/tracks.md) or score whole videos (--test-sets video)")


def split_tracks(sets: Sequence[np.ndarray], metas: Sequence[FaceMeta], names: Sequence[str]
                 ) -> tuple[list[np.ndarray], list[FaceMeta | None], list[str], np.ndarray]:
    """The faces of each video split by track id (ascending; the untracked faces, id -1, first), videos in order:
    the sets, their metadata, their names (``<name> track <id>``) and the video index of each set. A video whose
    metadata does not match its faces (the stand-in zero vector of a video without faces) stays one set."""
    out_sets: list[np.ndarray] = []
    out_metas: list[FaceMeta | None] = []
    out_names: list[str] = []
    owner: list[int] = []
    for video, (faces, meta, name) in enumerate(zip(sets, metas, names)):
        whole = len(meta) != len(faces)
        tracks = [None] if whole else np.unique(meta.track)
        for track in tracks:
            index = np.arange(len(faces)) if whole else np.flatnonzero(meta.track == track)
            out_sets.append(faces[index])
            out_metas.append(None if whole else meta.select(index))
            out_names.append(name if whole else f"{name} track {track}")
            owner.append(video)
    return out_sets, out_metas, out_names, np.asarray(owner, dtype=np.int64)


def max_over_tracks(scores: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """(models x videos) scores from (models x track sets) ones: the maximum over each video's sets. ``owner`` is
    the video index of each set column, non-decreasing, with every video present (as ``split_tracks`` gives)."""
    if len(owner) != scores.shape[1]:
        raise ValueError(f"{scores.shape[1]} score columns for {len(owner)} track sets")
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return np.maximum.reduceat(scores, starts, axis=1)

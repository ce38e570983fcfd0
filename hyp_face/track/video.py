"""Face tracks of a video, streaming: frames sampled at ``track_fps`` -> faces -> tracker (docs/tracks.md).

:func:`track_faces` yields one :class:`TrackStep` per sampled frame, in order, holding only the frames of one
embedding batch and the steps whose tracks are still undecided (a track is undecided until it reaches ``min_len``
faces or ends, i.e. for at most ``min_len * max_gap_s`` seconds), so memory stays bounded on streams of any length.
:func:`track_video` gathers the steps of a file into the store's form, with the threshold back-off of extraction.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..detect.backoff import backoff_threshold
from ..extract import FaceExtractor, VideoFaces
from ..io.embed_store import STATUS_VIDEO_ERROR, FaceMeta
from ..video import Frame, VideoError, sample_frames
from .shots import ShotCutDetector
from .tracker import NO_TRACK, FaceTracker, TrackOptions
from .types import Track

log = logging.getLogger(__name__)


@dataclass
class TrackStep:
    """One sampled frame: its faces (``meta.track`` filled, -1 for faces of dropped tracks) and the tracks that
    ended by then; the last step of a stream also carries the tracks flushed at its end."""

    frame: Frame
    embeds: np.ndarray  # (N, D) float32, rows ``meta.frame`` of this frame only
    meta: FaceMeta
    ended: list[Track] = field(default_factory=list)
    cut: bool = False  # a shot cut precedes this frame
    det_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # every detection's score


class _DelayLine:
    """Holds steps until every face of the oldest one belongs to a decided track (kept or dropped); the newest
    step is always held, to carry the tracks flushed at the end of the stream."""

    def __init__(self, tracker: FaceTracker):
        self.tracker = tracker
        self.steps: deque[TrackStep] = deque()

    def _ready(self, step: TrackStep) -> bool:
        return all(self.tracker.status(int(t)) != "pending" for t in step.meta.track)

    def _release(self) -> TrackStep:
        step = self.steps.popleft()
        dropped = [self.tracker.status(int(t)) == "dropped" for t in step.meta.track]
        step.meta.track[np.asarray(dropped, bool)] = NO_TRACK
        waiting = {int(t) for s in self.steps for t in s.meta.track}
        self.tracker.forget_dropped(set(step.meta.track.tolist()) - waiting - {NO_TRACK})
        return step

    def push(self, step: TrackStep) -> Iterator[TrackStep]:
        self.steps.append(step)
        while len(self.steps) > 1 and self._ready(self.steps[0]):
            yield self._release()

    def close(self, flushed: list[Track]) -> Iterator[TrackStep]:
        """Release every step (all tracks are decided once flushed), the flushed tracks on the last one."""
        while self.steps:
            step = self._release()
            if not self.steps:
                step.ended = step.ended + flushed
            yield step


def track_faces(extractor: FaceExtractor, source: str, opts: TrackOptions,
                frames: Iterable[Frame] | None = None, threshold: float | None = None) -> Iterator[TrackStep]:
    """Track the faces of ``source`` frame by frame (a streaming generator; see the module docstring).

    ``frames``: the caller's frame iterator (live mode); default: ``source`` decoded at ``opts.track_fps``
    (``extractor.opts.max_frames`` caps it). ``threshold``: detection threshold, default the first of the
    extractor's schedule (no back-off while streaming). Face rows (``TrackStep.meta``, ``Track.face_index``) count
    from 0 over the whole stream. A ``VideoError`` of the source propagates.
    """
    if frames is None:
        frames = sample_frames(source, fps=opts.track_fps, max_frames=extractor.opts.max_frames)
    thr = extractor.opts.thresholds[0] if threshold is None else threshold
    tracker, cuts = FaceTracker(opts), ShotCutDetector(opts.cut_threshold)
    delay = _DelayLine(tracker)
    n_faces = 0
    for faces in extractor.stream_faces(frames, thr):
        cut = cuts.is_cut(faces.frame.image)
        meta = faces.meta
        rows = np.arange(n_faces, n_faces + len(meta), dtype=np.int64)
        n_faces += len(meta)
        meta.track = tracker.update(faces.frame.time, faces.frame.index, meta.box, meta.score, faces.embeds,
                                    rows, cut=cut, sharpness=meta.sharpness)
        step = TrackStep(faces.frame, faces.embeds, meta, tracker.finished(), cut, faces.det_scores)
        yield from delay.push(step)
    yield from delay.close(tracker.flush())


def _gather(steps: Iterable[TrackStep], dim: int,
            frame_scores: list[np.ndarray] | None) -> tuple[VideoFaces, list[Track]]:
    """Concatenate the steps of a video (dropping their frames) into its faces and tracks."""
    embeds, metas, tracks = [np.zeros((0, dim), np.float32)], [], []
    for step in steps:
        embeds.append(step.embeds)
        metas.append(step.meta)
        tracks.extend(step.ended)
        if frame_scores is not None:
            frame_scores.append(step.det_scores)
    return VideoFaces(np.concatenate(embeds), FaceMeta.concat(metas)), sorted(tracks, key=lambda t: t.track_id)


def track_video(extractor: FaceExtractor, source: str, opts: TrackOptions,
                key: str = "") -> tuple[VideoFaces, list[Track]]:
    """Every face of a video file with its track, and its tracks; errors come back as a status, never raised.

    The threshold back-off of :meth:`FaceExtractor.process` applies: when the first threshold of the schedule
    yields fewer than ``min_faces`` faces, the video is tracked again at the highest threshold that yields them.
    """
    dim = extractor.embedder.dim
    start = extractor.opts.thresholds[0]
    try:
        frame_scores: list[np.ndarray] = []
        faces, tracks = _gather(track_faces(extractor, source, opts, threshold=start), dim, frame_scores)
        faces.threshold = start
        if len(faces.embeds) < extractor.opts.min_faces:
            thr = backoff_threshold(frame_scores, extractor.opts.thresholds, extractor.opts.min_faces, False)
            if thr is None:
                return VideoFaces(faces.embeds[:0], FaceMeta(), "no face found"), []
            log.info("%s: no face at threshold %.2f, backing off to %.2f", key or source, start, thr)
            faces, tracks = _gather(track_faces(extractor, source, opts, threshold=thr), dim, None)
            faces.threshold = thr
    except VideoError as e:
        log.error("%s", e)
        return VideoFaces(np.zeros((0, dim), np.float32), FaceMeta(), STATUS_VIDEO_ERROR + str(e)), []
    return faces, tracks

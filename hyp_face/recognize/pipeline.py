"""Who appears when in one video or stream: tracks (hyp_face.track), people (their clusters), gallery identities
(:mod:`hyp_face.recognize.identify`) and the outputs (:mod:`hyp_face.recognize.outputs`).

:func:`recognize` streams the source once: each track is identified when it ends, the people of the video are
the clusters of its tracks (:func:`hyp_face.track.people.cluster_tracks`, recomputed when tracks have ended), and
the outputs are written at the end, or, with a :class:`~hyp_face.recognize.outputs.TimelineWriter` (live mode),
rewritten as tracks end. A source that cannot be opened, or that breaks off, ends with a status in the timeline;
the tracks found until then are kept and written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..extract import FaceExtractor
from ..frontend import FrontEndConfig
from ..io.embed_store import STATUS_OK, STATUS_VIDEO_ERROR
from ..track.people import cluster_tracks
from ..track.tracker import TrackOptions
from ..track.types import Track
from ..track.video import TrackStep, track_faces
from ..video import Frame, VideoError, sample_frames
from .contact import FaceCrops, SampledCrops, TrackCrops
from .identify import Identifier, label_tracks
from .outputs import TimelineWriter, write_outputs
from .timeline import VideoTimeline

log = logging.getLogger(__name__)


@dataclass
class RecognizeOptions:
    """What recognition does beyond the front end: tracking, people clustering, per-face mode, outputs."""

    track: TrackOptions = field(default_factory=TrackOptions)  # its rejoin_cos is the people clustering's threshold
    per_face: bool = False  # identify every face on its own (each face a one-face track)
    video: bool = False  # also write the annotated MP4
    contact_sheets: bool = True


def config_options(cfg: FrontEndConfig, track_fps: float = 5.0, **given: Any) -> RecognizeOptions:
    """Recognition options with the tracker's and the people clustering's values of the embedder's config."""
    return RecognizeOptions(cfg.track_options(track_fps=track_fps), **given)


@dataclass
class Progress:
    """Live feedback after each sampled frame: media seconds, wall seconds, CPU seconds of the process (all its
    threads) and the names on screen."""

    media_s: float
    wall_s: float
    cpu_s: float
    on_screen: list[str]


def face_tracks(step: TrackStep, first_row: int) -> list[Track]:
    """Each face of a step as a one-face track (``--per-face``), its id the face's row in the stream."""
    meta = step.meta
    return [Track(first_row + i, np.array([first_row + i], np.int64), meta.frame[i:i + 1], meta.time[i:i + 1],
                  meta.box[i:i + 1], meta.score[i:i + 1], step.embeds[i], float(meta.score[i]))
            for i in range(len(meta))]


class TimelineBuilder:
    """Grows a :class:`VideoTimeline` from track steps: identities as tracks end, people on request."""

    def __init__(self, key: str, source: str, opts: RecognizeOptions, identifier: Identifier):
        self.timeline = VideoTimeline(key, source, track_fps=opts.track.track_fps)
        self.opts = opts
        self.identifier = identifier
        self._clustered = 0
        self._faces = 0  # faces seen so far (rows of the stream)
        self._open_sums: dict[int, np.ndarray] = {}  # embedding sum of each track not yet ended (live display)

    def add(self, step: TrackStep, crops: FaceCrops | None = None) -> None:
        """Take one step: the frame size and duration so far, the tracks that ended, and (``crops``) the faces the
        contact sheets will show, cut from the frame as it goes by."""
        tl = self.timeline
        tl.height, tl.width = step.frame.image.shape[:2]
        tl.duration = max(tl.duration, step.frame.time + 1.0 / tl.track_fps)
        faces = face_tracks(step, self._faces) if self.opts.per_face else []
        ended = faces if self.opts.per_face else step.ended
        tl.tracks.extend(ended)
        self._faces += len(step.meta)
        ids = np.array([t.track_id for t in faces], np.int64) if self.opts.per_face else step.meta.track
        if not self.opts.per_face:
            for track_id, embed in zip(step.meta.track.tolist(), step.embeds):
                if track_id >= 0:
                    self._open_sums[track_id] = self._open_sums.get(track_id, 0.0) + embed
            for track in ended:
                self._open_sums.pop(track.track_id, None)
        if crops is not None:
            crops.offer(step.frame.time, step.frame.image, step.meta.box, step.meta.score, ids)
            crops.end(ended)

    def on_screen(self, step: TrackStep) -> list[str]:
        """Names of the faces of a step, for the live display: each face identified by the mean embedding of its
        track so far (a face alone when it has no track yet), so that a name does not flicker from frame to frame."""
        if not len(step.embeds):
            return []
        probes = [self._open_sums.get(t, e) if t >= 0 else e for t, e in zip(step.meta.track.tolist(), step.embeds)]
        return self.identifier.identify(np.stack(probes)).identity

    def labelled(self) -> VideoTimeline:
        """The timeline with people and identities of every track so far (recomputed only when tracks ended)."""
        tl = self.timeline
        if len(tl.tracks) != self._clustered:
            tl.tracks.sort(key=lambda t: (t.start, t.track_id))
            people = cluster_tracks(tl.tracks, self.opts.track.rejoin_cos)  # the config's people_ahc_thr
            tl.labels = label_tracks(tl.tracks, people, self.identifier, context=not self.opts.per_face)
            self._clustered = len(tl.tracks)
        return tl


def contact_crops(opts: RecognizeOptions, live: bool) -> FaceCrops | None:
    """What keeps the contact sheets' faces as the frames go by: the best face of each track (a stream, which
    cannot be decoded again), or the faces the sheets will show (a file, which then need not be decoded again)."""
    if not opts.contact_sheets:
        return None
    return TrackCrops() if live else SampledCrops()


def write_failed(key: str, source: str, status: str, opts: RecognizeOptions, out_dir: str | Path) -> VideoTimeline:
    """The (empty) outputs of a source that could not be opened, its status in timeline.json."""
    timeline = VideoTimeline(key, source, track_fps=opts.track.track_fps, status=status)
    write_outputs(timeline, out_dir, video=False, contact_sheets=False)
    return timeline


def recognize(extractor: FaceExtractor, source: str, key: str, identifier: Identifier, opts: RecognizeOptions,
              out_dir: str | Path, frames: Iterable[Frame] | None = None, writer: TimelineWriter | None = None,
              on_progress: Callable[[Progress], None] | None = None) -> VideoTimeline:
    """Recognise who appears when in ``source`` and write its outputs into ``<out_dir>/<key>/``.

    ``frames``: the caller's frames (a stream, live mode; the contact sheets' faces are then kept as they go by),
    else ``source`` is decoded at ``opts.track.track_fps``.
    ``writer``: rewrite the text outputs as the stream goes (live mode; the writer bounds the rate). Never raises
    for a bad source: the timeline's status says what happened.
    """
    build = TimelineBuilder(key, source, opts, identifier)
    crops = contact_crops(opts, live=frames is not None)
    start, cpu_start = time.monotonic(), time.process_time()
    stream = frames
    try:
        if stream is None:
            stream = sample_frames(source, fps=opts.track.track_fps, max_frames=extractor.opts.max_frames)
        for step in track_faces(extractor, source, opts.track, frames=stream):
            build.add(step, crops)
            if on_progress is not None:
                on_progress(Progress(step.frame.time, time.monotonic() - start, time.process_time() - cpu_start,
                                     build.on_screen(step)))
            if writer is not None:  # it rewrites at a bounded rate; people are recomputed only when tracks ended
                build.timeline.dropped_frames = getattr(frames, "dropped", 0)
                writer.update(build.labelled())
    except VideoError as err:
        log.error("%s", err)
        build.timeline.status = STATUS_VIDEO_ERROR + err.reason
    timeline = build.labelled()
    # a file's frames and a LiveFrames stream keep the error that ended them early (the tracks found until then
    # are kept); a LiveFrames stream also counts its dropped frames
    error, timeline.dropped_frames = getattr(stream, "error", None), getattr(frames, "dropped", 0)
    timeline.media_offset = getattr(stream, "media_offset", 0.0)
    declared = getattr(stream, "duration", None) if frames is None else None
    if declared:  # the last sampled frame stands for 1/track_fps, which may run past the end of a file
        timeline.duration = min(timeline.duration, max(declared, max((t.end for t in timeline.tracks), default=0.0)))
    if error and timeline.status == STATUS_OK:
        timeline.status = STATUS_VIDEO_ERROR + (error if frames is None else
                                                f"stream stopped at {timeline.duration:.1f} s: {error}")
    if timeline.status == STATUS_OK and not timeline.tracks:
        log.info("%s: no face track", key)
    if writer is not None:
        writer.close(timeline, video=opts.video, contact_sheets=opts.contact_sheets, track_crops=crops)
    else:
        write_outputs(timeline, out_dir, video=opts.video, contact_sheets=opts.contact_sheets, track_crops=crops)
    return timeline

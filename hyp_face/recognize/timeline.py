"""Who appears when in one video: its tracks, the person cluster and the gallery identity of each, and the record
of each track in timeline.json (:mod:`hyp_face.recognize.outputs`).

A face sampled at time t stands for [t, t + 1/track_fps) (clipped to the duration); the faces of a track form one
segment until two consecutive faces are more than 1.5 sampling periods apart. A person's identity is the gallery
identity with the most screen time among its tracks (``unknown`` when none has one); its score is the best score of
its tracks for that identity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..track.types import Track

UNKNOWN = "unknown"


@dataclass
class TrackLabel:
    """What is known of one track: its person cluster in the video and its gallery identity."""

    track_id: int
    person: str  # cluster of tracks within the video, e.g. "person_03"
    identity: str = UNKNOWN  # best gallery identity, or UNKNOWN below the threshold
    score: float = float("nan")  # similarity of the track to that identity


@dataclass
class VideoTimeline:
    """Everything the outputs of one video are written from (timeline.json, RTTM, WebVTT, MP4, contact sheets)."""

    key: str  # recording id (data-dir key, or the file's stem)
    source: str  # path or URL it was read from
    width: int = 0  # displayed frame size, after rotation
    height: int = 0
    duration: float = 0.0  # seconds processed so far
    track_fps: float = 5.0  # sampled frames per second
    tracks: list[Track] = field(default_factory=list)
    labels: dict[int, TrackLabel] = field(default_factory=dict)  # by track_id
    status: str = "ok"
    dropped_frames: int = 0  # live mode: frames dropped to keep up with the wall clock
    media_offset: float = 0.0  # seconds from the container's start to the video stream's: times count from the
    # video stream's start; the RTTM and WebVTT add this, so they follow the timeline a player shows


GAP_PERIODS = 1.5  # consecutive faces of a track further apart than this many sampling periods start a new segment
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Segment:
    """A time span in which one track (or person) is on screen."""

    start: float
    end: float


def safe_name(name: str) -> str:
    """``name`` usable as one RTTM field and as a file name (runs of other characters become ``_``)."""
    return SAFE_NAME.sub("_", name).strip("_") or "_"


def label_of(timeline: VideoTimeline, track: Track) -> TrackLabel:
    """The track's label; a track without one is its own unknown person."""
    return timeline.labels.get(track.track_id) or TrackLabel(track.track_id, f"track_{track.track_id}")


def track_segments(track: Track, track_fps: float, duration: float = 0.0) -> list[Segment]:
    """The spans in which ``track`` is on screen (module doc: each face covers one sampling period)."""
    if not len(track):
        return []
    period = 1.0 / track_fps
    times = np.asarray(track.time, dtype=np.float64)
    breaks = np.flatnonzero(np.diff(times) > GAP_PERIODS * period) + 1
    segments = []
    for part in np.split(times, breaks):
        end = float(part[-1]) + period
        if duration > 0:
            end = min(end, max(duration, float(part[-1])))
        segments.append(Segment(float(part[0]), end))
    return segments


def merge_segments(segments: list[Segment]) -> list[Segment]:
    """The union of ``segments`` as sorted, disjoint spans."""
    merged: list[Segment] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        if merged and seg.start <= merged[-1].end:
            merged[-1] = Segment(merged[-1].start, max(merged[-1].end, seg.end))
        else:
            merged.append(seg)
    return merged


def json_number(value: float | None) -> float | None:
    """JSON has no NaN: unknown numbers are written as null."""
    return float(value) if value is not None and math.isfinite(value) else None


def rounded(value: float, digits: int = 3) -> float:
    """``value`` as written to timeline.json: 3 decimals (times), 1 (boxes), 4 (detector scores)."""
    return round(float(value), digits)


def track_record(timeline: VideoTimeline, track: Track) -> dict:
    """The timeline.json entry of one track."""
    label = label_of(timeline, track)
    return {
        "track_id": int(track.track_id), "person": label.person, "identity": label.identity,
        "score": json_number(label.score), "start": rounded(track.start), "end": rounded(track.end),
        "quality": json_number(track.quality), "num_faces": len(track),
        "segments": [[rounded(s.start), rounded(s.end)]
                     for s in track_segments(track, timeline.track_fps, timeline.duration)],
        "faces": [{"frame": int(f), "time": rounded(t), "box": [rounded(v, 1) for v in box], "score": rounded(s, 4)}
                  for f, t, box, s in zip(track.frame, track.time, np.asarray(track.box), track.score)],
    }


def person_identity(tracks: list[dict]) -> tuple[str, float | None]:
    """Identity of a person: the known identity with the most screen time among its tracks, and its best score."""
    screen: dict[str, float] = {}
    for t in tracks:
        if t["identity"] != UNKNOWN:
            screen[t["identity"]] = screen.get(t["identity"], 0.0) + sum(e - s for s, e in t["segments"])
    if not screen:
        return UNKNOWN, max((t["score"] for t in tracks if t["score"] is not None), default=None)
    identity = max(sorted(screen), key=screen.get)
    return identity, max((t["score"] for t in tracks if t["identity"] == identity and t["score"] is not None),
                         default=None)

"""Who appears when in one video: its tracks, the person cluster and the gallery identity of each."""

from __future__ import annotations

from dataclasses import dataclass, field

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

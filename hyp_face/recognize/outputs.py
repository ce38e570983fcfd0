"""The outputs of one video from its :class:`VideoTimeline`: timeline.json, RTTM, WebVTT, annotated MP4, contact sheets.

:func:`write_outputs` writes, into ``<out_dir>/<key>/`` (every file atomic, umask respected)::

    timeline.json          people, tracks, segments, identities, scores, boxes (schema below, versioned)
    <key>.rttm             face diarization, one SPEAKER line per segment of a track (scorable by pyannote.metrics,
                           dscore, md-eval); the name is the track's gallery identity, or its person when unknown
    <key>.vtt              WebVTT subtitles: who is on screen, with names and scores
    <key>.annotated.mp4    (``video=True``) the source with boxes, names and scores drawn; H.264, audio kept
    contact/<person>.png   (``contact_sheets=True``) a sheet of face crops per person

timeline.json (``"schema": "hyp_face.timeline"``, ``"version": 1``)::

    key, source, width, height (displayed frame, after rotation), duration (s), track_fps, media_offset (s), status,
    dropped_frames
    people: [{person, identity, score, screen_time, tracks: [track_id...], segments: [[start, end]...]}]
    tracks: [{track_id, person, identity, score, start, end, quality, num_faces, segments: [[start, end]...],
              faces: [{frame, time, box: [x1, y1, x2, y2], score}]}]

Times are seconds from the video stream's start; ``frame`` is the face's ``Track.frame`` as the tracker numbered it
(the time is what locates a face in the video). The RTTM and WebVTT add ``media_offset``, the delay of the video
stream behind the container's start (0.85 s in a clip whose audio starts first), so that they follow the timeline a
player shows. Segments and a person's identity follow the rules of
:mod:`hyp_face.recognize.timeline`, which builds each track's record. Tracks without faces are left out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

from ..io.table import atomic_write, write_lines
from .annotate import annotate_video
from .contact import FaceCrops, planned_crops, write_contact_sheets
from .timeline import (UNKNOWN, Segment, VideoTimeline, merge_segments, person_identity, rounded, safe_name,
                       track_record)

log = logging.getLogger(__name__)

SCHEMA = "hyp_face.timeline"
SCHEMA_VERSION = 1


def people_records(tracks: list[dict]) -> list[dict]:
    """The timeline.json ``people`` entries, from the track entries (sorted by person)."""
    by_person: dict[str, list[dict]] = {}
    for t in tracks:
        by_person.setdefault(t["person"], []).append(t)
    people = []
    for person in sorted(by_person):
        members = by_person[person]
        segments = merge_segments([Segment(s, e) for t in members for s, e in t["segments"]])
        identity, score = person_identity(members)
        people.append({"person": person, "identity": identity, "score": score,
                       "screen_time": rounded(sum(s.end - s.start for s in segments)),
                       "tracks": [t["track_id"] for t in members],
                       "segments": [[rounded(s.start), rounded(s.end)] for s in segments]})
    return people


def timeline_dict(timeline: VideoTimeline) -> dict:
    """The timeline.json document (module doc)."""
    kept = sorted((t for t in timeline.tracks if len(t)), key=lambda t: (t.start, t.track_id))
    tracks = [track_record(timeline, t) for t in kept]
    return {"schema": SCHEMA, "version": SCHEMA_VERSION, "key": timeline.key, "source": timeline.source,
            "width": int(timeline.width), "height": int(timeline.height), "duration": rounded(timeline.duration),
            "track_fps": float(timeline.track_fps), "media_offset": rounded(timeline.media_offset),
            "status": timeline.status, "dropped_frames": int(timeline.dropped_frames),
            "people": people_records(tracks), "tracks": tracks}


def write_json(path: str | os.PathLike, doc: dict) -> None:
    """Atomically write ``doc`` as UTF-8 JSON: one top-level field per line, one list item (person, track) per line."""
    def dumps(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    fields = []
    for name, value in doc.items():
        if isinstance(value, list) and value:
            value = "[\n  " + ",\n  ".join(dumps(v) for v in value) + "\n ]"
        else:
            value = dumps(value)
        fields.append(f" {dumps(name)}: {value}")
    with atomic_write(path) as f:
        f.write("{\n" + ",\n".join(fields) + "\n}\n")


def read_timeline(path: str | os.PathLike) -> dict:
    """A timeline.json document; an error names the file when it is not one of a known version."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not a {SCHEMA} document of version {SCHEMA_VERSION}")
    return doc


def rttm_lines(doc: dict) -> list[str]:
    """RTTM SPEAKER lines of a timeline document, one per track segment, sorted by time."""
    uri, offset = safe_name(doc["key"]), doc.get("media_offset", 0.0)
    rows = []
    for t in doc["tracks"]:
        name = safe_name(t["person"] if t["identity"] == UNKNOWN else t["identity"])
        rows += [(s + offset, e + offset, name) for s, e in t["segments"]]
    return [f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {name} <NA> <NA>" for s, e, name in sorted(rows)]


def vtt_time(seconds: float) -> str:
    """WebVTT timestamp hh:mm:ss.ttt."""
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def cue_text(track: dict) -> str:
    """How a track is named in a subtitle: identity and score, or ``unknown (person)`` (WebVTT-escaped)."""
    if track["identity"] == UNKNOWN:
        text = f"{UNKNOWN} ({track['person']})"
    else:
        text = track["identity"] if track["score"] is None else f"{track['identity']} ({track['score']:.2f})"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_lines(doc: dict) -> list[str]:
    """A WebVTT document: one cue per span in which the set of people on screen does not change (a segment of one
    person that ends where the next of the same person starts does not split a cue)."""
    offset = doc.get("media_offset", 0.0)
    spans = [(s + offset, e + offset, cue_text(t)) for t in doc["tracks"] for s, e in t["segments"]]
    cuts = sorted({v for s, e, _ in spans for v in (s, e)})
    cues: list[tuple[float, float, list[str]]] = []
    for a, b in zip(cuts, cuts[1:]):
        names = sorted({name for s, e, name in spans if s < b and e > a})
        if cues and cues[-1][2] == names and cues[-1][1] == a:
            cues[-1] = (cues[-1][0], b, names)
        elif names:
            cues.append((a, b, names))
    lines = ["WEBVTT", ""]
    for a, b, names in cues:
        lines += [f"{vtt_time(a)} --> {vtt_time(b)}", *names, ""]
    return lines[:-1] if len(lines) > 2 else lines


def output_dir(out_dir: str | os.PathLike, key: str) -> Path:
    """The folder of one video's outputs."""
    return Path(out_dir) / safe_name(key)


def write_text_outputs(timeline: VideoTimeline, folder: Path) -> dict[str, Path]:
    """timeline.json, RTTM and WebVTT of ``timeline`` in ``folder``; returns their paths by kind."""
    doc = timeline_dict(timeline)
    name = safe_name(timeline.key)
    paths = {"timeline": folder / "timeline.json", "rttm": folder / f"{name}.rttm", "vtt": folder / f"{name}.vtt"}
    write_json(paths["timeline"], doc)
    write_lines(paths["rttm"], rttm_lines(doc))
    write_lines(paths["vtt"], vtt_lines(doc))
    return paths


def write_outputs(timeline: VideoTimeline, out_dir: str | os.PathLike, video: bool = False,
                  contact_sheets: bool = True, track_crops: FaceCrops | None = None
                  ) -> dict[str, Path]:
    """Write every output of one video into ``<out_dir>/<key>/`` (module doc); returns the paths by kind.

    The contact sheets' faces come from ``track_crops``, kept as the frames went by (live mode: the best face of
    each track; file mode: the faces the sheets show, unless some were over its memory bound). Otherwise they are
    cut in the annotated video's pass, which decodes ``timeline.source`` again, or in a pass of their own. Only a
    file is decoded again (not a URL or a device: a live stream would not replay); when that is not possible, or the
    file cannot be decoded, these outputs are skipped with a logged warning and the text outputs stay valid.
    """

    folder = output_dir(out_dir, timeline.key)
    paths = write_text_outputs(timeline, folder)
    crops = track_crops.crops(timeline) if track_crops is not None else None
    if not os.path.isfile(timeline.source) and (video or (contact_sheets and crops is None)):
        log.warning("%s: %s is not a file that can be decoded again: no annotated video%s", timeline.key,
                    timeline.source, "" if crops is not None else " and no contact sheets")
        video, contact_sheets = False, contact_sheets and crops is not None
    if video:
        target = folder / f"{safe_name(timeline.key)}.annotated.mp4"
        collector = planned_crops(timeline) if contact_sheets and crops is None else None
        if _try(timeline, "annotated video", annotate_video, timeline, target, collector) is not None:
            paths["video"] = target
            crops = collector.crops if collector is not None else crops
    if contact_sheets:
        sheets = _try(timeline, "contact sheets", write_contact_sheets, timeline, folder / "contact", crops)
        if sheets is not None:
            paths.update({f"contact:{person}": p for person, p in sheets.items()})
    return paths


class TimelineWriter:
    """Live mode: rewrites the text outputs of a growing timeline (atomically) as it grows, at a bounded cost.

    A rewrite waits at least ``min_interval`` s after the last one, and at least ``cost_factor`` times as long as
    the last one took, so that rewriting the whole timeline of a long stream never takes more than about
    1 / ``cost_factor`` of the time. Readers always see complete files as of the last write; :meth:`close` writes
    the final state.
    """

    def __init__(self, out_dir: str | os.PathLike, min_interval: float = 1.0, cost_factor: float = 10.0):
        self.out_dir = Path(out_dir)
        self.min_interval = min_interval
        self.cost_factor = cost_factor
        self._next_write = -math.inf

    def update(self, timeline: VideoTimeline, force: bool = False) -> bool:
        """Rewrite the files when ``force`` or when the wait since the last rewrite is over; True when written."""
        start = time.monotonic()
        if not force and start < self._next_write:
            return False
        write_text_outputs(timeline, output_dir(self.out_dir, timeline.key))
        cost = time.monotonic() - start
        self._next_write = start + max(self.min_interval, self.cost_factor * cost)
        return True

    def close(self, timeline: VideoTimeline, video: bool = False, contact_sheets: bool = True,
              track_crops: FaceCrops | None = None) -> dict[str, Path]:
        """The final outputs (:func:`write_outputs`; a stream or device is not decoded again, so its contact
        sheets need ``track_crops``, kept as the frames went by)."""
        return write_outputs(timeline, self.out_dir, video=video, contact_sheets=contact_sheets,
                             track_crops=track_crops)


def _try(timeline: VideoTimeline, what: str, func, *args):
    """Run one media writer; a source that cannot be read again is a logged warning, not a lost video."""
    from ..video.reader import VideoError
    try:
        return func(*args)
    except VideoError as err:
        log.warning("%s: no %s: %s", timeline.key, what, err)
        return None

"""Ground truth of who is visible in which frame of a composed video, and the gallery of a face-diarization protocol.

A corpus builder (:mod:`hyp_face.corpus.lfw_mock`) knows every face it pastes; it writes them into
``<root>/face_diarization/`` of each partition::

    ground_truth.json   {"schema": "hyp_face.face_truth", "version": 1, "gallery": [names...],
                         "videos": [{key, path, fps, width, height, num_frames, duration,
                                     tracks: [{track, person, in_gallery, first_frame, boxes: [[x1,y1,x2,y2]...]}]}]}
    ground_truth.rttm   one SPEAKER line per track (a continuous appearance of a person: one shot)
    gallery/<Name>/     the gallery of the protocol: links to each enrolled person's enrollment photos

A track is visible in frames ``first_frame .. first_frame + len(boxes) - 1`` (frame i spans [i/fps, (i+1)/fps)),
with one face box per frame in pixels of the displayed frame. People with ``in_gallery`` false (impostors and
distractors) are not in the gallery: a recogniser should call them ``unknown``. Only the main face of each pasted
photo is annotated (its box as found by the embedded RetinaFace, as for the enrollment boxes): the rare second face
of an LFW photo, a bystander at its edge, counts as a false alarm when it is found.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.table import atomic_write, write_lines

SCHEMA = "hyp_face.face_truth"
SCHEMA_VERSION = 1
FOLDER = "face_diarization"


@dataclass
class TruthTrack:
    """One continuous appearance of a person: a box per frame from ``first_frame`` on."""

    track: int
    person: str
    in_gallery: bool
    first_frame: int
    boxes: np.ndarray  # (n, 4) float, x1 y1 x2 y2

    def frames(self) -> np.ndarray:
        return self.first_frame + np.arange(len(self.boxes))


@dataclass
class TruthVideo:
    """Who is visible in one video, frame by frame."""

    key: str
    path: str
    fps: float
    width: int
    height: int
    num_frames: int
    tracks: list[TruthTrack]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def truth_rttm_lines(videos: list[TruthVideo]) -> list[str]:
    """RTTM SPEAKER lines: one per track, from its first frame to the end of its last frame."""
    lines = []
    for v in videos:
        for t in sorted(v.tracks, key=lambda t: (t.first_frame, t.person)):
            start, dur = t.first_frame / v.fps, len(t.boxes) / v.fps
            lines.append(f"SPEAKER {v.key} 1 {start:.3f} {dur:.3f} <NA> <NA> {t.person} <NA> <NA>")
    return lines


def _video_doc(v: TruthVideo) -> dict:
    return {"key": v.key, "path": v.path, "fps": v.fps, "width": v.width, "height": v.height,
            "num_frames": v.num_frames, "duration": round(v.duration, 6),
            "tracks": [{"track": t.track, "person": t.person, "in_gallery": t.in_gallery, "first_frame": t.first_frame,
                        "boxes": np.round(np.asarray(t.boxes, dtype=np.float64), 1).tolist()} for t in v.tracks]}


def write_face_truth(folder: str | os.PathLike, videos: list[TruthVideo], gallery: dict[str, list[Path]]) -> None:
    """Write ground_truth.json, ground_truth.rttm and the gallery links (module doc) into ``folder``."""
    folder = Path(folder)
    doc = {"schema": SCHEMA, "version": SCHEMA_VERSION, "gallery": sorted(gallery),
           "videos": [_video_doc(v) for v in videos]}
    with atomic_write(folder / "ground_truth.json") as f:
        f.write("{" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k != "videos"))
        f.write(',\n"videos": [\n' + ",\n".join(json.dumps(v, separators=(",", ":")) for v in doc["videos"]))
        f.write("\n]}\n")
    write_lines(folder / "ground_truth.rttm", truth_rttm_lines(videos))
    for person, photos in sorted(gallery.items()):
        for photo in photos:
            link_atomically(Path(photo).resolve(), folder / "gallery" / person / Path(photo).name)


def link_atomically(target: Path, link: Path) -> None:
    """Make ``link`` a symbolic link to ``target`` (replacing an older link in one rename)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def read_face_truth(path: str | os.PathLike) -> dict[str, TruthVideo]:
    """The videos of a ground_truth.json by key; an error names the file when it is not one."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not a {SCHEMA} document of version {SCHEMA_VERSION}")
    videos = {}
    for v in doc["videos"]:
        tracks = [TruthTrack(int(t["track"]), t["person"], bool(t["in_gallery"]), int(t["first_frame"]),
                             np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4)) for t in v["tracks"]]
        videos[v["key"]] = TruthVideo(v["key"], v["path"], float(v["fps"]), int(v["width"]), int(v["height"]),
                                      int(v["num_frames"]), tracks)
    return videos

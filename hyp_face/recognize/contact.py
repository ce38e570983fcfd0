"""Contact sheets: one PNG of face crops per person of a video.

Each person gets up to :data:`PER_PERSON` crops: the best face (detector score x sqrt(box area)) of each of its
tracks first, then the second best of each, and so on, so that every track shows; a track's faces are taken from
equal runs of it, so that a long track shows its whole length. The crops are cut in one
streaming pass over the source that decodes only up to the instants needed (seeking forward like the sampler of
:mod:`hyp_face.video.reader`). A sheet is a header line (person, identity, score) over a grid of square crops, each
captioned with its time. With the annotated video, the crops are cut in its pass instead (:class:`CropCollector`);
live mode keeps the best crop of each track as the frames go by (:class:`TrackCrops`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.table import atomic_write
from ..track.types import Track
from ..video.reader import VideoDecoder
from .timeline import UNKNOWN, VideoTimeline, label_of, person_identity, safe_name, track_record

PER_PERSON = 12
COLUMNS = 4
THUMB = 112  # pixels of a square crop
MARGIN = 0.25  # the crop is the face box grown by this fraction on each side
HEADER = 22
PNG_LEVEL = 1  # zlib level of the sheets: 3-4x faster to write than PIL's 6, files about a tenth larger
CROP_BYTES = THUMB * THUMB * 3  # one RGB crop


def crop_quality(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """How well a crop shows each face: detector score x sqrt(box area)."""
    box = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)
    return np.asarray(scores, dtype=np.float64) * np.sqrt(area)


def best_faces(track: Track, limit: int = PER_PERSON) -> list[int]:
    """Rows of up to ``limit`` faces of ``track`` spread over its length: the best face (:func:`crop_quality`) of
    each of ``limit`` equal runs of its faces, best first."""
    quality = crop_quality(track.box, track.score)
    runs = np.array_split(np.arange(len(track)), min(limit, len(track)))
    best = [int(run[np.argmax(quality[run])]) for run in runs]
    return sorted(best, key=lambda i: -quality[i])


def pick_faces(tracks: list[Track], limit: int = PER_PERSON) -> list[tuple[float, np.ndarray]]:
    """(time, box) of up to ``limit`` faces: round robin over the tracks (longest first), best faces first."""
    ranked = [(t, best_faces(t, limit)) for t in sorted(tracks, key=lambda t: (-len(t), t.track_id))]
    picked: list[tuple[float, np.ndarray]] = []
    for rank in range(max((len(r) for _, r in ranked), default=0)):
        for track, rows in ranked:
            if rank < len(rows) and len(picked) < limit:
                picked.append((float(track.time[rows[rank]]), np.asarray(track.box[rows[rank]], np.float64)))
    return sorted(picked, key=lambda p: p[0])


def crop(image: np.ndarray, box: np.ndarray) -> Image.Image:
    """The square around ``box`` grown by :data:`MARGIN`, resized to :data:`THUMB` (black outside the frame)."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top, right, bottom = (round(v) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    square = np.zeros((max(bottom - top, 0), max(right - left, 0), 3), np.uint8)  # only the square is copied
    rows = np.clip((top, bottom), 0, image.shape[0])
    cols = np.clip((left, right), 0, image.shape[1])
    square[rows[0] - top:rows[1] - top, cols[0] - left:cols[1] - left] = image[rows[0]:rows[1], cols[0]:cols[1]]
    return Image.fromarray(square).resize((THUMB, THUMB), Image.Resampling.BILINEAR)


Wanted = dict[float, list[tuple[str, np.ndarray]]]  # time -> [(person, box)]
Crops = dict[str, list[tuple[float, Image.Image]]]  # person -> [(time, crop)]


class CropCollector:
    """Cuts the wanted faces out of the frames offered in time order (a wanted time is met within ``half`` s)."""

    def __init__(self, wanted: Wanted):
        self.wanted = wanted
        self.times = sorted(wanted)
        self.k = 0
        self.crops: Crops = {}

    def next_time(self) -> float | None:
        """The next wanted time, or None when every crop is cut."""
        return self.times[self.k] if self.k < len(self.times) else None

    def offer(self, t: float, image: np.ndarray, half: float, scale: float = 1.0) -> None:
        """Cut the faces wanted at ``t`` (+- ``half``) out of ``image`` (the displayed frame scaled by ``scale``);
        those wanted earlier are given up."""
        while self.k < len(self.times) and self.times[self.k] <= t + half:
            want = self.times[self.k]
            if want >= t - half:
                for person, box in self.wanted[want]:
                    self.crops.setdefault(person, []).append((want, crop(image, box * scale)))
            self.k += 1


def cut_crops(source: str, collector: CropCollector) -> Crops:
    """The collector's crops, in one forward pass over ``source`` that seeks over what it does not need."""
    with VideoDecoder(source) as dec:
        half = 0.5 * dec.frame_duration
        for t, frame in dec.frames():
            target = collector.next_time()
            if target is None:
                break
            if t < target - half:
                if dec.worth_seeking(t, target - half):
                    dec.request_seek(target - half)
                continue
            collector.offer(t, dec.to_image(frame), half)
        dec.check_decoded()
    return collector.crops


class FaceCrops(Protocol):
    """What keeps the contact sheets' faces as recognition goes by (:class:`TrackCrops`, :class:`SampledCrops`)."""

    def offer(self, t: float, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, tracks: np.ndarray) -> None:
        """The faces of one sampled frame at time ``t``: boxes, detector scores and track ids (< 0: no track)."""

    def end(self, tracks: list[Track]) -> None:
        """Tracks that ended at this frame."""

    def crops(self, timeline: VideoTimeline) -> Crops | None:
        """The crops of each person's sheet; None when the source must be decoded again for them."""


class TrackCrops:
    """Live mode: the best crop (:func:`crop_quality`) of each track so far, JPEG-compressed (~5 kB each).

    Memory is bounded: beyond ``max_tracks`` tracks, the track seen first is forgotten (on a long stream, its sheet
    then lacks the crops of its oldest tracks).
    """

    def __init__(self, max_tracks: int = 4096) -> None:
        self.best: dict[int, tuple[float, float, bytes]] = {}  # track -> (quality, time, jpeg), first seen first
        self.max_tracks = max_tracks

    def offer(self, t: float, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, tracks: np.ndarray) -> None:
        """Keep the faces of one frame that beat their track's best so far (a track id < 0 is no track)."""
        for box, quality, track in zip(np.asarray(boxes, np.float64), crop_quality(boxes, scores), tracks):
            if int(track) >= 0 and quality > self.best.get(int(track), (-math.inf,))[0]:
                buf = io.BytesIO()
                crop(image, box).save(buf, format="JPEG", quality=90)
                self.best[int(track)] = (float(quality), t, buf.getvalue())
                if len(self.best) > self.max_tracks:
                    del self.best[next(iter(self.best))]

    def end(self, tracks: list[Track]) -> None:
        """Nothing to do: a track's best face is already all that is kept of it."""

    def crops(self, timeline: VideoTimeline) -> Crops:
        """Up to :data:`PER_PERSON` crops per person: its longest tracks' best faces, in time order."""
        crops: Crops = {}
        for person, tracks in tracks_by_person(timeline).items():
            kept = [t for t in sorted(tracks, key=lambda t: (-len(t), t.track_id)) if t.track_id in self.best]
            picked = sorted(self.best[t.track_id][1:] for t in kept[:PER_PERSON])
            crops[person] = [(t, Image.open(io.BytesIO(jpeg)).convert("RGB")) for t, jpeg in picked]
        return crops


FaceKey = tuple[float, tuple[float, ...]]  # (time, box) of a sampled face, as its track holds them


def face_key(t: float, box: np.ndarray) -> FaceKey:
    """The key of a face: its time and its box (float32, as :class:`~hyp_face.track.types.Track` stores it)."""
    return float(t), tuple(np.asarray(box, np.float32).tolist())


class SampledCrops:
    """File mode: the crops the contact sheets show, cut from the sampled frames as recognition goes by, so that
    the source need not be decoded again (the same frames and boxes as :func:`cut_crops`, so the same crops).

    Every face of an open track is cut (raw, ~37 kB); when the track ends only the faces :func:`best_faces` can
    pick stay. Memory is bounded: beyond ``max_bytes`` of crops no more are cut, and :meth:`crops` then answers None
    when a sheet needs one of those, so that the source is decoded again as before.
    """

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.by_track: dict[int, dict[FaceKey, Image.Image]] = {}

    def offer(self, t: float, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, tracks: np.ndarray) -> None:
        """Cut the faces of one sampled frame (a track id < 0 is no track; the scores play no part here)."""
        for box, track in zip(np.asarray(boxes, np.float32).reshape(-1, 4), tracks):
            if int(track) >= 0 and self.nbytes < self.max_bytes:
                self.by_track.setdefault(int(track), {})[face_key(t, box)] = crop(image, box.astype(np.float64))
                self.nbytes += CROP_BYTES

    def end(self, tracks: list[Track]) -> None:
        """Keep, of each track that ended, only the faces :func:`best_faces` can pick."""
        for track in tracks:
            faces = self.by_track.get(track.track_id, {})
            keep = {face_key(track.time[i], track.box[i]) for i in best_faces(track)}
            self.nbytes -= CROP_BYTES * len(set(faces) - keep)
            self.by_track[track.track_id] = {k: v for k, v in faces.items() if k in keep}

    def crops(self, timeline: VideoTimeline) -> Crops | None:
        """The crops of each person's sheet (as :func:`cut_crops` of :func:`planned_crops`), None when one is
        missing."""
        kept = {k: v for faces in self.by_track.values() for k, v in faces.items()}
        crops: Crops = {}
        wanted = planned_crops(timeline).wanted
        for t in sorted(wanted):
            for person, box in wanted[t]:
                image = kept.get(face_key(t, box))
                if image is None:
                    return None
                crops.setdefault(person, []).append((t, image))
        return crops


def sheet(title: str, crops: list[tuple[float, Image.Image]]) -> Image.Image:
    """A header line over a grid of captioned crops."""
    font = ImageFont.load_default(size=12)
    rows = max(1, math.ceil(len(crops) / COLUMNS))
    page = Image.new("RGB", (COLUMNS * THUMB, HEADER + rows * THUMB), (32, 32, 32))
    draw = ImageDraw.Draw(page)
    draw.text((4, 4), title, fill=(255, 255, 255), font=font)
    for i, (t, thumb) in enumerate(crops):
        x, y = (i % COLUMNS) * THUMB, HEADER + (i // COLUMNS) * THUMB
        page.paste(thumb, (x, y))
        draw.text((x + 3, y + THUMB - 15), f"{t:.1f}s", fill=(255, 255, 0), font=font)
    return page


def person_title(timeline: VideoTimeline, person: str, tracks: list[Track]) -> str:
    """``person: identity (score)``, the person's identity as timeline.json gives it (:func:`person_identity`: the
    one with the most screen time), or ``person: unknown``."""
    identity, score = person_identity([track_record(timeline, t) for t in tracks])
    if identity == UNKNOWN:
        return f"{person}: {UNKNOWN}"
    return f"{person}: {identity}" + ("" if score is None else f" ({score:.2f})")


def tracks_by_person(timeline: VideoTimeline) -> dict[str, list[Track]]:
    """The non-empty tracks of each person."""
    by_person: dict[str, list[Track]] = {}
    for track in timeline.tracks:
        if len(track):
            by_person.setdefault(label_of(timeline, track).person, []).append(track)
    return by_person


def planned_crops(timeline: VideoTimeline) -> CropCollector:
    """A collector of the faces each person's sheet shows (:func:`pick_faces`)."""
    wanted: Wanted = {}
    for person, tracks in tracks_by_person(timeline).items():
        for t, box in pick_faces(tracks):
            wanted.setdefault(t, []).append((person, box))
    return CropCollector(wanted)


def write_contact_sheets(timeline: VideoTimeline, folder: Path, crops: Crops | None = None) -> dict[str, Path]:
    """Write ``<folder>/<person>.png`` for every person of ``timeline``; returns the paths by person.

    ``crops`` (by person) come from a pass that already saw the frames (the annotated video, live mode); without
    them the source is decoded again, and a ``VideoError`` is raised when it cannot be.
    """
    by_person = tracks_by_person(timeline)
    if crops is None and by_person:
        crops = cut_crops(timeline.source, planned_crops(timeline))
    paths = {}
    for person in sorted(by_person):
        path = Path(folder) / f"{safe_name(person)}.png"
        with atomic_write(path, "wb") as f:
            sheet(person_title(timeline, person, by_person[person]), crops.get(person, [])).save(
                f, format="PNG", compress_level=PNG_LEVEL)
        paths[person] = path
    return paths

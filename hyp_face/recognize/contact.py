"""Contact sheets: one PNG of face crops per person of a video.

Each person gets up to :data:`PER_PERSON` crops: the best face (detector score x sqrt(box area)) of each of its
tracks first, then the second best of each, and so on, so that every track shows. The crops are cut in one
streaming pass over the source that decodes only up to the instants needed (seeking forward like the sampler of
:mod:`hyp_face.video.reader`). A sheet is a header line (person, identity, score) over a grid of square crops, each
captioned with its time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.table import atomic_write
from ..track.types import Track
from ..video.reader import VideoDecoder
from .outputs import label_of, safe_name
from .timeline import UNKNOWN, VideoTimeline

PER_PERSON = 12
COLUMNS = 4
THUMB = 112  # pixels of a square crop
MARGIN = 0.25  # the crop is the face box grown by this fraction on each side
HEADER = 22


def best_faces(track: Track) -> list[int]:
    """Rows of ``track``'s faces, best first (detector score x sqrt(area))."""
    box = np.asarray(track.box, dtype=np.float64)
    area = np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)
    return list(np.argsort(-np.asarray(track.score) * np.sqrt(area), kind="stable"))


def pick_faces(tracks: list[Track], limit: int = PER_PERSON) -> list[tuple[float, np.ndarray]]:
    """(time, box) of up to ``limit`` faces: round robin over the tracks (longest first), best faces first."""
    ranked = [(t, best_faces(t)) for t in sorted(tracks, key=lambda t: (-len(t), t.track_id))]
    picked: list[tuple[float, np.ndarray]] = []
    for rank in range(max((len(r) for _, r in ranked), default=0)):
        for track, rows in ranked:
            if rank < len(rows) and len(picked) < limit:
                picked.append((float(track.time[rows[rank]]), np.asarray(track.box[rows[rank]], np.float64)))
    return sorted(picked, key=lambda p: p[0])


def crop(image: np.ndarray, box: np.ndarray) -> Image.Image:
    """The square around ``box`` grown by :data:`MARGIN`, resized to :data:`THUMB` (grey where outside)."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    square = tuple(round(v) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return Image.fromarray(image).crop(square).resize((THUMB, THUMB), Image.Resampling.BILINEAR)


def cut_crops(source: str, wanted: dict[float, list[tuple[str, np.ndarray]]]) -> dict[str, list[tuple[float, Image.Image]]]:
    """Crops by person of the faces ``wanted`` (time -> [(person, box)]), in one forward pass over ``source``."""
    crops: dict[str, list[tuple[float, Image.Image]]] = {}
    times = sorted(wanted)
    with VideoDecoder(source) as dec:
        half = 0.5 * dec.frame_duration
        k = 0
        for t, frame in dec.frames():
            if k == len(times):
                break
            if t < times[k] - half:
                if dec.worth_seeking(t, times[k] - half):
                    dec.request_seek(times[k] - half)
                continue
            image = dec.to_image(frame)
            while k < len(times) and times[k] <= t + half:
                for person, box in wanted[times[k]]:
                    crops.setdefault(person, []).append((times[k], crop(image, box)))
                k += 1
        dec.check_decoded()
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
    """``person: identity (best score)``, or ``person: unknown``."""
    labels = [label_of(timeline, t) for t in tracks]
    known = [lab for lab in labels if lab.identity != UNKNOWN]
    if not known:
        return f"{person}: {UNKNOWN}"
    best = max(known, key=lambda lab: -math.inf if math.isnan(lab.score) else lab.score)
    return f"{person}: {best.identity} ({best.score:.2f})"


def write_contact_sheets(timeline: VideoTimeline, folder: Path) -> dict[str, Path]:
    """Write ``<folder>/<person>.png`` for every person of ``timeline``; returns the paths by person.

    Raises ``VideoError`` when the source cannot be decoded again.
    """
    by_person: dict[str, list[Track]] = {}
    for track in timeline.tracks:
        if len(track):
            by_person.setdefault(label_of(timeline, track).person, []).append(track)
    if not by_person:
        return {}
    wanted: dict[float, list[tuple[str, np.ndarray]]] = {}
    for person, tracks in by_person.items():
        for t, box in pick_faces(tracks):
            wanted.setdefault(t, []).append((person, box))
    crops = cut_crops(timeline.source, wanted)
    paths = {}
    for person in sorted(by_person):
        path = Path(folder) / f"{safe_name(person)}.png"
        with atomic_write(path, "wb") as f:
            sheet(person_title(timeline, person, by_person[person]), crops.get(person, [])).save(f, format="PNG")
        paths[person] = path
    return paths

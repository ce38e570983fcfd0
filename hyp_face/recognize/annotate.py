"""The annotated video: the source with boxes, names and scores drawn (H.264 through PyAV, the audio kept).

One streaming pass (one decoded frame in memory at a time): every video frame of the source is decoded, turned
upright (the display matrix of a rotated phone video is applied, as the reader does, so the timeline's boxes fit),
scaled down to a 720-pixel short side when larger (a preview: x264 at 1080p costs 2.25x more), drawn on and
encoded with libx264; the audio packets are copied as they are (MP4-compatible codecs) or re-encoded to AAC. The
faces of a sampled frame are drawn on every frame until the next sampled frame, for at most one sampling period
(1 / track_fps), so a box never outlives its face by more than that. A read error or a corrupt packet ends or
skips with a logged warning: the frames before it are kept.
"""

from __future__ import annotations

import bisect
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.table import atomic_write
from ..video.orientation import Orientation, apply_orientation, orientation_from_display_matrix
from ..video.reader import VideoError, probe
from .contact import CropCollector
from .live import open_source
from .outputs import label_of
from .timeline import UNKNOWN, VideoTimeline

log = logging.getLogger(__name__)

#: Box colours, one per person of the video (in sorted order), cycling.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (255, 225, 25), (170, 110, 40))
#: Audio codecs the MP4 muxer takes as they are; others are re-encoded to AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
#: x264 settings: the annotated copy is a preview, so speed first (ultrafast is ~2.5x faster than veryfast at 1080p).
ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23"}
#: A larger source is scaled down to this short side (720p) for the annotated copy: encoding 1080p costs 2.25x more.
MAX_SHORT_SIDE = 720


@dataclass(frozen=True)
class Drawn:
    """One face to draw: its box in the displayed frame, its caption and its colour."""

    box: tuple[float, float, float, float]
    text: str
    colour: tuple[int, int, int]


def caption(identity: str, person: str, score: float) -> str:
    """The text drawn above a box: the identity and its score, or ``unknown`` and the person."""
    if identity == UNKNOWN:
        return f"{UNKNOWN} {person}"
    return identity if np.isnan(score) else f"{identity} {score:.2f}"


def person_colours(timeline: VideoTimeline) -> dict[str, tuple[int, int, int]]:
    """A colour per person of the video (sorted persons, cycling through :data:`PALETTE`)."""
    people = sorted({label_of(timeline, t).person for t in timeline.tracks})
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(people)}


class BoxSchedule:
    """The faces to draw at any time: those of the last sampled frame, held for one sampling period."""

    def __init__(self, timeline: VideoTimeline):
        colours = person_colours(timeline)
        by_time: dict[float, list[Drawn]] = {}
        for track in timeline.tracks:
            label = label_of(timeline, track)
            text = caption(label.identity, label.person, label.score)
            for t, box in zip(track.time, np.asarray(track.box, dtype=np.float64)):
                by_time.setdefault(float(t), []).append(Drawn(tuple(box), text, colours[label.person]))
        self.times = sorted(by_time)
        self.faces = [by_time[t] for t in self.times]
        self.hold = 1.0 / timeline.track_fps

    def at(self, t: float, tolerance: float = 1e-3) -> list[Drawn]:
        """Faces shown at time ``t`` (seconds)."""
        i = bisect.bisect_right(self.times, t + tolerance) - 1
        if i < 0 or t - self.times[i] >= self.hold - tolerance:
            return []
        return self.faces[i]


def _font(height: int) -> ImageFont.ImageFont:
    """Pillow's built-in font at a size readable on a ``height``-pixel frame."""
    return ImageFont.load_default(size=max(10, height // 36))


def draw_faces(image: np.ndarray, faces: list[Drawn], font: ImageFont.ImageFont, scale: float = 1.0) -> np.ndarray:
    """``image`` (RGB, the displayed frame scaled by ``scale``) with each face's box and caption drawn (captions
    above the box, inside the frame)."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    width = max(3, round(min(canvas.size) / 150))
    for face in faces:
        x1, y1, x2, y2 = (v * scale for v in face.box)
        draw.rectangle((x1, y1, x2, y2), outline=face.colour, width=width)
        left, top, right, bottom = draw.textbbox((0, 0), face.text, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = y1 - th if y1 - th >= 0 else min(y2, canvas.size[1] - th)
        draw.rectangle((x1, ty, x1 + tw, ty + th), fill=face.colour)
        draw.text((x1 + 2 - left, ty + 2 - top), face.text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


class _Encoder:
    """The H.264 video stream of the output (even frame size, as yuv420p wants: an odd last row/column is cut)."""

    def __init__(self, out: av.container.OutputContainer, size: tuple[int, int], rate: Fraction,
                 time_base: Fraction):
        self.out, self.time_base = out, time_base
        self.size = (size[0] // 2 * 2, size[1] // 2 * 2)
        self.stream = out.add_stream("libx264", rate=rate, options=ENCODER_OPTIONS)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = time_base
        self.stream.time_base = time_base
        self.last_pts = -1
        self.count = 0

    def encode(self, image: np.ndarray, pts: int) -> None:
        image = image[:self.size[1], :self.size[0]]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self.last_pts = frame.pts = max(pts, self.last_pts + 1)
        frame.time_base = self.time_base
        self.out.mux(self.stream.encode(frame))
        self.count += 1

    def flush(self) -> None:
        self.out.mux(self.stream.encode(None))


class _Audio:
    """The audio of the output: packets copied (MP4-compatible codecs) or decoded and re-encoded to AAC."""

    def __init__(self, out: av.container.OutputContainer, source: av.AudioStream):
        self.out, self.copy = out, source.codec_context.name in MP4_AUDIO
        if self.copy:
            self.stream = out.add_stream_from_template(source)
        else:
            self.stream = out.add_stream("aac", rate=source.codec_context.sample_rate or 48000)

    def add(self, packet: av.Packet) -> None:
        if self.copy:
            if packet.dts is not None:
                packet.stream = self.stream
                self.out.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            self.out.mux(self.stream.encode(frame))

    def flush(self) -> None:
        if not self.copy:
            self.out.mux(self.stream.encode(None))


def _packets(container: av.container.InputContainer, streams: list) -> Iterator[av.Packet]:
    """The packets of ``streams``; a read error ends them with a logged warning (what came before is kept)."""
    try:
        yield from container.demux(streams)
    except av.FFmpegError as err:
        log.warning("%s: stream ends early at a read error: %s", container.name, err)


def _decoded(packet: av.Packet, name: str) -> list[av.VideoFrame]:
    """The frames of one video packet; a corrupt packet is skipped with a logged warning."""
    try:
        return packet.decode()
    except av.FFmpegError as err:
        log.warning("%s: undecodable packet skipped: %s", name, err)
        return []


def _upright_frames(container: av.container.InputContainer, audio: _Audio | None, scale: float
                    ) -> Iterator[tuple[float, int, np.ndarray]]:
    """(time s, pts, upright RGB image scaled by ``scale``) of every video frame; audio packets go to ``audio``."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    time_base = video.time_base or Fraction(1, 90000)
    origin = video.start_time or 0
    streams = [video] + ([container.streams.audio[0]] if audio is not None else [])
    orientation: Orientation | None = None
    count = 0
    for packet in _packets(container, streams):
        if packet.stream.type == "audio":
            audio.add(packet)
            continue
        for frame in _decoded(packet, container.name):
            if orientation is None:
                matrix = frame.side_data.get("DISPLAYMATRIX")
                orientation = orientation_from_display_matrix(bytes(matrix)) if matrix is not None \
                    else Orientation()
            pts = frame.pts if frame.pts is not None else count
            size = (round(frame.width * scale), round(frame.height * scale)) if scale != 1.0 else (None, None)
            rgb = frame.reformat(*size, format="rgb24", interpolation="AREA").to_ndarray()
            yield float((pts - origin) * time_base), pts, apply_orientation(rgb, orientation)
            count += 1


def output_scale(size: tuple[int, int], max_short_side: int = MAX_SHORT_SIDE) -> float:
    """The scale of the annotated copy of a ``size`` video: 1, or down to ``max_short_side`` pixels."""
    return min(1.0, max_short_side / min(size))


def annotate_video(timeline: VideoTimeline, path: str | os.PathLike, crops: CropCollector | None = None,
                   max_short_side: int = MAX_SHORT_SIDE) -> int:
    """Write the annotated copy of ``timeline.source`` to ``path`` atomically; returns the frames written.

    A source whose short side exceeds ``max_short_side`` is scaled down to it. ``crops`` cuts the contact sheets'
    faces out of the clean frames on the way. Raises ``VideoError`` when the source cannot be opened or has no
    decodable frame (then nothing is written).
    """
    schedule = BoxSchedule(timeline)
    size = probe(timeline.source).display_size  # opens, and decodes one frame: raises VideoError when it cannot
    scale = output_scale(size, max_short_side)
    container = open_source(timeline.source)
    try:
        return _annotate(container, timeline, schedule, (round(size[0] * scale), round(size[1] * scale)), scale,
                         path, crops)
    except av.FFmpegError as err:  # e.g. an audio stream that can be neither copied nor re-encoded
        raise VideoError(timeline.source, f"cannot write the annotated video: {err}") from err
    finally:
        container.close()


def _annotate(container: av.container.InputContainer, timeline: VideoTimeline, schedule: BoxSchedule,
              size: tuple[int, int], scale: float, path: str | os.PathLike, crops: CropCollector | None) -> int:
    """The streaming pass of :func:`annotate_video`."""
    video = container.streams.video[0]
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    half = 0.5 / float(rate)
    with atomic_write(path, "wb") as f, av.open(f, "w", format="mp4") as out:
        encoder = _Encoder(out, size, rate, video.time_base or Fraction(1, 90000))
        audio = _Audio(out, container.streams.audio[0]) if container.streams.audio else None
        font = _font(size[1])
        for t, pts, image in _upright_frames(container, audio, scale):
            if crops is not None:
                crops.offer(t, image, half, scale)
            faces = schedule.at(t)
            encoder.encode(draw_faces(image, faces, font, scale) if faces else image, pts)
        if not encoder.count:
            raise VideoError(timeline.source, "no decodable video frame")
        encoder.flush()
        if audio is not None:
            audio.flush()
    return encoder.count

"""The annotated video: the source with boxes, names and scores drawn (H.264 through PyAV, the audio kept).

One streaming pass: every video frame of the source is decoded, turned upright (the display matrix of a rotated
phone video is applied, as the reader does, so the timeline's boxes fit), scaled down to a 720-pixel short side
when larger (a preview: x264 at 1080p costs 2.25x more), drawn on and encoded with libx264; the audio packets are
copied as they are (MP4-compatible codecs) or re-encoded to AAC. A thread decodes, turns and scales ahead
(:func:`hyp_face.video.prefetch.prefetch_batches`, at most ``PREFETCH_BYTES`` of frames waiting) while the
caller's thread paints and encodes, so the two overlap on two cores. Frames stay in the decoder's yuv420p from
decoding to encoding: the boxes and captions of a sampled frame are drawn once in RGB, converted once, and painted
on the luma and chroma planes of every frame that shows them (:class:`Overlay`); only the few frames the contact
sheets' crops come from are converted to RGB. The
faces of a sampled frame are drawn on every frame until the next sampled frame, for at most one sampling period
(1 / track_fps), so a box never outlives its face by more than that. A read error or a corrupt packet ends or
skips with a logged warning: the frames before it are kept.
"""

from __future__ import annotations

import bisect
import logging
import os
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.table import atomic_write
from ..video.prefetch import prefetch_batches
from ..video.orientation import Orientation, apply_orientation, frame_orientation
from ..video.reader import VideoError, probe
from .contact import CropCollector
from .live import open_source
from .timeline import UNKNOWN, VideoTimeline, label_of

log = logging.getLogger(__name__)

#: Box colours, one per person of the video (in sorted order), cycling.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (255, 225, 25), (170, 110, 40))
#: Audio codecs the MP4 muxer takes as they are; others are re-encoded to AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
#: x264 settings: the annotated copy is a preview, so speed first (ultrafast is ~2.5x faster than veryfast at 1080p).
ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23"}
#: x264 threads (0: x264's choice, 1.5 per core); decoding runs in a thread of its own beside them.
ENCODER_THREADS = 0
#: Decoded frames waiting for the painter, at most (bytes), and per batch handed over (items).
PREFETCH_BYTES = 32 * 2**20
PREFETCH_ITEMS = 8
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


def face_layer(size: tuple[int, int], faces: list[Drawn], font: ImageFont.ImageFont, scale: float = 1.0
               ) -> Image.Image:
    """An RGBA layer of ``size`` (the displayed frame scaled by ``scale``) with each face's box and caption drawn
    opaque (captions above the box, inside the frame) on a transparent ground."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    width = max(3, round(min(size) / 150))
    for face in faces:
        x1, y1, x2, y2 = (v * scale for v in face.box)
        draw.rectangle((x1, y1, x2, y2), outline=face.colour, width=width)
        left, top, right, bottom = draw.textbbox((0, 0), face.text, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = y1 - th if y1 - th >= 0 else min(y2, size[1] - th)
        tx = max(0.0, min(x1, size[0] - tw))  # a face at the right edge keeps its caption inside the frame
        draw.rectangle((tx, ty, tx + tw, ty + th), fill=face.colour)
        draw.text((tx + 2 - left, ty + 2 - top), face.text, fill=(0, 0, 0, 255), font=font)
    return canvas


def plane_views(frame: av.VideoFrame) -> list[np.ndarray]:
    """Numpy views (rows x columns, padding cut) of the planes of a planar 8-bit ``frame``."""
    return [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:p.height, :p.width] for p in frame.planes]


class Overlay:
    """A :func:`face_layer` in yuv420p, to paint on frames of that format without converting them.

    The layer's opaque pixels (a binary mask) replace the luma; each chroma sample, shared by 2x2 pixels, is
    mixed with the layer's chroma in proportion to the opaque pixels among them. The layer's colours are converted
    by swscale, as the RGB frames were before (BT.601).
    """

    def __init__(self, layer: Image.Image):
        nowhere = (np.zeros(0, np.intp),) * 2
        self.luma_at, self.luma = nowhere, np.zeros(0, np.uint8)  # the opaque pixels and their luma
        self.chroma_at, self.keep = nowhere, np.zeros(0)  # the chroma samples they touch, the frame's share
        self.chroma = [np.zeros(0), np.zeros(0)]  # the layer's (cb, cr) there, weighted by its share
        box = layer.getchannel("A").getbbox()
        if box is None:
            return
        x0, y0 = box[0] // 2 * 2, box[1] // 2 * 2
        x1, y1 = min(layer.width // 2 * 2, box[2] + box[2] % 2), min(layer.height // 2 * 2, box[3] + box[3] % 2)
        if x1 <= x0 or y1 <= y0:  # drawn only on an odd last row or column, which the output cuts
            return
        rgba = np.asarray(layer.crop((x0, y0, x1, y1)))
        yuv = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba[..., :3]), format="rgb24").reformat(
            format="yuv444p")
        luma, cb, cr = plane_views(yuv)
        mask = rgba[..., 3] > 0
        rows, cols = np.nonzero(mask)
        self.luma_at, self.luma = (rows + y0, cols + x0), luma[rows, cols]
        h, w = mask.shape
        blocks = mask.reshape(h // 2, 2, w // 2, 2)
        share = blocks.mean(axis=(1, 3))  # of each chroma sample, the share the layer covers
        rows, cols = np.nonzero(share)
        self.chroma_at, self.keep = (rows + y0 // 2, cols + x0 // 2), 1.0 - share[rows, cols]
        self.chroma = [((c.reshape(h // 2, 2, w // 2, 2) * blocks).sum(axis=(1, 3)) / 4.0)[rows, cols]
                       for c in (cb, cr)]

    def paint(self, frame: av.VideoFrame) -> None:
        """Paint the layer on ``frame`` (yuv420p, the layer's size cut to even), in place."""
        luma, cb, cr = plane_views(frame)
        luma[self.luma_at] = self.luma
        for plane, mixed in zip((cb, cr), self.chroma):
            plane[self.chroma_at] = np.rint(plane[self.chroma_at] * self.keep + mixed).astype(np.uint8)


class _Painter:
    """Paints the faces of the schedule on frames; the overlay of a sampled frame is drawn once and reused for
    every frame that shows it."""

    def __init__(self, size: tuple[int, int], font: ImageFont.ImageFont, scale: float):
        self.size, self.font, self.scale = size, font, scale
        self._faces: list[Drawn] | None = None
        self._overlay: Overlay | None = None

    def paint(self, frame: av.VideoFrame, faces: list[Drawn]) -> None:
        if not faces:
            return
        if faces is not self._faces:
            self._faces, self._overlay = faces, Overlay(face_layer(self.size, faces, self.font, self.scale))
        self._overlay.paint(frame)


class _Encoder:
    """The H.264 video stream of the output, fed yuv420p frames of its size (even: :func:`even_size`)."""

    def __init__(self, out: av.container.OutputContainer, size: tuple[int, int], rate: Fraction,
                 time_base: Fraction):
        self.out, self.time_base, self.size = out, time_base, size
        self.stream = out.add_stream("libx264", rate=rate, options=ENCODER_OPTIONS)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.thread_count = ENCODER_THREADS
        self.stream.codec_context.time_base = time_base
        self.stream.time_base = time_base
        self.last_pts = -1
        self.count = 0

    def encode(self, frame: av.VideoFrame, pts: int) -> None:
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


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` with an odd width or height cut by one (yuv420p wants even sizes: an odd last row/column is cut)."""
    return size[0] // 2 * 2, size[1] // 2 * 2


@dataclass
class _Picture:
    """One decoded video frame, turned upright and scaled to the output size, in yuv420p."""

    time: float  # seconds from the stream start
    pts: int
    source: av.VideoFrame  # as decoded: the contact sheets' crops are cut from it (in RGB, at their instants only)
    orientation: Orientation
    frame: av.VideoFrame  # the output frame, a buffer of its own (the decoder's frames are never written to)

    @property
    def nbytes(self) -> int:
        return sum(p.buffer_size for p in self.source.planes) + sum(p.buffer_size for p in self.frame.planes)


def _upright_yuv(frame: av.VideoFrame, scale: float, orientation: Orientation, size: tuple[int, int]
                 ) -> av.VideoFrame:
    """``frame`` scaled by ``scale``, turned upright and cut to ``size`` (even), as a new yuv420p frame: scaling
    and a pixel format other than yuv420p go through swscale (no RGB on the way), turning through numpy."""
    if scale != 1.0 or frame.format.name != "yuv420p":
        frame = frame.reformat(round(frame.width * scale), round(frame.height * scale), format="yuv420p",
                               interpolation="AREA")
    out = av.VideoFrame(size[0], size[1], "yuv420p")
    for src, dst in zip(plane_views(frame), plane_views(out)):
        dst[...] = apply_orientation(src, orientation)[:dst.shape[0], :dst.shape[1]]
    return out


def _pictures(container: av.container.InputContainer, with_audio: bool, scale: float, size: tuple[int, int]
              ) -> Iterator[_Picture | av.Packet]:
    """Every video frame as a :class:`_Picture`, and the audio packets (``with_audio``), in demuxing order."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    time_base = video.time_base or Fraction(1, 90000)
    origin = video.start_time or 0
    streams = [video] + ([container.streams.audio[0]] if with_audio else [])
    orientation: Orientation | None = None
    count = 0
    for packet in _packets(container, streams):
        if packet.stream.type == "audio":
            yield packet
            continue
        for frame in _decoded(packet, container.name):
            if orientation is None:
                orientation = frame_orientation(frame)
            pts = frame.pts if frame.pts is not None else count
            yield _Picture(float((pts - origin) * time_base), pts, frame, orientation,
                           _upright_yuv(frame, scale, orientation, size))
            count += 1


def _upright_rgb(frame: av.VideoFrame, scale: float, orientation: Orientation) -> np.ndarray:
    """``frame`` scaled by ``scale`` and turned upright, in RGB (the contact sheets' crops are cut from it)."""
    size = (round(frame.width * scale), round(frame.height * scale)) if scale != 1.0 else (None, None)
    return apply_orientation(frame.reformat(*size, format="rgb24", interpolation="AREA").to_ndarray(), orientation)


def _item_bytes(item: _Picture | av.Packet) -> int:
    return item.nbytes if isinstance(item, _Picture) else item.size


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
    """The streaming pass of :func:`annotate_video`: a thread decodes and scales ahead (bounded in bytes) while
    this one paints and encodes."""
    video = container.streams.video[0]
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    half = 0.5 / float(rate)
    with atomic_write(path, "wb") as f, av.open(f, "w", format="mp4") as out:
        encoder = _Encoder(out, even_size(size), rate, video.time_base or Fraction(1, 90000))
        audio = _Audio(out, container.streams.audio[0]) if container.streams.audio else None
        painter = _Painter(size, _font(size[1]), scale)
        items = _pictures(container, audio is not None, scale, encoder.size)
        # closed on any exit, so that the decoding thread has stopped before the caller closes the container
        with closing(prefetch_batches(items, PREFETCH_ITEMS, PREFETCH_BYTES, _item_bytes)) as batches:
            for item in (item for batch in batches for item in batch):
                if not isinstance(item, _Picture):
                    audio.add(item)
                    continue
                wanted = crops.next_time() if crops is not None else None
                if wanted is not None and wanted <= item.time + half:
                    crops.offer(item.time, _upright_rgb(item.source, scale, item.orientation), half, scale)
                painter.paint(item.frame, schedule.at(item.time))
                encoder.encode(item.frame, item.pts)
        if not encoder.count:
            raise VideoError(timeline.source, "no decodable video frame")
        encoder.flush()
        if audio is not None:
            audio.flush()
    return encoder.count

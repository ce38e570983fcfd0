"""Streaming PyAV decoding by presentation timestamp, uniform sampling, photos and probing (see docs/video.md)."""

from __future__ import annotations

import bisect
import logging
import math
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from hyp_face.cli import usable_cores
from hyp_face.video.orientation import (Orientation, apply_orientation, frame_orientation,
                                        orientation_from_exif)

log = logging.getLogger(__name__)

COMPUTE_THREADS = 4  # torch threads beside the decoder: extract.py's CPU_WORKERS detecting and as many embedding

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
FALLBACK_FPS = 25.0  # nominal rate when a stream declares none (only used for tolerances and seek margins)
MIN_SEEK_GAP = 2.0   # seconds; without a keyframe index, never seek over less than this
SEEK_TRIES = 4       # a seek landing after its target is retried further back; the last try starts at 0
THREAD_PICTURE_BUDGET = 512 * 2**20  # bytes of YUV pictures the decoder's frame threads may hold (about 2 each)


def media_offset(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Seconds from the start of the container (its earliest stream) to the first frame of ``stream``: frame times
    count from the video stream's start, and adding this puts them on the timeline a player shows (0 when a start
    time is unknown)."""
    if stream.start_time is None or stream.time_base is None or container.start_time is None:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base) - container.start_time / av.time_base)


def media_error_text(err: Exception) -> str:
    """What an FFmpeg or OS error says went wrong, without its error number and the file name (the caller names the
    file): ``[Errno 1094995529] Invalid data found when processing input: 'x.mp4'`` -> ``Invalid data found when
    processing input``."""
    return getattr(err, "strerror", None) or str(err)


class VideoError(RuntimeError):
    """A video or photo that cannot be read; ``path`` and ``reason`` are kept for the caller's log/status."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Frame:
    """One decoded frame in displayed orientation."""

    image: np.ndarray      # RGB uint8 HWC, rotation already applied (displayed orientation)
    index: int             # ordinal of the frame among those yielded for this video (0,1,2,...)
    time: float            # presentation time in seconds from the stream start
    window: int = -1       # annotation window index (input row of the instant), -1 outside window mode


@dataclass(frozen=True)
class VideoInfo:
    """Container/stream facts. ``width``/``height`` are the *stored* size; see ``display_size``."""

    duration: float
    width: int
    height: int
    rotation: int
    avg_fps: float
    n_frames_estimate: int
    hflip: bool = False
    is_photo: bool = False

    @property
    def orientation(self) -> Orientation:
        return Orientation(self.rotation, self.hflip)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the frames as yielded by the reader."""
        return self.orientation.display_size(self.width, self.height)


def is_photo(path: str | os.PathLike) -> bool:
    """True for still-image files, recognised by extension."""
    return Path(path).suffix.lower() in PHOTO_EXTENSIONS


def _check_file(path: str | os.PathLike) -> None:
    if not os.path.exists(path):
        raise VideoError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "zero-byte file")


def read_photo(path: str | os.PathLike) -> tuple[np.ndarray, Orientation]:
    """Decode a still image (PIL) -> (displayed RGB uint8 image, EXIF orientation that was applied)."""
    from PIL import Image, UnidentifiedImageError

    _check_file(path)
    try:
        with Image.open(path) as img:
            orient = orientation_from_exif(img.getexif().get(0x0112))
            stored = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise VideoError(path, f"undecodable image: {media_error_text(err)}") from err
    return apply_orientation(stored, orient), orient


def photo_frame(path: str | os.PathLike, window: int = -1) -> Frame:
    """A photo as the single frame of a one-frame video (index 0, time 0)."""
    image, _ = read_photo(path)
    return Frame(image, 0, 0.0, window)


class VideoDecoder:
    """Opened video stream yielding (time, av.VideoFrame) in presentation order, with optional forward seeks.

    Opening raises ``VideoError`` for missing, zero-byte, unopenable or video-less files. A decode error in the
    middle of the stream (truncated/corrupt file) ends the stream with a logged warning; ``check_decoded`` raises
    ``VideoError`` when not a single frame could be decoded.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = str(path)
        _check_file(path)
        try:
            self.container = av.open(self.path, metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError) as err:
            raise VideoError(path, f"cannot open as a media file: {media_error_text(err)}") from err
        if not self.container.streams.video:
            kinds = sorted({s.type for s in self.container.streams})
            self.container.close()
            raise VideoError(path, f"no video stream (streams: {', '.join(kinds) or 'none'})")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        threads = threads or decoder_threads(self.stream.codec_context.width, self.stream.codec_context.height)
        self.stream.codec_context.thread_count = int(threads)
        self.time_base = self.stream.time_base or Fraction(1, 90000)
        self.origin = self.stream.start_time or 0
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        self.nominal_fps = float(rate) if rate else FALLBACK_FPS
        self.orientation: Orientation | None = None
        self.n_decoded = 0  # frames the codec returned, including those re-decoded after a seek
        self.has_timestamps = True
        self.error: str | None = None
        self._last_time = -math.inf
        self._skip_until = -math.inf
        self._seek_target: float | None = None
        self._keyframes: list[float] | None = None
        self._seek_margin = 0.0  # how far before its target a seek must aim (learnt from seeks that landed late)
        self._last_seek_target = -math.inf
        self._last_key = math.nan
        self._first_key: float | None = None  # presentation time of the first keyframe decoded
        self._max_key_gap = 0.0
        self._want: float | None = None  # next time a frame is needed (skip_ahead_of); None: decode all
        self._skipping = False

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    @property
    def frame_duration(self) -> float:
        return 1.0 / self.nominal_fps

    def _frame_time(self, frame: av.VideoFrame) -> float:
        if frame.pts is None:  # no timestamps (raw elementary stream): extrapolate at the nominal rate
            self.has_timestamps = False
            return 0.0 if self._last_time == -math.inf else self._last_time + self.frame_duration
        return float((frame.pts - self.origin) * self.time_base)

    def _note_keyframe(self, t: float) -> None:
        if self._first_key is None:
            self._first_key = t
        if not math.isnan(self._last_key):
            self._max_key_gap = max(self._max_key_gap, t - self._last_key)
        self._last_key = t

    def skip_ahead_of(self, target: float | None) -> None:
        """Let the codec skip non-reference frames that come before ``target``, the next time a frame is needed.

        No frame refers to a non-reference frame, so skipping one changes no other frame. The decision is made
        per packet, from the packet's own presentation time, before the packet is sent to the decoder (frame
        threads take the setting with the packet), so a frame at or after ``target`` is always decoded. This
        halves decoding on streams with B-frames. ``None``: decode every frame (needed when frames are counted,
        as in frame-index windows).
        """
        self._want = target

    def _set_skipping(self, packet: av.Packet) -> None:
        skip = (self._want is not None and packet.pts is not None
                and float((packet.pts - self.origin) * self.time_base) < self._want - self.frame_duration)
        if skip != self._skipping:
            self.stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self._skipping = skip

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """Frames of the stream, packet by packet (so non-reference frames can be skipped per packet)."""
        for packet in self.container.demux(self.stream):
            self._set_skipping(packet)
            yield from packet.decode()

    def _decode_run(self) -> Iterator[tuple[float, av.VideoFrame]]:
        try:
            for frame in self._decoded():
                self.n_decoded += 1
                t = self._frame_time(frame)
                if t <= self._skip_until:  # already delivered before a seek that landed earlier
                    continue
                self._skip_until = -math.inf
                self._last_time = t
                if frame.key_frame:
                    self._note_keyframe(t)
                yield t, frame
        except av.FFmpegError as err:
            self.error = f"decoding stopped at {max(self._last_time, 0.0):.1f} s: {media_error_text(err)}"
            log.warning("%s: decoding stopped after %d frames (%.3f s): %s",
                        self.path, self.n_decoded, max(self._last_time, 0.0), media_error_text(err))

    def frames(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """(time, frame) in presentation order; a ``request_seek`` made between items is honoured."""
        run = self._decode_run()
        while True:
            self._seek_target = None
            for item in run:
                yield item
                if self._seek_target is not None:
                    break
            else:
                self._warn_if_cut_short()
                return
            run.close()
            run = self._seek_run(self._seek_target)

    @property
    def declared_duration(self) -> float | None:
        """The video stream's duration as the container declares it, in seconds (None: not declared)."""
        return float(self.stream.duration * self.time_base) if self.stream.duration else None

    def _warn_if_cut_short(self) -> None:
        """Log a truncated stream: decoding ended well before the duration the container declares."""
        declared = self.declared_duration
        if self.error is not None or declared is None or self.n_decoded == 0:
            return
        if declared - self._last_time > 3 * self.frame_duration + 0.1:
            self.error = f"stream ends at {self._last_time:.3f} s of a declared {declared:.3f} s"
            log.warning("%s: decoding stopped after %d frames: %s (truncated file?)",
                        self.path, self.n_decoded, self.error)

    def _seek_run(self, target: float) -> Iterator[tuple[float, av.VideoFrame]]:
        """Decode on from a keyframe before ``target``, never losing a frame at or after ``target``.

        Demuxers seek by decode timestamp, and open-GOP streams drop the leading B-frames of the keyframe they land
        on, so the first frame can come out after ``target``. Then the seek margin grows (from the keyframe index
        when there is one) and the seek is retried; the last try starts at 0. The margin is kept for later seeks.
        Frames already delivered before the seek are skipped.
        """
        resume = self._last_time
        self._last_seek_target = target
        for attempt in range(SEEK_TRIES):
            start = max(target - self._seek_margin, 0.0) if attempt < SEEK_TRIES - 1 else 0.0
            self._skip_until = self._last_time = resume
            self._last_key = math.nan
            try:
                self.container.seek(self.origin + int(math.floor(start / self.time_base)),
                                    backward=True, any_frame=False, stream=self.stream)
            except av.FFmpegError as err:
                log.warning("%s: seek to %.3f s failed (%s); decoding on", self.path, start, err)
                yield from self._decode_run()
                return
            run = self._decode_run()
            first = next(run, None)
            log.debug("%s: seek for %.3f s from %.3f s lands at %s s", self.path, target, start,
                      first and round(first[0], 3))
            if first is None:
                return
            if first[0] <= target + 1e-6 or start == 0.0:
                yield first
                yield from run
                return
            run.close()
            self._grow_seek_margin(start, first[0], target)

    def _grow_seek_margin(self, start: float, landed: float, target: float) -> None:
        """After a seek from ``start`` whose first frame came out at ``landed`` > ``target``."""
        keys = self._keyframe_times()
        pos = bisect.bisect_right(keys, start) - 1
        if pos >= 0:  # the keyframe we landed on decodes from keys[pos] but shows from ``landed``
            lead = landed - keys[pos]
            self._seek_margin = max(self._seek_margin + self.frame_duration, lead + self.frame_duration)
        else:
            self._seek_margin = 2 * self._seek_margin + (landed - target) + 2 * self.frame_duration

    def _keyframe_times(self) -> list[float]:
        """Presentation times of the keyframes in the demuxer's index (empty without one).

        The index holds decode times; with B-frames a keyframe is shown later by the stream's reorder delay, learnt
        from the first keyframe (its index time against its presentation time once decoded). MP4 seeks to the last
        keyframe *shown* at or before the target: deciding on decode times picked keyframes that the seek passed
        over, so each such seek decoded the whole group before it again (a 20 s clip with a keyframe every 2 s,
        sampled at 1 fps: 713 frames decoded instead of 482).
        """
        if self._keyframes is None:
            try:
                entries = self.stream.index_entries
                decode_times = sorted(float((e.timestamp - self.origin) * self.time_base)
                                      for e in entries if e.is_keyframe)
            except (AttributeError, av.FFmpegError):
                decode_times = []
            if not decode_times or self._first_key is None:
                return decode_times  # kept only once the delay is known, after the first keyframe is decoded
            pos = bisect.bisect_right(decode_times, self._first_key) - 1  # that keyframe's own entry
            delay = self._first_key - decode_times[pos] if pos >= 0 else 0.0
            self._keyframes = [t + delay for t in decode_times]
        return self._keyframes

    def worth_seeking(self, now: float, target: float) -> bool:
        """Whether seeking to ``target`` saves decoding compared with decoding on from ``now``.

        With a demuxer keyframe index: iff the last keyframe at or before the target (less the learnt seek margin)
        lies more than two frames ahead. Without one: iff the gap exceeds both ``MIN_SEEK_GAP`` and twice the
        largest keyframe spacing seen. Never twice for one target, and never for streams without timestamps
        (their times are counted, which a seek would break).
        """
        if not self.has_timestamps or target <= self._last_seek_target:
            return False
        keys = self._keyframe_times()
        if keys:
            pos = bisect.bisect_right(keys, target - self._seek_margin) - 1
            return pos >= 0 and keys[pos] > now + 2 * self.frame_duration
        since_key = 0.0 if math.isnan(self._last_key) else now - self._last_key
        return target - now > max(MIN_SEEK_GAP, 2 * max(self._max_key_gap, since_key))

    def request_seek(self, target: float) -> None:
        """Ask ``frames()`` to seek to the keyframe at or before ``target`` (seconds) before its next item."""
        self._seek_target = max(target, 0.0)

    def orientation_of(self, frame: av.VideoFrame) -> Orientation:
        """The stream's display orientation, read once from the first frame's ``DISPLAYMATRIX`` side data."""
        if self.orientation is None:
            self.orientation = frame_orientation(frame)
        return self.orientation

    def to_image(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB uint8 HWC image in displayed orientation."""
        return apply_orientation(frame.to_ndarray(format="rgb24"), self.orientation_of(frame))

    def check_decoded(self) -> None:
        """Raise ``VideoError`` when the stream ended without a single decodable frame."""
        if self.n_decoded == 0:
            raise VideoError(self.path, f"no decodable video frame ({self.error or 'empty stream'})")


def decoder_threads(width: int, height: int) -> int:
    """Frame threads of the decoder for a ``width x height`` stream: the cores the process's compute leaves free,
    at least 1, and no more than ``THREAD_PICTURE_BUDGET`` of pictures allows (8K: 5).

    Once torch is loaded, the compute is its intra-op threads ``COMPUTE_THREADS`` times over (the detection and the
    embedding workers of :mod:`hyp_face.extract`). Frame threads cost CPU: on the 2-core machine, decoding Biden ×5 (720p) took
    2.49 CPU-seconds with 2 frame threads and 1.99 with 1, for 1.87 against 1.97 s of wall time, and that CPU is what
    the detector and the embedder need; a GPU machine's spare cores still decode in parallel.
    """
    torch = sys.modules.get("torch")
    free = usable_cores() - (COMPUTE_THREADS * torch.get_num_threads() if torch is not None else 0)
    cap = THREAD_PICTURE_BUDGET // max(1, 2 * width * height * 3 // 2)
    return max(1, min(free, cap))


def sample_frames(path: str | os.PathLike, fps: float = 1.0, max_frames: int | None = None, *,
                  seek: bool = True, threads: int | None = None, skip_nonref: bool = True) -> SampledFrames:
    """Frames sampled at ``fps`` by presentation time (streaming iterator; see docs/video.md for the rule).

    For target instants t_k = k/fps (k = 0, 1, ...) the first frame with time >= t_k - h is kept, h being half
    the nominal frame duration; after keeping a frame at time t the next target is the first t_k > t + h, so
    no frame is yielded twice. Files that cannot be opened raise ``VideoError`` here (eagerly); a stream with
    no decodable frame raises it during iteration, and one that breaks off after some frames ends with its
    ``error`` set. ``skip_nonref``: between targets the codec skips non-reference frames
    (``VideoDecoder.skip_ahead_of``), which yields exactly the same frames, faster.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if is_photo(path):
        return SampledFrames(iter([photo_frame(path)]))
    decoder = VideoDecoder(path, threads)
    return SampledFrames(_sample(decoder, fps, max_frames, seek, skip_nonref), decoder)


class SampledFrames:
    """The frames of :func:`sample_frames`, and ``error``: why decoding stopped before the end of the stream (None
    when it did not), as a :class:`~hyp_face.recognize.live.LiveFrames` stream says why it stopped."""

    def __init__(self, frames: Iterator[Frame], decoder: VideoDecoder | None = None):
        self._frames, self._decoder = frames, decoder
        #: :func:`media_offset` of the video (0 for a photo), read while the file is open
        self.media_offset = media_offset(decoder.container, decoder.stream) if decoder is not None else 0.0
        #: the video stream's declared duration in seconds (None: a photo, or not declared)
        self.duration = decoder.declared_duration if decoder is not None else None

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def __next__(self) -> Frame:
        return next(self._frames)

    @property
    def error(self) -> str | None:
        return self._decoder.error if self._decoder is not None else None


def _sample(decoder: VideoDecoder, fps: float, max_frames: int | None, seek: bool,
            skip_nonref: bool = True) -> Iterator[Frame]:
    with decoder:
        half = 0.5 * decoder.frame_duration
        target, count = 0.0, 0
        for t, frame in decoder.frames():
            if t < target - half:
                if seek and decoder.worth_seeking(t, target - half):
                    decoder.request_seek(target - half)
                continue
            yield Frame(decoder.to_image(frame), count, t)
            count += 1
            if max_frames is not None and count >= max_frames:
                return
            target = (math.floor((t + half) * fps) + 1) / fps
            if skip_nonref:
                decoder.skip_ahead_of(target - half)
        decoder.check_decoded()


def probe(path: str | os.PathLike) -> VideoInfo:
    """Stream facts without decoding the whole file (decodes the first frame for the display matrix)."""
    if is_photo(path):
        image, orient = read_photo(path)
        stored_w, stored_h = orient.display_size(image.shape[1], image.shape[0])  # size is symmetric
        return VideoInfo(0.0, stored_w, stored_h, orient.rotation, 0.0, 1, orient.hflip, True)
    with VideoDecoder(path) as dec:
        stream = dec.stream
        for _, frame in dec.frames():
            orient = dec.orientation_of(frame)
            width, height = frame.width, frame.height
            break
        else:
            dec.check_decoded()
        if dec.declared_duration is not None:
            duration = dec.declared_duration
        elif dec.container.duration is not None:
            duration = dec.container.duration / av.time_base
        else:
            duration = 0.0
        n_frames = stream.frames or int(round(duration * dec.nominal_fps))
        return VideoInfo(duration, width, height, orient.rotation, dec.nominal_fps, n_frames, orient.hflip)

"""Frames of any source PyAV opens (an RTSP/HTTP URL, a v4l2 device with ``fmt="v4l2"``, a file), sampled at
``fps``, optionally at wall-clock pace (live mode).

A decoding thread reads the source and keeps the frames sampled at ``fps`` (by presentation time, as
:func:`hyp_face.video.sample_frames`). It hands them over through a one-frame slot. In live mode a file is played
at wall-clock pace (each frame waits until its time has come), and when the consumer (detection, embedding,
tracking) has not taken the previous frame yet, that frame is replaced by the newer one and counted in
:attr:`LiveFrames.dropped`: the consumer always gets the latest frame and memory stays bounded however far it
falls behind. Otherwise the decoder waits for the consumer and no frame is lost. :meth:`LiveFrames.stop` (e.g. on
Ctrl-C) ends the iteration cleanly after the frame in hand, as the end of the stream does; a stream that breaks
off mid-way ends it too, with the error logged and kept in :attr:`LiveFrames.error`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Iterator

import av

from ..video import Frame, VideoError
from ..video.orientation import Orientation, apply_orientation, frame_orientation
from ..video.reader import media_error_text, media_offset

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0  # network sources: give up opening (and reading) after this long without data


def open_source(source: str, fmt: str | None = None, timeout_s: float = OPEN_TIMEOUT_S) -> av.container.InputContainer:
    """Open anything PyAV opens (file, URL, device); a source that cannot be opened raises :class:`VideoError`."""
    options = {"rw_timeout": str(int(timeout_s * 1e6))} if "://" in source else {}
    try:
        container = av.open(source, format=fmt, options=options, timeout=timeout_s, metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoError(source, f"cannot open: {timeout_text(err, timeout_s)}") from err
    if not container.streams.video:
        container.close()
        raise VideoError(source, "no video stream")
    return container


def timeout_text(err: Exception, timeout_s: float) -> str:
    """What went wrong, as :func:`~hyp_face.video.reader.media_error_text` says it; FFmpeg's own words for the
    interrupt that ends a source silent for ``timeout_s`` ("Immediate exit requested") become plain ones."""
    return f"no data for {timeout_s:g} s" if isinstance(err, av.error.ExitError) else media_error_text(err)


class LiveFrames:
    """Iterate over the latest frames of ``source`` sampled at ``fps`` (see the module docstring)."""

    def __init__(self, source: str, fps: float, fmt: str | None = None, live: bool = True):
        self.source = source
        self.fps = fps
        self.container = open_source(source, fmt)
        self.media_offset = media_offset(self.container, self.container.streams.video[0])
        self.live = live
        self.pace = live and "://" not in source and fmt is None  # a file plays at wall-clock pace
        self.dropped = 0
        self.delivered = 0
        self.error: str | None = None
        self._slot: Frame | None = None
        self._done = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._produce, name="hyp_face-live", daemon=True)

    def stop(self) -> None:
        """End the iteration after the frame in hand (Ctrl-C)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def _offer(self, frame: Frame) -> None:
        with self._cond:
            while not self.live and self._slot is not None and not self._stop.is_set():
                self._cond.wait(0.5)
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._cond.notify_all()

    def _frames(self) -> Iterator[tuple[float, av.VideoFrame]]:
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        base, origin = stream.time_base, stream.start_time or 0
        last = -math.inf
        for frame in self.container.decode(stream):
            if frame.pts is None or base is None:
                t = 0.0 if last == -math.inf else last + 1.0 / (float(stream.average_rate or 25))
            else:
                t = float((frame.pts - origin) * base)
            last = t
            yield t, frame

    def _produce(self) -> None:
        orientation: Orientation | None = None
        target, index, start = 0.0, 0, time.monotonic()
        try:
            for t, frame in self._frames():
                if self._stop.is_set():
                    break
                if t < target:
                    continue
                if orientation is None:
                    orientation = frame_orientation(frame)
                if self.pace:
                    self._stop.wait(max(0.0, t - (time.monotonic() - start)))
                image = apply_orientation(frame.to_ndarray(format="rgb24"), orientation)
                self._offer(Frame(image, index, t))
                index += 1
                target = (math.floor(t * self.fps + 1e-6) + 1) / self.fps
        except (av.FFmpegError, OSError) as err:
            self.error = timeout_text(err, OPEN_TIMEOUT_S)
            log.warning("%s: stream stopped: %s", self.source, self.error)
        finally:
            self.container.close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        self._thread.start()
        try:
            while True:
                with self._cond:
                    while self._slot is None and not self._done and not self._stop.is_set():
                        self._cond.wait(0.5)
                    frame, self._slot = self._slot, None
                    self._cond.notify_all()
                    if frame is None:
                        return
                self.delivered += 1
                yield frame
                if self._stop.is_set():
                    return
        finally:
            self._stop.set()

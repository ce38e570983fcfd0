"""Detection windows around annotated instants (docs/original_recipe.md §5.2 det-window semantics), streamed (see docs/video.md)."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Iterator, Sequence

from hyp_face.video.reader import Frame, VideoDecoder, is_photo, photo_frame


@dataclass
class _Window:
    row: int          # index of the instant in the caller's input order (= Frame.window)
    instant: float    # seconds or frame position
    lo: int = 0       # first frame position (inclusive)
    hi: int = -1      # last frame position (inclusive); lo > hi means an empty window


class _WindowPlanner:
    """Assigns frame positions to windows: window i covers max(end_{i-1}, f_i - c) .. f_i + c (docs/original_recipe.md §5.2)."""

    def __init__(self, instants: Sequence[float], half_width: int):
        rows = sorted(range(len(instants)), key=lambda i: (float(instants[i]), i))
        self.pending = deque(_Window(i, float(instants[i])) for i in rows)
        self.active: deque[_Window] = deque()
        self.half_width = half_width
        self.end_prev = 0

    def place(self, center: int) -> None:
        """Give the next pending window its centre frame position f_i."""
        w = self.pending.popleft()
        w.lo, w.hi = max(self.end_prev, center - self.half_width), center + self.half_width
        self.end_prev = max(self.end_prev, w.hi + 1)
        self.active.append(w)

    def window_of(self, pos: int) -> int | None:
        """Row of the placed window containing ``pos`` (positions must be asked in increasing order)."""
        while self.active and self.active[0].hi < pos:
            self.active.popleft()
        if self.active and self.active[0].lo <= pos:
            return self.active[0].row
        return None

    def done(self, pos: int) -> bool:
        """True when no window can contain a position after ``pos``."""
        return not self.pending and all(w.hi <= pos for w in self.active)


def window_frames(path: str | os.PathLike, instants: Sequence[float], det_window: int, time_in_secs: bool, *,
                  seek: bool = True, threads: int | None = None) -> Iterator[Frame]:
    """Every decoded frame inside the detection windows around ``instants``, in presentation order.

    ``instants`` are seconds (``time_in_secs``) or frame positions (decoded frames counted from 0 in presentation
    order), in any order; ``Frame.window`` is the index of the instant in that input sequence. Windows are laid out
    in sorted instant order (ties keep input order) with half-width c = (det_window - 1) // 2, never overlap, and
    are clipped at frame 0; an instant in seconds is centred on the frame nearest to it by timestamp (ties to the
    earlier frame). Frames past the end of the video are missing. ``seek`` (seconds mode only) skips the gaps
    between windows when that saves decoding.
    """
    if det_window < 1:
        raise ValueError(f"det_window must be >= 1, got {det_window}")
    if len(instants) == 0:
        return iter(())
    planner = _WindowPlanner(instants, (det_window - 1) // 2)
    if is_photo(path):
        return iter([photo_frame(path, window=planner.pending[0].row)])
    decoder = VideoDecoder(path, threads)
    if time_in_secs:
        return _windows_by_time(decoder, planner, seek)
    return _windows_by_position(decoder, planner)


def _windows_by_position(decoder: VideoDecoder, planner: _WindowPlanner) -> Iterator[Frame]:
    with decoder:
        while planner.pending:
            planner.place(int(round(planner.pending[0].instant)))
        count = 0
        for pos, (t, frame) in enumerate(decoder.frames()):
            row = planner.window_of(pos)
            if row is not None:
                yield Frame(decoder.to_image(frame), count, t, row)
                count += 1
            if planner.done(pos):
                return
        decoder.check_decoded()


def _windows_by_time(decoder: VideoDecoder, planner: _WindowPlanner, seek: bool) -> Iterator[Frame]:
    """Centres are found while streaming, so the last c+2 frames are kept until their window is known."""
    c = planner.half_width
    recent: deque = deque(maxlen=c + 2)          # (pos, time, av frame) not yet yielded
    prev_time: float | None = None
    count, pos = 0, -1

    def flush() -> Iterator[Frame]:
        nonlocal count
        while recent and planner.active:
            q, tq, frame = recent[0]
            row = planner.window_of(q)
            if row is None and planner.active and planner.active[0].lo > q:
                recent.popleft()  # before the next placed window: no window can take it any more
                continue
            if row is None:
                break
            recent.popleft()
            yield Frame(decoder.to_image(frame), count, tq, row)
            count += 1

    with decoder:
        for t, frame in decoder.frames():
            pos += 1
            recent.append((pos, t, frame))
            while planner.pending and planner.pending[0].instant <= t:
                instant = planner.pending[0].instant
                closer_prev = prev_time is not None and instant - prev_time <= t - instant
                planner.place(pos - 1 if closer_prev else pos)
            prev_time = t
            yield from flush()
            if planner.done(pos):
                return
            if seek and planner.pending and not planner.active:
                start = planner.pending[0].instant - (2 * c + 4) * decoder.frame_duration
                if decoder.worth_seeking(t, start):
                    decoder.request_seek(start)
                    recent.clear()
                    prev_time = None
        decoder.check_decoded()
        while planner.pending:  # instants after the last frame: extrapolate their position at the nominal rate
            past = planner.pending[0].instant - (prev_time or 0.0)
            planner.place(pos + max(0, round(past * decoder.nominal_fps)))
        yield from flush()

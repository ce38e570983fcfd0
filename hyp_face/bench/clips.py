"""Benchmark inputs made from the shared clips with PyAV (no ffmpeg binary): looped copies and resized copies.

``loop_video`` repeats a clip by copying its packets with shifted timestamps (no re-encoding, so every loop decodes
to the same pixels); ``resized_video`` re-encodes a clip at another size (H.264). Both write atomically and skip
an output that already exists, so reruns reuse them.
"""

from __future__ import annotations

import os
from itertools import cycle, islice
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from hyp_face.video.synth import write_video


def _atomic(out: Path, write) -> Path:
    """Run ``write(tmp)`` and move the result to ``out`` (unless ``out`` exists already)."""
    out = Path(out)
    if not out.exists():
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
        try:
            write(tmp)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    return out


def _packets(src: str, shift: int) -> Iterator[av.Packet]:
    """The video packets of ``src`` (empty flush packets left out), timestamps moved by ``shift`` ticks."""
    with av.open(src) as inp:
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.pts = None if packet.pts is None else packet.pts + shift
                packet.dts = None if packet.dts is None else packet.dts + shift
                yield packet


def loop_video(src: str | os.PathLike, out: str | os.PathLike, loops: int) -> Path:
    """``src``'s video stream ``loops`` times in a row, packets copied with shifted timestamps."""
    def write(tmp: Path) -> None:
        ends = [(p.pts, p.pts + (p.duration or 0)) for p in _packets(str(src), 0)]
        span = max(e for _, e in ends) - min(s for s, _ in ends)
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as dst:
            ostream = dst.add_stream_from_template(inp.streams.video[0])
            for k in range(loops):
                for packet in _packets(str(src), k * span):
                    packet.stream = ostream
                    dst.mux(packet)

    return _atomic(Path(out), write)


def sampled_count(path: str | os.PathLike, fps: float) -> int:
    """About how many frames sampling at ``fps`` gives (duration x fps, at least 1)."""
    from hyp_face.video import probe

    return max(1, int(probe(path).duration * fps))


def looped_to(path: str | os.PathLike, work_dir: str | os.PathLike, fps: float, min_frames: int) -> Path:
    """``path`` itself if sampling it at ``fps`` gives ``min_frames`` frames, else a looped copy in ``work_dir``."""
    loops = -(-min_frames // sampled_count(path, fps))
    if loops <= 1:
        return Path(path)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    return loop_video(path, Path(work_dir) / f"{Path(path).stem}_x{loops}.mp4", loops)


def _resized_frames(clip: str, size: tuple[int, int], every: int, count: int) -> Iterator[np.ndarray]:
    """``count`` RGB frames of ``clip`` (every ``every``-th frame, the clip looped) resized to ``size`` (w, h)."""
    with av.open(clip) as container:
        frames = [f for i, f in enumerate(container.decode(video=0)) if i % every == 0]
    for frame in islice(cycle(frames), count):
        yield frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()


def resized_video(clip: str | os.PathLike, out: str | os.PathLike, size: tuple[int, int], seconds: float,
                  fps: float) -> Path:
    """``clip`` resized to ``size`` (w, h), ``seconds`` long (looped if shorter) at about ``fps`` (H.264)."""
    def write(tmp: Path) -> None:
        with av.open(str(clip)) as container:
            clip_fps = float(container.streams.video[0].average_rate or 25)
        every = max(1, round(clip_fps / fps))
        frames = _resized_frames(str(clip), size, every, max(1, round(seconds * clip_fps / every)))
        write_video(tmp, frames, fps=clip_fps / every, lossless=False)

    return _atomic(Path(out), write)

"""Synthetic media for tests and the demo corpus: PyAV encoders (timestamps, VFR, rotation), broken files.

Also a robust visual code (a grid of black/white blocks) that writes an integer into a frame and reads it back
after lossy compression, so tests can tell exactly which source frame a decoder returned.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Iterable, Sequence

import av
import numpy as np

CODE_GRID = 4  # 4x4 blocks = 16 bits


def code_frame(number: int, width: int = 64, height: int = 64) -> np.ndarray:
    """RGB frame whose CODE_GRID x CODE_GRID blocks spell ``number`` in binary (row-major, MSB first)."""
    bits = CODE_GRID * CODE_GRID
    if not 0 <= number < 2 ** bits:
        raise ValueError(f"number {number} does not fit in {bits} bits")
    levels = np.array([(number >> (bits - 1 - i)) & 1 for i in range(bits)], dtype=np.uint8) * 255
    grid = levels.reshape(CODE_GRID, CODE_GRID)
    rows = np.minimum(np.arange(height) * CODE_GRID // height, CODE_GRID - 1)
    cols = np.minimum(np.arange(width) * CODE_GRID // width, CODE_GRID - 1)
    return np.repeat(grid[rows][:, cols][:, :, None], 3, axis=2)


def read_code(image: np.ndarray) -> int:
    """Inverse of ``code_frame``: the number whose blocks best match ``image`` (block-centre means)."""
    height, width = image.shape[:2]
    gray = image.astype(np.float32).mean(axis=2)
    number = 0
    for r in range(CODE_GRID):
        for c in range(CODE_GRID):
            y0, y1 = (4 * r + 1) * height // (4 * CODE_GRID), (4 * r + 3) * height // (4 * CODE_GRID)
            x0, x1 = (4 * c + 1) * width // (4 * CODE_GRID), (4 * c + 3) * width // (4 * CODE_GRID)
            number = (number << 1) | int(gray[y0:y1, x0:x1].mean() > 127.5)
    return number


def _encoder_options(codec: str, lossless: bool, gop: int | None) -> dict[str, str]:
    options = {"g": str(gop)} if gop else {}
    if codec == "libx264":
        options.update({"preset": "ultrafast", "qp": "0"} if lossless else {"preset": "ultrafast", "crf": "23"})
    elif codec == "mpeg4" and lossless:
        options["qscale"] = "1"
    return options


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], *, fps: float = 10.0,
                times: Sequence[float] | None = None, rotation: int = 0, hflip: bool = False,
                codec: str = "libx264", lossless: bool = True, gop: int | None = None,
                faststart: bool = False, options: dict[str, str] | None = None) -> int:
    """Encode RGB uint8 HWC frames (even width/height) into ``path``; returns the number of frames written.

    ``times`` gives each frame's presentation time in seconds (strictly increasing; variable frame rate,
    millisecond resolution); otherwise frame i is at i/fps. ``rotation``/``hflip`` are written as the stream's
    display matrix (counter-clockwise degrees, as PyAV's ``set_display_rotation``). ``faststart`` puts the mp4
    index first, so a truncated copy still decodes up to the cut. ``options`` are extra encoder options
    (e.g. ``{"bf": "3"}`` for B-frames), applied over the defaults.
    """
    rate = Fraction(fps).limit_denominator(1001000)
    time_base = Fraction(1, 1000) if times is not None else 1 / rate
    mux_options = {"movflags": "+faststart"} if faststart else {}
    codec_options = {**_encoder_options(codec, lossless, gop), **(options or {})}
    count = 0
    with av.open(str(path), "w", options=mux_options) as out:
        stream = None
        for count, image in enumerate(frames, start=1):
            if stream is None:
                stream = out.add_stream(codec, rate=rate, options=codec_options)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = time_base
                stream.time_base = time_base
                if rotation or hflip:
                    stream.set_display_rotation(rotation, hflip=hflip)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
            i = count - 1
            frame.pts = round(times[i] * 1000) if times is not None else i
            frame.time_base = time_base
            out.mux(stream.encode(frame))
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        out.mux(stream.encode(None))
    return count


def write_audio_only(path: str | os.PathLike, seconds: float = 1.0, sample_rate: int = 16000) -> None:
    """A file with a single AAC audio stream (a quiet 440 Hz tone) and no video."""
    n = int(seconds * sample_rate)
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / sample_rate)).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=sample_rate, layout="mono")
        chunk = stream.codec_context.frame_size or 1024
        for start in range(0, n, chunk):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + chunk], format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def truncate_copy(src: str | os.PathLike, dst: str | os.PathLike, keep: float) -> int:
    """Copy the first ``keep`` fraction (0..1) of ``src``'s bytes to ``dst``; returns the bytes written."""
    with open(src, "rb") as f:
        data = f.read()
    n = int(len(data) * keep)
    with open(dst, "wb") as f:
        f.write(data[:n])
    return n

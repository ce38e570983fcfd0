"""Test media: frames that carry their number through lossy coding, audio-only files and truncated copies.

The coded frame is a grid of black/white blocks that writes an integer into a frame and reads it back after lossy
compression, so tests can tell exactly which source frame a decoder returned. Videos are encoded with
``hyp_face.video.synth.write_video``.
"""

from __future__ import annotations

import os

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

"""Audio of any input PyAV opens, decoded and resampled to 16 kHz mono float32, streamed in bounded blocks.

A file without an audio stream raises ``NoAudioStream`` (a normal outcome, logged as a status, like a video without
faces); a file that cannot be opened or decoded raises ``AudioError``. Memory is bounded by the block size: the
decoder never holds more than one block plus one decoded frame.
"""

from __future__ import annotations

import os
from typing import Iterator

import av
import numpy as np

SAMPLE_RATE = 16000
DEFAULT_BLOCK_S = 60.0  # seconds of audio per block (bounded memory: 3.8 MB of float32 at 16 kHz)


class AudioError(RuntimeError):
    """A file whose audio cannot be read; ``reason`` is the status the store records."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoAudioStream(AudioError):
    """A readable file without an audio stream."""


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    if not os.path.exists(path):
        raise AudioError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise AudioError(path, "zero-byte file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise AudioError(path, f"cannot open as a media file: {err}") from err
    if not container.streams.audio:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        raise NoAudioStream(path, f"no audio stream (streams: {', '.join(kinds) or 'none'})")
    return container


def _resampled(container: av.container.InputContainer, path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Mono float32 16 kHz pieces of the first audio stream, in order, the resampler flushed at the end."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    try:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1)
    except (av.FFmpegError, ValueError) as err:
        raise AudioError(path, f"audio decode error: {err}") from err
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1)


def audio_blocks(path: str | os.PathLike, block_s: float = DEFAULT_BLOCK_S) -> Iterator[np.ndarray]:
    """Consecutive float32 blocks of ``block_s`` seconds (the last one shorter) of the file's first audio stream,
    at 16 kHz mono, whatever its sample rate, layout and codec."""
    block = max(1, int(round(block_s * SAMPLE_RATE)))
    container = _open(path)
    pending: list[np.ndarray] = []
    n_pending = 0
    try:
        for piece in _resampled(container, path):
            pending.append(piece)
            n_pending += len(piece)
            while n_pending >= block:
                joined = np.concatenate(pending)
                yield joined[:block]
                pending, n_pending = [joined[block:]], n_pending - block
    finally:
        container.close()
    if n_pending:
        yield np.concatenate(pending)


def read_audio(path: str | os.PathLike) -> np.ndarray:
    """The whole audio of a file as one float32 16 kHz mono array (for short files and tests)."""
    blocks = list(audio_blocks(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)

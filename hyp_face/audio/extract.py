"""One speaker embedding per file: decode (16 kHz mono, in blocks), keep the speech (VAD, and the annotated spans
where the data dir has ``speech_spans``), embed it.

A file yields an empty (0, D) embedding set and a status, never a silent wrong vector, when it has no audio stream
(``no audio stream …``), cannot be decoded (``audio error: …``) or has no speech (``no speech found``). Windows of
several files run through the network together (``PartialPool``), so memory stays bounded by one block of audio
per file plus one batch of windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..io.table import TableError, read_rows
from .decode import DEFAULT_BLOCK_S, SAMPLE_RATE, AudioError, NoAudioStream, audio_blocks

STATUS_OK = "ok"
STATUS_NO_SPEECH = "no speech found"
STATUS_NO_AUDIO = "no audio stream"  # prefix; the rest lists the streams found
STATUS_AUDIO_ERROR = "audio error: "  # prefix of a file that cannot be read
MIN_RMS = 1e-5  # -100 dBFS: quieter "speech" (digital silence, e.g. with --vad none) is never embedded
Span = tuple[float, float]


@dataclass
class SpeakerResult:
    """Embeddings (1, D) or (0, D), seconds of speech embedded, and the status."""

    embeds: np.ndarray
    speech_s: float
    status: str = STATUS_OK


def read_speech_spans(path: str | os.PathLike) -> dict[str, list[Span]]:
    """``speech_spans`` of a data dir: ``<utt> <start-seconds> <end-seconds>`` lines, several per utterance."""
    spans: dict[str, list[Span]] = {}
    for lineno, (utt, start, end) in read_rows(path, 3, 3):
        try:
            span = (float(start), float(end))
        except ValueError:
            raise TableError(path, lineno, f"bad span {start!r} {end!r}: expected seconds") from None
        if not 0 <= span[0] < span[1]:
            raise TableError(path, lineno, f"bad span {start} {end}: expected 0 <= start < end")
        spans.setdefault(utt, []).append(span)
    return spans


def span_mask(n: int, offset: int, spans: Sequence[Span]) -> np.ndarray:
    """Mask of the samples ``offset .. offset + n`` inside any of ``spans`` (seconds)."""
    mask = np.zeros(n, bool)
    for start, end in spans:
        a, b = int(round(start * SAMPLE_RATE)) - offset, int(round(end * SAMPLE_RATE)) - offset
        mask[max(a, 0):max(min(b, n), 0)] = True
    return mask


class SpeakerExtractor:
    """Files to speaker embeddings with an embedder (``hyp_face.audio.registry``) and a VAD (``vad.build_vad``)."""

    def __init__(self, embedder, vad, block_s: float = DEFAULT_BLOCK_S, min_speech_s: float = 0.0):
        self.embedder = embedder
        self.vad = vad
        self.block_s = block_s
        self.min_speech_s = min_speech_s

    def _queue(self, key: str, path: str, spans: Sequence[Span] | None) -> tuple[float, str]:
        """Queue the speech windows of one file; seconds of speech and the status."""
        speech = offset = 0
        try:
            for block in audio_blocks(path, self.block_s):
                mask = self.vad.speech_mask(block)
                if spans is not None:
                    mask &= span_mask(len(block), offset, spans)
                offset += len(block)
                kept = block[mask]
                if len(kept) and np.sqrt(np.mean(np.square(kept, dtype=np.float64))) >= MIN_RMS:
                    self.embedder.pool.add(key, self.embedder.windows(kept))
                    speech += len(kept)
        except NoAudioStream as err:
            return 0.0, STATUS_NO_AUDIO + err.reason[len("no audio stream"):]
        except AudioError as err:
            return 0.0, STATUS_AUDIO_ERROR + err.reason
        return speech / SAMPLE_RATE, STATUS_OK

    def process_many(self, items: Iterable[tuple[str, str, Sequence[Span] | None]],
                     group: int = 16) -> Iterator[tuple[str, SpeakerResult]]:
        """``(key, path, spans or None)`` in, ``(key, result)`` out in the same order; ``group`` files share
        network batches."""
        items = list(items)
        for start in range(0, len(items), group):
            queued = [(key, *self._queue(key, path, spans)) for key, path, spans in items[start:start + group]]
            self.embedder.pool.flush()
            for key, speech_s, status in queued:
                yield key, self._result(key, speech_s, status)

    def _result(self, key: str, speech_s: float, status: str) -> SpeakerResult:
        pool = self.embedder.pool
        has_windows = pool.counts.get(key, 0) > 0
        embed = pool.pop(key) if has_windows else None
        pool.sums.pop(key, None), pool.counts.pop(key, None)
        if status == STATUS_OK and (embed is None or speech_s <= self.min_speech_s):
            status = STATUS_NO_SPEECH
        if status != STATUS_OK:
            return SpeakerResult(np.zeros((0, self.embedder.dim), np.float32), speech_s, status)
        return SpeakerResult(embed[None], speech_s, status)

    def process(self, path: str, spans: Sequence[Span] | None = None) -> SpeakerResult:
        """One file."""
        return next(self.process_many([("", path, spans)]))[1]

"""One speaker embedding per file: decode (16 kHz mono, in blocks), keep the speech (VAD, and the annotated spans
where the data dir has ``speech_spans``), embed it.

A file yields an empty (0, D) embedding set and a status, never a silent wrong vector, when it has no audio stream
(``no audio stream …``), cannot be decoded (``audio error: …``) or has no speech (``no speech found``). Windows of
several files run through the VAD and the network together (``process_many``), so memory stays bounded by about
``batch_s`` seconds of audio plus one batch of windows.
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

    def _embed_blocks(self, blocks: list[tuple[str, Sequence[Span] | None, int, np.ndarray]],
                      speech: dict[str, int]) -> None:
        """VAD of ``(key, spans, offset, block)`` blocks together, then their speech windows queued per key."""
        masks = self.vad.speech_masks([block for *_, block in blocks])
        for (key, spans, offset, block), mask in zip(blocks, masks):
            if spans is not None:
                mask &= span_mask(len(block), offset, spans)
            kept = block[mask]
            if len(kept) and np.sqrt(np.mean(np.square(kept, dtype=np.float64))) >= MIN_RMS:
                self.embedder.pool.add(key, self.embedder.windows(kept))
                speech[key] += len(kept)

    def process_many(self, items: Iterable[tuple[str, str, Sequence[Span] | None]],
                     batch_s: float = 120.0) -> Iterator[tuple[str, SpeakerResult]]:
        """``(key, path, spans or None)`` in, ``(key, result)`` out in the same order. Blocks of consecutive files
        go through the VAD and the network together, about ``batch_s`` seconds of audio at a time."""
        items = list(items)
        status: dict[str, str] = {}
        speech: dict[str, int] = {}
        pending: list[tuple[str, Sequence[Span] | None, int, np.ndarray]] = []
        n_pending = done = 0
        for i, (key, path, spans) in enumerate(items):
            status[key], speech[key], offset = STATUS_OK, 0, 0
            try:
                for block in audio_blocks(path, self.block_s):
                    pending.append((key, spans, offset, block))
                    offset, n_pending = offset + len(block), n_pending + len(block)
                    if n_pending >= batch_s * SAMPLE_RATE:
                        self._embed_blocks(pending, speech)
                        pending, n_pending = [], 0
                        yield from self._results(items[done:i], status, speech)
                        done = i
            except NoAudioStream as err:
                status[key] = STATUS_NO_AUDIO + err.reason[len("no audio stream"):]
            except AudioError as err:  # "audio error: <path>: <reason>", as a video's status names its file
                status[key] = STATUS_AUDIO_ERROR + str(err)
        self._embed_blocks(pending, speech)
        yield from self._results(items[done:], status, speech)

    def _results(self, items: list, status: dict[str, str], speech: dict[str, int]) -> Iterator:
        """The results of files whose every block has been queued."""
        self.embedder.pool.flush()
        for key, *_ in items:
            yield key, self._result(key, speech.pop(key) / SAMPLE_RATE, status.pop(key))

    def _result(self, key: str, speech_s: float, status: str) -> SpeakerResult:
        embed = self.embedder.pool.pop(key)
        if status == STATUS_OK and (embed is None or speech_s <= self.min_speech_s):
            status = STATUS_NO_SPEECH
        if status != STATUS_OK:
            return SpeakerResult(np.zeros((0, self.embedder.dim), np.float32), speech_s, status)
        return SpeakerResult(embed[None], speech_s, status)

    def process(self, path: str, spans: Sequence[Span] | None = None) -> SpeakerResult:
        """One file."""
        return next(self.process_many([("", path, spans)]))[1]

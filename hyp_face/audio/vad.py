"""Voice activity detection with Silero VAD (``silero-vad`` 6.2.3, MIT; its TorchScript model ships in the wheel).

Why Silero rather than WebRTC's VAD: on Silero's published multi-domain benchmarks it detects speech far more
accurately than the GMM of ``webrtcvad`` (not re-measured here), it is MIT-licensed, it is maintained (6.x), and it
runs on torch, which the project already needs: the model file comes out of the installed wheel, with no torch.hub and no
network (``load_silero_vad(onnx=False)``), so onnxruntime is not needed either. On the shared clips it finds no
speech in the crowd clip and keeps the speech of the others.

Speed: ``silero_vad.get_speech_timestamps`` calls the model once per 32 ms chunk, and those calls cost more than the
speaker embedding. Here the audio is cut into lanes of ``LANE_S`` seconds that run side by side, one batched call
per chunk position; each lane first runs over the ``WARMUP_S`` seconds before it (their probabilities are
discarded), so its state is that of a continuous pass. The per-chunk probabilities then go through silero's own
``get_speech_timestamps_from_probs``.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

SAMPLE_RATE = 16000
CHUNK = 512      # samples per VAD chunk at 16 kHz (32 ms)
LANE_S = 4.0     # seconds of audio per lane
WARMUP_S = 1.0   # seconds each lane runs over before its own audio


class SileroVAD:
    """Speech spans of 16 kHz mono audio; options as ``silero_vad.get_speech_timestamps``."""

    def __init__(self, threshold: float = 0.5, min_speech_ms: int = 250, min_silence_ms: int = 100,
                 speech_pad_ms: int = 30):
        import torch

        threads = torch.get_num_threads()
        try:
            from silero_vad import get_speech_timestamps_from_probs, load_silero_vad
        except ImportError as err:
            raise ImportError("the VAD needs silero-vad: pip install 'hyp_face[audio]' (or --vad none)") from err
        torch.set_num_threads(threads)  # importing silero_vad sets 1 thread for the whole process
        self._timestamps = get_speech_timestamps_from_probs
        with warnings.catch_warnings():  # torch >= 2.10 deprecates torch.jit.load, which silero-vad uses
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = load_silero_vad(onnx=False)
        self.opts = dict(threshold=threshold, min_speech_duration_ms=min_speech_ms,
                         min_silence_duration_ms=min_silence_ms, speech_pad_ms=speech_pad_ms)

    def speech_probs(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Speech probability of every 512-sample chunk of each (non-empty) signal, the last chunk zero-padded; the
        lanes of all the signals run side by side."""
        import torch

        lane, warmup = int(LANE_S * SAMPLE_RATE) // CHUNK, int(WARMUP_S * SAMPLE_RATE) // CHUNK
        steps = lane + warmup
        n_chunks = [-(-len(w) // CHUNK) for w in wavs]
        parts, starts, base = [], [], 0
        for wav, n in zip(wavs, n_chunks):
            lane_starts = np.maximum(np.arange(-(-n // lane)) * lane - warmup, 0)
            padded = np.zeros((int(lane_starts[-1]) + steps) * CHUNK, np.float32)
            padded[:len(wav)] = wav
            parts.append(padded.reshape(-1, CHUNK))
            starts.append(base + lane_starts)
            base += len(parts[-1])
        chunks, lanes = np.concatenate(parts), np.concatenate(starts)
        probs = np.zeros((len(lanes), steps), np.float32)
        self.model.reset_states()  # the state takes the batch size of the first call
        with torch.inference_mode():
            for t in range(steps):
                probs[:, t] = self.model(torch.from_numpy(chunks[lanes + t]), SAMPLE_RATE).numpy().reshape(-1)
        out, row = [], 0
        for n, first in zip(n_chunks, starts):
            own = np.arange(len(first)) * lane - (first - first[0])  # each lane's own first chunk in its row
            out.append(np.concatenate([probs[row + i, o:o + lane] for i, o in enumerate(own)])[:n])
            row += len(first)
        return out

    def speech_masks(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Boolean mask of the samples inside speech, for each signal."""
        masks = [np.zeros(len(w), bool) for w in wavs]
        usable = [i for i, w in enumerate(wavs) if len(w) >= CHUNK]  # shorter than one VAD chunk: no speech
        probs = self.speech_probs([np.ascontiguousarray(wavs[i], np.float32) for i in usable]) if usable else []
        for i, p in zip(usable, probs):
            for span in self._timestamps(p.tolist(), sampling_rate=SAMPLE_RATE, audio_length_samples=len(wavs[i]),
                                         **self.opts):
                masks[i][span["start"]:span["end"]] = True
        return masks

    def speech_mask(self, wav: np.ndarray) -> np.ndarray:
        """Boolean mask of the samples inside speech."""
        return self.speech_masks([wav])[0]


class NoVAD:
    """Every sample is speech (``--vad none``: annotated spans or pre-segmented speech)."""

    def speech_masks(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.ones(len(w), bool) for w in wavs]

    def speech_mask(self, wav: np.ndarray) -> np.ndarray:
        return np.ones(len(wav), bool)


def build_vad(name: str) -> SileroVAD | NoVAD:
    """``silero`` or ``none``."""
    if name == "silero":
        return SileroVAD()
    if name == "none":
        return NoVAD()
    raise ValueError(f"unknown VAD {name!r}; expected silero or none")

"""The GE2E speaker encoder of the ``resemblyzer`` wheel (Apache-2.0) as our own torch module.

Network (``resemblyzer/voice_encoder.py``): a 3-layer LSTM over 40 mel power bands (25 ms windows every 10 ms at
16 kHz, ``hyp_face.audio.mel``), a linear layer 256 -> 256 on the last layer's final hidden state, ReLU, then L2
normalisation. An utterance is cut into partial windows of 160 frames (1.6 s), 1.3 windows per second, the last one
zero-padded when it covers at least 75% of a window; its embedding is the L2-normalised mean of the windows'
embeddings. The volume of the speech is raised (never lowered) to -30 dBFS first, as ``preprocess_wav`` does.

Windows of many utterances (or of the blocks of one long file) run through the network together
(``PartialPool``), in batches of ``batch_size``: the same numbers as one utterance at a time, at a fraction of the
cost. ``precision`` (``PRECISIONS``) picks the network's arithmetic: the default ``"fp32"`` keeps the parity with
the package (1e-4); ``"bf16"`` runs the network under CPU autocast to bfloat16 (oneDNN's bf16 LSTM), about twice the
speed on CPUs with native bf16 (AVX512-BF16, AMX); ``"int8"`` runs the upper two LSTM layers in int8 on onnxruntime
(``hyp_face.audio.ge2e_int8``). Both keep cosine >= 0.998 to the float32 embeddings of the shared clips.

Weights load with ``torch.load(weights_only=True)`` from ``pretrained.pt`` (``conf/model_zoo.tsv``:
``ge2e_resemblyzer``).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
import torch
from torch import nn

from .ge2e_int8 import Int8GE2E
from .mel import mel_spectrogram

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HOP = 160                 # samples per mel frame (10 ms)
N_MELS = 40
PARTIAL_FRAMES = 160      # frames per partial window (1.6 s)
HIDDEN = 256
EMBED_DIM = 256
NUM_LAYERS = 3
TARGET_DBFS = -30.0
INT16_MAX = 2 ** 15 - 1
PRECISIONS = {  # speaker_precision -> what runs the network (README "Audio-visual", speed)
    "fp32": "float32 throughout (the default; the parity with the package)",
    "bf16": "the LSTM under CPU autocast to bfloat16",
    "int8": "LSTM layers 2 and 3 in int8 on onnxruntime, layer 1 in bfloat16 (hyp_face.audio.ge2e_int8)",
}
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16}  # the precisions that torch runs -> autocast dtype (None: off)


class GE2ENet(nn.Module):
    """LSTM(40 -> 256, 3 layers) + Linear(256 -> 256) + ReLU + L2 norm, named as resemblyzer's state dict."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, NUM_LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBED_DIM)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, frames, 40) mel power -> (B, 256) unit-norm embeddings."""
        _, (hidden, _) = self.lstm(mels)
        return self.embed_hidden(hidden[-1])

    def embed_hidden(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, 256) final hidden states of the last LSTM layer -> (B, 256) unit-norm embeddings."""
        raw = torch.relu(self.linear(hidden))
        return raw / torch.norm(raw, dim=1, keepdim=True)


def load_ge2e(weights: str | os.PathLike, device: str = "cpu") -> GE2ENet:
    """The network with the weights of ``pretrained.pt`` (its ``model_state``; the training-only similarity
    parameters and optimiser state are ignored)."""
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{weights}: not a GE2E checkpoint (no model_state)")
    net = GE2ENet()
    wanted = net.state_dict().keys()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ValueError(f"{weights}: GE2E checkpoint lacks {', '.join(missing)}")
    net.load_state_dict({k: state[k] for k in wanted})
    return net.to(device).eval()


def check_precision(precision: str) -> str:
    """``precision`` when it is a key of ``PRECISIONS``; a ValueError naming the choices otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"speaker precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return precision


def network_runner(net: GE2ENet, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function from a batch of (B, 160, 40) windows to their (B, 256) embeddings at ``precision``."""
    if check_precision(precision) == "int8":
        if next(net.parameters()).device.type != "cpu":
            raise ValueError("speaker_precision=int8 runs on the CPU only (onnxruntime); use fp32 or bf16 on a GPU")
        return Int8GE2E(net)
    return partial(run_autocast, net, AUTOCAST[precision])


def run_autocast(net: GE2ENet, dtype: torch.dtype | None, windows: np.ndarray) -> np.ndarray:
    """Embeddings of one batch of windows, under autocast to ``dtype`` unless None (autocast is per thread, so it
    is entered here)."""
    device = next(net.parameters()).device
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        return net(torch.from_numpy(windows).to(device)).float().cpu().numpy()


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """``resemblyzer.audio.normalize_volume(increase_only=True)``: raise the RMS level to ``target_dbfs``."""
    rms = np.sqrt(np.mean((wav * INT16_MAX) ** 2))
    change = target_dbfs - 20 * np.log10(rms / INT16_MAX)
    return wav if change < 0 else wav * (10 ** (change / 20))


def partial_starts(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
    """First mel frame of each partial window (``VoiceEncoder.compute_partial_slices``)."""
    if not 0 < min_coverage <= 1:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / rate) / HOP))
    if not 0 < step <= PARTIAL_FRAMES:
        raise ValueError(f"rate {rate} gives a window step of {step} frames; it must be in 1..{PARTIAL_FRAMES}")
    starts = np.arange(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    last = starts[-1] * HOP
    coverage = (n_samples - last) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    return starts


def utterance_windows(wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
    """(P, 160, 40) float32 mel windows of a 16 kHz utterance, as ``VoiceEncoder.embed_utterance`` cuts them."""
    starts = partial_starts(len(wav), rate, min_coverage)
    end = (starts[-1] + PARTIAL_FRAMES) * HOP
    if end >= len(wav):
        wav = np.pad(wav, (0, end - len(wav)))
    mel = mel_spectrogram(wav, SAMPLE_RATE, 25.0, 10.0, N_MELS)
    return np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])


@dataclass
class PartialPool:
    """Sums of the window embeddings of each key; windows run through the network in batches of ``batch_size``,
    whichever keys they come from."""

    net: GE2ENet
    batch_size: int = 64
    workers: int = 1  # batches run at once, in threads (torch and onnxruntime release the GIL; 1 thread each)
    precision: str = "fp32"  # a key of PRECISIONS
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _pending: list[tuple[str, np.ndarray]] = field(default_factory=list)
    _n_pending: int = 0

    def __post_init__(self) -> None:
        self._run = network_runner(self.net, self.precision)

    def add(self, key: str, windows: np.ndarray) -> None:
        """Queue the (P, 160, 40) windows of ``key``; runs the queue once it fills a batch for every worker."""
        self.sums.setdefault(key, np.zeros(EMBED_DIM, np.float64))
        self.counts.setdefault(key, 0)
        self._pending.append((key, windows))
        self._n_pending += len(windows)
        if self._n_pending >= self.batch_size * self.workers:
            self.flush()

    def flush(self) -> None:
        """Run every queued window (in batches of ``batch_size``) and add it to its key's sum."""
        if not self._pending:
            return
        keys = np.concatenate([[i] * len(w) for i, (_, w) in enumerate(self._pending)]).astype(int)
        windows = np.concatenate([w for _, w in self._pending])
        batches = [windows[start:start + self.batch_size] for start in range(0, len(windows), self.batch_size)]
        if self.workers > 1 and len(batches) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                embeds = np.concatenate(list(pool.map(self._run, batches)))
        else:
            embeds = np.concatenate([self._run(b) for b in batches])
        for i, (key, _) in enumerate(self._pending):
            rows = embeds[keys == i]
            self.sums[key] += rows.astype(np.float64).sum(axis=0)
            self.counts[key] += len(rows)
        self._pending, self._n_pending = [], 0

    def pop(self, key: str) -> np.ndarray | None:
        """The L2-normalised mean window embedding of ``key`` (float32, 256-D), None when it has no window;
        forgets the key."""
        self.flush()
        total, count = self.sums.pop(key, None), self.counts.pop(key, 0)
        if not count:
            return None
        mean = total / count
        return (mean / np.linalg.norm(mean)).astype(np.float32)


class GE2EEmbedder:
    """Speaker embedder: 16 kHz speech in, one unit-norm 256-D vector per utterance out."""

    dim = EMBED_DIM
    sample_rate = SAMPLE_RATE

    def __init__(self, net: GE2ENet, batch_size: int = 64, rate: float = 1.3, min_coverage: float = 0.75,
                 workers: int = 1, precision: str = "fp32"):
        self.net = net
        self.rate = rate
        self.min_coverage = min_coverage
        self.pool = PartialPool(net, batch_size, workers, precision)

    def windows(self, wav: np.ndarray) -> np.ndarray:
        """The mel windows of one stretch of speech, its volume normalised first."""
        return utterance_windows(normalize_volume(np.asarray(wav, np.float32)).astype(np.float32),
                                 self.rate, self.min_coverage)

    def embed(self, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Embedding of one utterance (``VoiceEncoder.embed_utterance`` of ``preprocess_wav``'s volume step)."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"GE2E needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz (decode with "
                             "hyp_face.audio.decode, which resamples)")
        if len(wav) == 0:
            raise ValueError("GE2E: empty utterance")
        self.pool.add("", self.windows(wav))
        return self.pool.pop("")


def build_ge2e(weights: str | None = None, device: str = "cpu", batch_size: int = 64, **opts) -> GE2EEmbedder:
    """Registry builder (``hyp_face.audio.registry``): ``weights`` is the zoo's ``pretrained.pt``."""
    if not weights:
        raise ValueError("ge2e_resemblyzer: give the weights (run_000 --speaker-embedder ge2e_resemblyzer)")
    if opts.get("precision") == "bf16" and device == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        log.warning("speaker_precision=bf16 on a CPU without native bf16: emulated, expect no speed-up over fp32")
    return GE2EEmbedder(load_ge2e(weights, device), batch_size=batch_size, **opts)

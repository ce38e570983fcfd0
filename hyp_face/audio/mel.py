"""Mel power spectrogram of the GE2E speaker encoder, computed as librosa computes it, without librosa.

``resemblyzer.audio.wav_to_mel_spectrogram`` calls ``librosa.feature.melspectrogram`` with 25 ms Hann windows
every 10 ms at 16 kHz and 40 Slaney mel bands; it takes the *power* (not its log) as the network's input. Here:
a periodic Hann window, frames centred with zero padding (librosa >= 0.10), the FFT in float64 rounded to
complex64 as librosa stores it, and the Slaney mel filterbank (``slaney_mel_filterbank``, equal to
``librosa.filters.mel(norm="slaney", htk=False)`` within float32 rounding).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

F_SP = 200.0 / 3          # Slaney mel scale: linear part, Hz per mel
MIN_LOG_HZ = 1000.0       # where the log part starts
LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / F_SP
    log_part = hz >= MIN_LOG_HZ
    return np.where(log_part, MIN_LOG_HZ / F_SP + np.log(np.maximum(hz, MIN_LOG_HZ) / MIN_LOG_HZ) / LOGSTEP, mel)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of ``hz_to_mel``."""
    mel = np.asarray(mel, dtype=np.float64)
    min_log_mel = MIN_LOG_HZ / F_SP
    return np.where(mel >= min_log_mel, MIN_LOG_HZ * np.exp(LOGSTEP * (mel - min_log_mel)), F_SP * mel)


@lru_cache(maxsize=4)
def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters on the Slaney mel scale from 0 Hz to Nyquist, each
    scaled to unit area (``norm="slaney"``)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=4)
def periodic_hann(n: int) -> np.ndarray:
    """``scipy.signal.get_window("hann", n, fftbins=True)``."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def power_spectrogram(wav: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(frames, n_fft // 2 + 1) float32 |STFT|^2 of centred, zero-padded frames: 1 + len(wav) // hop frames."""
    padded = np.pad(np.asarray(wav, dtype=np.float32), n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(padded, (n_frames, n_fft), (padded.strides[0] * hop, padded.strides[0]))
    spectrum = np.fft.rfft(frames * periodic_hann(n_fft), axis=1).astype(np.complex64)
    return (np.abs(spectrum) ** 2).astype(np.float32)


def mel_spectrogram(wav: np.ndarray, sample_rate: int = 16000, window_ms: float = 25.0, step_ms: float = 10.0,
                    n_mels: int = 40) -> np.ndarray:
    """(frames, n_mels) float32 mel power spectrogram, as ``resemblyzer.audio.wav_to_mel_spectrogram``."""
    n_fft = int(sample_rate * window_ms / 1000)
    hop = int(sample_rate * step_ms / 1000)
    power = power_spectrogram(wav, n_fft, hop)
    return power @ slaney_mel_filterbank(sample_rate, n_fft, n_mels).T

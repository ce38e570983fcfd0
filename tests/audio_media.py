"""Test audio: tones and silence written with PyAV at any sample rate and layout, and the GE2E weights of the
``resemblyzer`` wheel when that package is installed (the test extra)."""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

import av
import numpy as np
import pytest

GE2E_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def write_wav(path: str | os.PathLike, signal: np.ndarray, sample_rate: int, layout: str = "mono") -> None:
    """A PCM WAV file of ``signal`` (float in [-1, 1]; (channels, n) for stereo)."""
    samples = np.atleast_2d(np.round(np.asarray(signal) * 32767).astype(np.int16))
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=sample_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(samples.T.reshape(1, -1) if layout == "stereo" else samples,
                                           format="s16", layout=layout)
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def tone(seconds: float, sample_rate: int, hz: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return level * np.sin(2 * np.pi * hz * t)


def ge2e_models_dir(tmp_path: Path) -> Path:
    """A models dir holding the GE2E weights copied out of the installed resemblyzer (skips without it)."""
    try:
        src = Path(metadata.distribution("resemblyzer").locate_file("resemblyzer/pretrained.pt"))
    except metadata.PackageNotFoundError:
        pytest.skip("resemblyzer is not installed (test extra): no GE2E weights")
    dest = tmp_path / "models" / "speaker" / "resemblyzer" / "pretrained.pt"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(src, dest)
    return dest.parents[2]

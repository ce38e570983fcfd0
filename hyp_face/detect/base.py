"""Detector interface shared by the pipeline: per-image :class:`Detections` and the :class:`FaceDetector` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np


@dataclass
class Detections:
    """Faces found in one image, sorted by descending score.

    ``boxes`` (M,4) x1,y1,x2,y2 and ``landmarks`` (M,5,2) x,y are float32 pixels of the image as given to the
    detector; landmark order: image-left eye, image-right eye, nose, image-left / image-right mouth corner.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @classmethod
    def empty(cls) -> "Detections":
        """No face."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, index: np.ndarray) -> "Detections":
        """The detections at a boolean mask or integer index array."""
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index])

    def above(self, threshold: float) -> "Detections":
        """The detections with ``score >= threshold`` (order kept)."""
        return self.select(self.scores >= threshold)


class FaceDetector(Protocol):
    """Anything that detects faces in a batch of RGB uint8 HWC images; ``concurrent``: whether two threads may
    call ``detect`` at once (:func:`hyp_face.extract.cpu_workers`)."""

    concurrent: bool

    def detect(self, images: Sequence[np.ndarray], threshold: float) -> list[Detections]:
        """One :class:`Detections` per image, faces with ``score >= threshold``."""
        ...


def detect_in_batches(
    images: Sequence[np.ndarray],
    policy,
    pad_multiple: int,
    batch_size: int,
    max_pad_ratio: float,
    detect_batch: Callable[[list[np.ndarray], list[tuple[int, int]]], list[Detections]],
) -> list[Detections]:
    """Check RGB uint8 HWC images, resize them by ``policy`` and run ``detect_batch`` on size-bucketed batches.

    ``detect_batch(images, resized_sizes)`` returns one :class:`Detections` per image, in its coordinates.
    """
    from .resize import padded_size, plan_batches

    for i, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image {i}: expected RGB uint8 HxWx3, got {image.dtype} {image.shape}")
    resized = [policy.resized_size(*image.shape[:2]) for image in images]
    padded = [padded_size(h, w, pad_multiple) for h, w in resized]
    results: list[Detections] = [Detections.empty()] * len(images)
    for batch in plan_batches(padded, batch_size, max_pad_ratio):
        for i, dets in zip(batch, detect_batch([images[i] for i in batch], [resized[i] for i in batch])):
            results[i] = dets
    return results

"""The ``Embedder`` interface: alignment + batched, L2-normalised face embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hyp_face.align import arcface_matrices, warp_affine_batch


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def chip_sharpness(chips: np.ndarray) -> np.ndarray:
    """(B,) float32 sharpness of (B, S, S, 3) uint8 chips: the variance of the 4-neighbour Laplacian of their grey
    level (0 for a flat chip; blur and upscaled low-resolution faces give small values)."""
    grey = np.asarray(chips, dtype=np.float32).mean(axis=-1)
    lap = (grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:]
           - 4.0 * grey[:, 1:-1, 1:-1])
    return lap.reshape(len(grey), -1).var(axis=1).astype(np.float32)


@dataclass
class EmbedQuality:
    """Embeddings with the quality measures stored beside them (``FaceMeta.norm`` / ``FaceMeta.sharpness``)."""

    embeds: np.ndarray  # (B, dim) float32, L2-normalised: the same bytes as ``Embedder.embed``
    norm: np.ndarray  # (B,) float32, L2 norm of the raw embedding before normalisation
    sharpness: np.ndarray  # (B,) float32, ``chip_sharpness`` of the aligned chip


ALIGNMENTS = {  # what each ``Embedder.alignment`` does with a detected face, as the front-end summary line says it
    "arcface112": "5-point similarity warp of the {landmarks} to the ArcFace 112x112 template",
    "dlib150": "dlib's own 5 points predicted in the box, 150x150 chip",
    "margin160": "box plus margin, resized to 160x160, no warp (landmarks unused)",
}


class Embedder:
    """A face recognizer: ``align`` cuts chips, ``embed`` maps chips to unit-length vectors.

    Subclasses set ``name``, ``dim``, ``input_size``, ``alignment`` and implement ``_forward`` (raw, unnormalised
    embeddings of a batch of chips). ``flip=True`` averages the raw embeddings of each chip and its mirror
    image before normalising. The default ``align_many`` warps to the ArcFace template (``alignment="arcface112"``).
    """

    name: str = ""
    dim: int = 0
    input_size: int = 112
    alignment: str = "arcface112"
    concurrent: bool = True  # whether two threads may embed at once (hyp_face.extract.cpu_workers)

    def __init__(self, flip: bool = False, batch_size: int = 32):
        self.flip = flip
        self.batch_size = batch_size

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        """Raw (B, dim) embeddings of (B, S, S, 3) uint8 RGB chips."""
        raise NotImplementedError

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """(B, dim) float32 L2-normalised embeddings of (B, S, S, 3) uint8 RGB chips, in batches."""
        return l2_normalize(self._embed_all_raw(self._check_chips(chips)))

    def embed_with_quality(self, chips: np.ndarray) -> EmbedQuality:
        """``embed`` plus each face's raw embedding norm and chip sharpness."""
        chips = self._check_chips(chips)
        raw = self._embed_all_raw(chips)
        return EmbedQuality(l2_normalize(raw), np.linalg.norm(raw, axis=1).astype(np.float32), chip_sharpness(chips))

    def _embed_all_raw(self, chips: np.ndarray) -> np.ndarray:
        """Raw (B, dim) float32 embeddings of checked chips, in batches."""
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self._embed_raw(chips[i : i + self.batch_size])
                               for i in range(0, len(chips), self.batch_size)])

    def _embed_raw(self, chips: np.ndarray) -> np.ndarray:
        raw = np.asarray(self._forward(chips), dtype=np.float32)
        if self.flip:
            raw = raw + np.asarray(self._forward(np.ascontiguousarray(chips[:, :, ::-1])), dtype=np.float32)
        return raw

    def _check_chips(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips)
        size = self.input_size
        if chips.ndim != 4 or chips.shape[1:] != (size, size, 3) or chips.dtype != np.uint8:
            raise ValueError(
                f"{self.name}: expected ({size}x{size}x3) uint8 chips as (B,{size},{size},3), "
                f"got {chips.dtype} {chips.shape}"
            )
        return chips

    def align(self, image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(M, S, S, 3) uint8 chips of the M faces (boxes (M,4), landmarks (M,5,2)) of one RGB image."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return self.align_many([image], np.zeros(len(boxes), dtype=np.int64), boxes, landmarks)

    def align_many(
        self, images: Sequence[np.ndarray], image_index: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray
    ) -> np.ndarray:
        """Chips of faces from several images at once; ``image_index[i]`` says which image face i is in."""
        landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
        mats = arcface_matrices(landmarks, self.input_size)
        return warp_affine_batch(images, image_index, mats, self.input_size, device=self.warp_device)

    @property
    def warp_device(self) -> str:
        """Device used for the alignment warp (CPU unless a subclass runs elsewhere)."""
        return "cpu"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, input_size={self.input_size}, flip={self.flip})"

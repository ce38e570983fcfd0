"""Batched affine warps of face chips in torch (``cv2.warpAffine`` semantics without cv2).

Convention (same as ``cv2.warpAffine(src, M, (S, S), flags=INTER_LINEAR, borderValue=0)``): ``M`` maps source
pixel coordinates to chip pixel coordinates, pixel centres sit at integer coordinates, and samples outside the
source image read 0 (bilinear blending with the 0 border at the edges). This is ``grid_sample`` with
``align_corners=True``, ``padding_mode="zeros"``.

All faces of the images that share one shape go through one ``grid_sample`` call: the images are stacked and
each image's faces are laid side by side in the sampling grid, so the cost is one call per image shape (chunked
to bound memory), not one per face.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hyp_face.align.similarity import invert_affine

_MAX_CHUNK_PIXELS = 64 * 1024 * 1024  # float32 source pixels (x3 channels) converted at once
_SPARSE_FROM_PIXELS = 1_000_000  # on the CPU, larger images are converted around their faces only


def warp_affine_batch(
    images: Sequence[np.ndarray],
    image_index: np.ndarray,
    matrices: np.ndarray,
    size: int,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Warp N faces to (N, size, size, C) uint8 chips.

    ``images``: HWC uint8 images (any sizes); ``image_index`` (N,): which image each face comes from;
    ``matrices`` (N, 2, 3): source pixel -> chip pixel transforms.
    """
    image_index = np.asarray(image_index, dtype=np.int64).reshape(-1)
    matrices = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    if len(image_index) != len(matrices):
        raise ValueError(f"{len(image_index)} image indices for {len(matrices)} matrices")
    channels = {img.shape[2] if img.ndim == 3 else 1 for img in images}
    if len(channels) > 1:
        raise ValueError(f"images with different channel counts: {sorted(channels)}")
    num_ch = channels.pop() if channels else 3
    out = np.zeros((len(matrices), size, size, num_ch), dtype=np.uint8)
    if len(matrices) == 0:
        return out
    inverse = invert_affine(matrices)  # chip -> source
    for chunk in _chunks_by_shape(images, image_index):
        faces = np.flatnonzero(np.isin(image_index, chunk))
        out[faces] = _warp_chunk([images[i] for i in chunk], chunk, image_index[faces], inverse[faces], size, device)
    return out


def _chunks_by_shape(images: Sequence[np.ndarray], image_index: np.ndarray) -> list[list[int]]:
    """Groups of used image indices with the same shape, each within the pixel budget."""
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for i in np.unique(image_index):
        if not 0 <= i < len(images):
            raise IndexError(f"image index {i} out of range for {len(images)} images")
        by_shape[images[i].shape].append(int(i))
    chunks = []
    for shape, members in by_shape.items():
        per_chunk = max(1, _MAX_CHUNK_PIXELS // int(np.prod(shape)))
        chunks += [members[k : k + per_chunk] for k in range(0, len(members), per_chunk)]
    return chunks


def _source_stack(images: list[np.ndarray], batch_pos: np.ndarray, src_pts: np.ndarray, device) -> torch.Tensor:
    """The same-shape images as float (B, C, H, W) channels-last; on the CPU only around the faces.

    For images of ``_SPARSE_FROM_PIXELS`` or more on the CPU, the float copy is zero-allocated (lazily mapped pages)
    and only each face's source region (its sample points' bounding box, 2 pixels wider: bilinear reads the two
    neighbours) is written, so an 8K frame costs the size of its faces, not 400 MB; the warp reads nothing else, so
    the chips are the same to the bit. Smaller images are converted whole.
    """
    height, width = images[0].shape[:2]
    if torch.device(device).type != "cpu" or height * width < _SPARSE_FROM_PIXELS:
        stack = np.stack([img.reshape(img.shape[0], img.shape[1], -1) for img in images])
        return torch.from_numpy(stack).to(device).permute(0, 3, 1, 2).float()
    buffer = np.zeros((len(images), height, width, images[0].reshape(height, width, -1).shape[2]), np.float32)
    low = np.floor(src_pts.min(axis=2)).astype(np.int64) - 2  # (n, 2) x, y
    high = np.ceil(src_pts.max(axis=2)).astype(np.int64) + 3
    for b, (x0, y0), (x1, y1) in zip(batch_pos, low, high):
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x0 < x1 and y0 < y1:
            region = images[b].reshape(height, width, -1)[y0:y1, x0:x1]
            torch.from_numpy(buffer[b, y0:y1, x0:x1]).copy_(torch.from_numpy(np.ascontiguousarray(region)))
    return torch.from_numpy(buffer).permute(0, 3, 1, 2)


def _warp_chunk(
    images: list[np.ndarray], chunk: list[int], face_image: np.ndarray, inverse: np.ndarray, size: int, device
) -> np.ndarray:
    """One grid_sample call for the faces of same-shape images; returns (n_faces, size, size, C) uint8."""
    height, width = images[0].shape[:2]
    slot_of_image = {img: k for k, img in enumerate(chunk)}
    batch_pos = np.array([slot_of_image[int(i)] for i in face_image])
    counts = np.bincount(batch_pos, minlength=len(chunk))
    order = np.argsort(batch_pos, kind="stable")
    slot = np.empty(len(face_image), dtype=np.int64)
    slot[order] = np.arange(len(face_image)) - np.repeat(np.cumsum(counts) - counts, counts)
    max_faces = int(counts.max())

    ys, xs = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    chip_pts = np.stack([xs.ravel(), ys.ravel(), np.ones(size * size)], axis=0)  # (3, S*S)
    src_pts = inverse @ chip_pts  # (n, 2, S*S) source pixel coords
    src = _source_stack(images, batch_pos, src_pts, device)
    norm = np.array([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])[None, :, None]
    grid_faces = (src_pts * norm - 1.0).transpose(0, 2, 1).reshape(-1, size, size, 2)

    grid = np.full((len(chunk), size, max_faces, size, 2), -4.0, dtype=np.float32)  # unused slots read 0
    grid[batch_pos, :, slot] = grid_faces
    warped = F.grid_sample(
        src,
        torch.from_numpy(grid.reshape(len(chunk), size, max_faces * size, 2)).to(device),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )  # (B, C, S, max_faces*S)
    warped = warped.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return warped.reshape(len(chunk), size, max_faces, size, -1)[batch_pos, :, slot]

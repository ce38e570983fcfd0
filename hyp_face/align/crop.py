"""Crops resized by area interpolation, for many boxes at once: MTCNN's R-Net / O-Net inputs and the "margin crop"
alignment of FaceNet-style recognizers (box plus margin, resized, no warp).

A crop is a [x0, y0, x1, y1) pixel window of an image, resized to size x size with the bins of
``F.interpolate(mode="area")`` (adaptive average pooling), computed from exact integer integral images, so every
window of every image comes out of a few gathers whatever its size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def integral_images(images: torch.Tensor) -> torch.Tensor:
    """Exact integral images (B,C,H+1,W+1) of integer-valued (B,C,H,W) pixels (0..255)."""
    _, _, height, width = images.shape
    dtype = torch.int32 if height * width * 255 < 2**31 else torch.int64
    sums = images.to(dtype).cumsum(2, dtype=dtype).cumsum(3, dtype=dtype)
    return F.pad(sums, (1, 0, 1, 0))


def area_crops(integral: torch.Tensor, image_index: torch.Tensor, windows: torch.Tensor, size: int) -> torch.Tensor:
    """(N,C,size,size) float32: each [x0, y0, x1, y1) window of image ``image_index[i]`` resized by area
    interpolation (the bins of ``F.interpolate(mode="area")``: cell k averages pixels floor(k*L/size) to
    ceil((k+1)*L/size) - 1), from the integral images of :func:`integral_images`."""
    cells = torch.arange(size, device=windows.device)

    def bins(start: torch.Tensor, stop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        length = (stop - start)[:, None]
        return start[:, None] + cells * length // size, start[:, None] + ((cells + 1) * length + size - 1) // size

    y0, y1 = bins(windows[:, 1], windows[:, 3])
    x0, x1 = bins(windows[:, 0], windows[:, 2])
    frame = image_index[:, None, None]

    def corner(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return integral[frame, :, y[:, :, None], x[:, None, :]]  # (N,size,size,C)

    total = corner(y1, x1) - corner(y0, x1) - corner(y1, x0) + corner(y0, x0)
    count = ((y1 - y0)[:, :, None] * (x1 - x0)[:, None, :])[..., None]
    return (total.double() / count).float().permute(0, 3, 1, 2)


def margin_windows(boxes: np.ndarray, width: int, height: int, size: int, margin: float) -> np.ndarray:
    """facenet-pytorch ``extract_face`` windows: the box grown by ``margin`` pixels of the ``size`` output
    (``margin * box side / (size - margin)`` in the image), truncated to int and clipped to the image; (M,4) int64.

    Every window keeps at least one pixel inside the image.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    grow = margin * (boxes[:, 2:] - boxes[:, :2]) / (size - margin) / 2
    x0y0 = np.maximum(boxes[:, :2] - grow, 0).astype(np.int64)
    x1y1 = np.minimum(boxes[:, 2:] + grow, [width, height]).astype(np.int64)
    x0y0 = np.minimum(x0y0, [width - 1, height - 1])
    return np.concatenate([x0y0, np.maximum(x1y1, x0y0 + 1)], axis=1)


def margin_crops(images: Sequence[np.ndarray], image_index: np.ndarray, boxes: np.ndarray, size: int,
                 margin: float = 0.0, device: str = "cpu") -> np.ndarray:
    """(M, size, size, 3) uint8 chips: each box of ``images[image_index[i]]`` (RGB uint8 HxWx3) plus ``margin``,
    resized by area interpolation and truncated to uint8, as facenet-pytorch's ``extract_face`` on tensors."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    image_index = np.asarray(image_index, dtype=np.int64).reshape(-1)
    chips = np.zeros((len(boxes), size, size, 3), dtype=np.uint8)
    for i in np.unique(image_index):
        faces = np.flatnonzero(image_index == i)
        image = torch.from_numpy(np.ascontiguousarray(images[i])).to(device).permute(2, 0, 1)[None]
        windows = torch.from_numpy(margin_windows(boxes[faces], image.shape[3], image.shape[2], size, margin))
        crops = area_crops(integral_images(image), torch.zeros(len(faces), dtype=torch.long, device=device),
                           windows.to(device), size)
        chips[faces] = crops.permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
    return chips

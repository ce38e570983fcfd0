"""Greedy non-maximum suppression in torch (no torchvision).

The pairwise "overlaps too much" matrix ``over[i, j] = IoU(i, j) > t and i < j`` (boxes in descending score order)
is computed vectorised, in row blocks to bound the float temporaries, on the boxes' device. The greedy pass then
walks the ranks once on the CPU: a box is kept iff no kept box ranked before it overlaps it, and each kept box
marks its row of ``over`` as suppressed (one vectorised OR per kept box). This is exact greedy NMS, like
torchvision's kernel (bitmask matrix on the device, sequential scan on the host), and takes a few ms for 5000 boxes.
"""

from __future__ import annotations

import numpy as np
import torch

ROW_BLOCK = 256


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``x1, y1, x2, y2`` boxes (zero for inverted ones)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def _overlap_mask(boxes: torch.Tensor, iou_threshold: float, mode: str = "iou") -> torch.Tensor:
    """(K, K) bool: ``overlap(i, j) > iou_threshold`` for ``i < j`` (boxes in rank order), upper blocks only.

    ``mode`` "iou": intersection over union; "min": intersection over the smaller area (MTCNN's "Min").
    """
    if mode not in ("iou", "min"):
        raise ValueError(f"NMS overlap mode {mode!r}: expected 'iou' or 'min'")
    k = boxes.shape[0]
    x1, y1, x2, y2 = boxes.unbind(dim=1)
    area = box_area(boxes)
    mask = torch.zeros((k, k), dtype=torch.bool, device=boxes.device)
    for start in range(0, k, ROW_BLOCK):
        r, c = slice(start, min(start + ROW_BLOCK, k)), slice(start, k)
        width = (torch.minimum(x2[r, None], x2[None, c]) - torch.maximum(x1[r, None], x1[None, c])).clamp_(min=0)
        height = (torch.minimum(y2[r, None], y2[None, c]) - torch.maximum(y1[r, None], y1[None, c])).clamp_(min=0)
        inter = width.mul_(height)
        if mode == "iou":
            iou = inter / (area[r, None] + area[None, c] - inter)  # 0/0 = nan for empty boxes: never "over"
        else:
            iou = inter / torch.minimum(area[r, None], area[None, c])
        mask[r, c] = (iou > iou_threshold).triu_(diagonal=1)
    return mask


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.4, mode: str = "iou") -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, in descending score order (ties: lower index first).

    ``mode``: the overlap measure, "iou" or "min" (intersection over the smaller area).
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    over = _overlap_mask(boxes[order].float(), iou_threshold, mode).cpu().numpy()
    kept = torch.from_numpy(_greedy_scan(over)).to(order.device)
    return order[kept]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float,
                mode: str = "iou") -> torch.Tensor:
    """Greedy NMS within each group (e.g. image, or image and scale); kept indices in descending score order."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    members = (torch.nonzero(groups == g).flatten() for g in torch.unique(groups))
    keep = torch.cat([idx[nms(boxes[idx], scores[idx], iou_threshold, mode)] for idx in members])
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def _greedy_scan(over: np.ndarray) -> np.ndarray:
    """Ranks kept by the greedy pass over an upper-triangular overlap matrix."""
    suppressed = np.zeros(over.shape[0], dtype=bool)
    kept = []
    for rank in range(over.shape[0]):
        if not suppressed[rank]:
            kept.append(rank)
            suppressed |= over[rank]
    return np.asarray(kept, dtype=np.int64)

"""Greedy non-maximum suppression in torch (no torchvision), exact and vectorised.

Greedy NMS keeps box ``j`` (boxes sorted by descending score) iff no *kept* box ranked before it overlaps it by
more than the IoU threshold. With ``over[i, j] = IoU(i, j) > t and i < j`` that is the fixed point
``keep = not any_i(keep[i] and over[i, :])``. It is unique (by induction on the rank), and iterating the map from
``keep = all`` reaches it, fixing at least one more rank per step; in practice a few steps (the length of the
longest suppression chain). Each step is one masked reduction, so the cost is matrix work, not a Python loop over
boxes. The overlap matrix is built in row blocks to bound the float temporaries.
"""

from __future__ import annotations

import torch

ROW_BLOCK = 1024


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``x1, y1, x2, y2`` boxes (zero for inverted ones)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) IoU matrix of ``x1, y1, x2, y2`` boxes (areas without the +1 pixel convention)."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter))


def _overlap_mask(boxes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """(K, K) bool: ``IoU(i, j) > iou_threshold`` for ``i < j`` (boxes in rank order)."""
    k = boxes.shape[0]
    rank = torch.arange(k, device=boxes.device)
    mask = torch.empty((k, k), dtype=torch.bool, device=boxes.device)
    for start in range(0, k, ROW_BLOCK):
        rows = slice(start, min(start + ROW_BLOCK, k))
        mask[rows] = (box_iou(boxes[rows], boxes) > iou_threshold) & (rank[None, :] > rank[rows, None])
    return mask


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.4) -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, in descending score order (ties: lower index first)."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    over = _overlap_mask(boxes[order].float(), iou_threshold)
    keep = torch.ones(order.shape[0], dtype=torch.bool, device=boxes.device)
    while True:
        new_keep = ~over[keep].any(dim=0)
        if torch.equal(new_keep, keep):
            return order[keep]
        keep = new_keep

"""SCRFD (insightface) face detector with 5 keypoints, from its ONNX export, run by our torch interpreter.

Facts (insightface ``scrfd.py``, hpc203 ``scrfd-opencv``): input RGB, ``(x - 127.5) / 128``; outputs in graph order
are the face scores (already sigmoid), box distances and keypoint offsets of strides 8, 16, 32 (9 outputs), each
(B, N, C) or, for exports that fold the batch, (B*N, C). A level with stride ``s`` on an ``H x W`` input has
``A = N / ((H/s)(W/s))`` anchors (2 for the model zoo) per cell, row major, the anchors of a cell consecutive,
all centred at ``(j s, i s)`` (no half-cell offset). Decoding, all distances times ``s``:
box ``(cx - d0, cy - d1, cx + d2, cy + d3)``, keypoint k ``(cx + d[2k], cy + d[2k+1])``.
Keypoint order: image-left eye, image-right eye, nose, image-left / image-right mouth corner.
Defaults as insightface: score threshold 0.5, NMS IoU 0.4.
"""

from __future__ import annotations

import torch

from .point_detector import PointDetector, build_point_detector

STRIDES = (8, 16, 32)


def anchor_centres(height: int, width: int, stride: int, per_cell: int, device: torch.device) -> torch.Tensor:
    """(cells*per_cell, 2) x,y centres of one level, row major, each cell's anchors consecutive."""
    ys, xs = torch.meshgrid(torch.arange(height // stride, device=device),
                            torch.arange(width // stride, device=device), indexing="ij")
    centres = torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() * stride
    return centres.repeat_interleave(per_cell, dim=0)


class SCRFDDetector(PointDetector):
    """SCRFD with keypoints (``det_500m``, ``det_2.5g``, ``det_10g`` ... ``_kps``)."""

    name = "scrfd"
    default_threshold = 0.5
    default_nms_iou = 0.4

    def __init__(self, weights: str, **opts) -> None:
        super().__init__(weights, **opts)
        if len(self.net.output_names) != 3 * len(STRIDES):
            raise ValueError(f"{weights}: {len(self.net.output_names)} outputs; SCRFD with keypoints has "
                             f"{3 * len(STRIDES)} (score, box, keypoints for strides {STRIDES})")

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - 127.5) / 128.0

    def decode(self, outputs, height, width):
        scores, boxes, points = [], [], []
        levels = len(STRIDES)
        for level, stride in enumerate(STRIDES):
            score, dist, kps = (outputs[level + levels * k] for k in range(3))
            cells = (height // stride) * (width // stride)
            per_cell = score.shape[1] // cells
            if per_cell * cells != score.shape[1] or per_cell == 0:
                raise RuntimeError(f"{self.weights}: stride {stride} gave {score.shape[1]} anchors for a "
                                   f"{height}x{width} input ({cells} cells)")
            centres = anchor_centres(height, width, stride, per_cell, score.device)
            dist, kps = dist * stride, kps.reshape(*kps.shape[:2], 5, 2) * stride
            scores.append(score[..., 0])
            boxes.append(torch.cat([centres - dist[..., :2], centres + dist[..., 2:]], dim=-1))
            points.append(centres[:, None, :] + kps)
        return torch.cat(scores, 1), torch.cat(boxes, 1), torch.cat(points, 1)


def build_scrfd(weights: str | None = None, device: str = "cpu", **opts) -> SCRFDDetector:
    """``build_detector("scrfd", weights=".../scrfd_2.5g_kps.onnx")``."""
    return build_point_detector(SCRFDDetector, weights, device, **opts)

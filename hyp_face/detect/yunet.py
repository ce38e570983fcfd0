"""YuNet (libfacedetection.train) face detector with 5 landmarks, from its ONNX export, run by our interpreter.

Facts (OpenCV ``FaceDetectorYN`` and libfacedetection.train ``tools/compare_inference.py``): input BGR 0..255, no
normalisation, zero-padded to a multiple of 32; outputs ``cls_{8,16,32}``, ``obj_*`` (both already sigmoid),
``bbox_*``, ``kps_*``, one prediction per cell of stride ``s`` (row major). Decoding for cell (row r, column c):
centre ``((c + b0) s, (r + b1) s)``, size ``(exp(b2) s, exp(b3) s)``, landmark k ``((c + k[2k]) s, (r + k[2k+1]) s)``.
Score as OpenCV: ``sqrt(clamp(cls) * clamp(obj))`` (libfacedetection.train's tools use the plain product).
Landmark order (OpenCV: subject's right eye, left eye, nose, right / left mouth corner) is the image-left eye first,
the same order as ours. Defaults: score threshold 0.6, NMS IoU 0.3 (OpenCV's NMS value; its score default is 0.9).
"""

from __future__ import annotations

import torch

from .point_detector import PointDetector, build_point_detector

STRIDES = (8, 16, 32)
HEADS = ("cls", "obj", "bbox", "kps")


def cell_grid(height: int, width: int, stride: int, device: torch.device) -> torch.Tensor:
    """(cells, 2) column, row indices of one level's cells, row major."""
    ys, xs = torch.meshgrid(torch.arange(height // stride, device=device),
                            torch.arange(width // stride, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=-1).reshape(-1, 2).float()


class YuNetDetector(PointDetector):
    """YuNet-n / YuNet-s (``yunet_*.onnx`` with ``cls_8`` ... ``kps_32`` outputs)."""

    name = "yunet"
    default_threshold = 0.6
    default_nms_iou = 0.3

    def __init__(self, weights: str, **opts) -> None:
        super().__init__(weights, **opts)
        names = self.net.output_names
        wanted = [f"{head}_{stride}" for head in HEADS for stride in STRIDES]
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise ValueError(f"{weights}: not a YuNet graph, outputs {missing} missing (has {names})")
        self.output_index = {name: names.index(name) for name in wanted}

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1)

    def decode(self, outputs, height, width):
        scores, boxes, points = [], [], []
        for stride in STRIDES:
            cls, obj, box, kps = (outputs[self.output_index[f"{head}_{stride}"]] for head in HEADS)
            grid = cell_grid(height, width, stride, box.device)
            if grid.shape[0] != box.shape[1]:
                raise RuntimeError(f"{self.weights}: stride {stride} gave {box.shape[1]} cells for a "
                                   f"{height}x{width} input ({grid.shape[0]} expected)")
            scores.append((cls.clamp(0, 1) * obj.clamp(0, 1)).sqrt()[..., 0])
            centre, size = (grid + box[..., :2]) * stride, box[..., 2:].exp() * stride
            boxes.append(torch.cat([centre - size / 2, centre + size / 2], dim=-1))
            points.append((grid[:, None, :] + kps.reshape(*kps.shape[:2], 5, 2)) * stride)
        return torch.cat(scores, 1), torch.cat(boxes, 1), torch.cat(points, 1)


def build_yunet(weights: str | None = None, device: str = "cpu", **opts) -> YuNetDetector:
    """``build_detector("yunet", weights=".../yunet_n_dynamic.onnx")``."""
    return build_point_detector(YuNetDetector, weights, device, **opts)

"""insightface RetinaFace-R50 (MXNet ``net3``: ``R50-symbol.json`` + ``R50-0000.params``) without MXNet (docs/original_recipe.md §5.3).

The checkpoint runs through the symbol-graph interpreter (:mod:`hyp_face.formats.mxnet_symbol`); batching, resize,
padding, thresholding, NMS and rescaling are those of :class:`~hyp_face.detect.point_detector.PointDetector`.

Facts (insightface ``detection/retinaface/retinaface.py``, network ``net3``):

* input RGB (insightface reverses its BGR frames), raw 0..255, no mean / std (the graph has its own ``bn_data``);
* outputs per stride 32, 16, 8: ``face_rpn_cls_prob_reshape_stride{s}`` (B, 2A, H, W) whose last A channels are the
  face probabilities (softmax over {background, face} inside the graph), ``face_rpn_bbox_pred_stride{s}``
  (B, 4A, H, W) and ``face_rpn_landmark_pred_stride{s}`` (B, 10A, H, W), the channels of anchor a consecutive;
* A = 2 square anchors per cell (base 16, ratio 1, scales (32, 16) / (8, 4) / (2, 1): sides 512, 256 / 128, 64 /
  32, 16), in the "+1" pixel convention: anchor ``(c - (w - 1)/2, ..., c + (w - 1)/2)`` with ``c = 7.5`` plus the
  cell offset ``(j s, i s)``; anchors are ordered by row, column, then anchor;
* box decoding ``cx = dx w + c``, ``w' = exp(dw) w``, box ``cx -+ (w' - 1)/2`` (``bbox_pred``, stds 1); landmark
  decoding ``x = dx w + c`` per point (``landmark_pred``, std 1);
* NMS IoU 0.4, default score threshold 0.5; resize policy v0.1 (short side 1024, long side <= 1980).

Differences from insightface, all at the pixel level: frames are zero-padded on the right / bottom to a multiple of
32 for batching (insightface runs the exact size), boxes centred in that padding or beyond are dropped, NMS uses
areas without the "+1", and boxes are clipped to the frame after rescaling (insightface clips to ``size - 1``
before).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import torch

from hyp_face.formats.mxnet_symbol import parse_checkpoint_arg
from hyp_face.formats.mxnet_symbol import build_mxnet_model

from .point_detector import PointDetector, build_point_detector
from .resize import ResizePolicy

log = logging.getLogger(__name__)

STRIDES = (32, 16, 8)
ANCHOR_SCALES = {32: (32, 16), 16: (8, 4), 8: (2, 1)}
BASE_SIZE = 16
HEAD_NAMES = ("face_rpn_cls_prob_reshape_stride{}", "face_rpn_bbox_pred_stride{}", "face_rpn_landmark_pred_stride{}")
DEFAULT_EPOCH = 0


def base_anchors(stride: int) -> np.ndarray:
    """(A, 4) x1, y1, x2, y2 anchors of the cell at the origin (insightface ``generate_anchors``, ratio 1)."""
    centre = (BASE_SIZE - 1) / 2
    half = (BASE_SIZE * np.asarray(ANCHOR_SCALES[stride], dtype=np.float64) - 1) / 2
    return np.stack([centre - half, centre - half, centre + half, centre + half], axis=1).astype(np.float32)


def anchor_plane(height: int, width: int, stride: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(height * width * A, 4) anchors of a ``height x width`` feature map: row, column, then anchor."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    shifts = (torch.stack([xs, ys, xs, ys], dim=-1) * stride).reshape(-1, 1, 4)
    return (shifts + torch.from_numpy(base_anchors(stride))).reshape(-1, 4).to(device)


def _anchor_geometry(anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sizes ``(w, h)`` ("+1" convention) and centres of x1, y1, x2, y2 anchors."""
    size = anchors[..., 2:] - anchors[..., :2] + 1.0
    return size, anchors[..., :2] + 0.5 * (size - 1.0)


def decode_boxes(anchors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """insightface ``bbox_pred``: deltas (..., 4) on anchors (..., 4) -> x1, y1, x2, y2."""
    size, centre = _anchor_geometry(anchors)
    pred_centre = deltas[..., :2] * size + centre
    half = 0.5 * (torch.exp(deltas[..., 2:4]) * size - 1.0)
    return torch.cat([pred_centre - half, pred_centre + half], dim=-1)


def decode_landmarks(anchors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """insightface ``landmark_pred``: deltas (..., 5, 2) on anchors (..., 4) -> (..., 5, 2) x, y."""
    size, centre = _anchor_geometry(anchors)
    return deltas * size[..., None, :] + centre[..., None, :]


def _per_anchor(head: torch.Tensor, anchors_per_cell: int) -> torch.Tensor:
    """(B, A*C, H, W) map -> (B, H*W*A, C), the order of :func:`anchor_plane`."""
    b, channels, h, w = head.shape
    return head.permute(0, 2, 3, 1).reshape(b, h * w * anchors_per_cell, channels // anchors_per_cell)


def _names_epoch(weights: str) -> bool:
    return bool(re.search(r",\s*\d+$", weights) or re.search(r"-\d{4}\.params$", weights))


class RetinaFaceMXNetDetector(PointDetector):
    """RetinaFace ``net3`` from an insightface MXNet checkpoint (``R50``), batched."""

    name = "retinaface_r50_mxnet"
    default_threshold = 0.5
    default_nms_iou = 0.4

    def __init__(self, weights: str, epoch: int | None = None, resize: str | ResizePolicy = "v0.1", **opts) -> None:
        self.epoch = epoch
        super().__init__(weights, resize=resize, **opts)

    def load_net(self, weights: str, half: bool) -> torch.nn.Module:
        """The ``net3`` graph from ``<prefix>-symbol.json`` + ``.params``, outputs of the three FPN levels."""
        epoch = self.epoch
        if epoch is None and not _names_epoch(str(weights)):
            epoch = DEFAULT_EPOCH
        symbol, params = parse_checkpoint_arg(str(weights), epoch)
        outputs = [name.format(s) for s in STRIDES for name in HEAD_NAMES]
        self.weights = str(params)
        log.info("%s: loading %s (%s)", self.name, params, symbol.name)
        return build_mxnet_model(symbol, params, outputs=outputs, device=self.device, half=half)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb

    @torch.inference_mode()
    def raw_outputs(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoded scores, boxes and landmarks from the 9 head maps (per stride: class prob, box, landmarks)."""
        maps = self.net(batch)
        outputs = []
        for level, stride in enumerate(STRIDES):
            cls, box, lmk = (m.float() for m in maps[3 * level: 3 * level + 3])
            anchors_per_cell = len(ANCHOR_SCALES[stride])
            if cls.shape[1] != 2 * anchors_per_cell or box.shape[2:] != cls.shape[2:] or lmk.shape[2:] != cls.shape[2:]:
                raise RuntimeError(f"{self.weights}: stride {stride} heads {tuple(cls.shape)}, {tuple(box.shape)}, "
                                   f"{tuple(lmk.shape)} do not fit {anchors_per_cell} anchors per cell")
            face = cls[:, anchors_per_cell:]  # the second half of the channels: P(face) of each anchor
            outputs += [_per_anchor(face, anchors_per_cell), _per_anchor(box, anchors_per_cell),
                        _per_anchor(lmk, anchors_per_cell)]
        return self.decode(tuple(outputs), batch.shape[2], batch.shape[3])

    def decode(self, outputs, height, width):
        scores, boxes, points = [], [], []
        for level, stride in enumerate(STRIDES):
            score, box, lmk = outputs[3 * level: 3 * level + 3]
            grid_h, grid_w = -(-height // stride), -(-width // stride)
            anchors = anchor_plane(grid_h, grid_w, stride, score.device)
            if anchors.shape[0] != score.shape[1]:
                raise RuntimeError(f"{self.weights}: stride {stride} gave {score.shape[1]} anchors for a "
                                   f"{height}x{width} input ({grid_h}x{grid_w} cells)")
            scores.append(score[..., 0])
            boxes.append(decode_boxes(anchors, box[..., :4]))
            points.append(decode_landmarks(anchors, lmk.reshape(*lmk.shape[:2], 5, 2)))
        return torch.cat(scores, 1), torch.cat(boxes, 1), torch.cat(points, 1)


def build_retinaface_mxnet(weights: str | None = None, device: str = "cpu", **opts) -> RetinaFaceMXNetDetector:
    """``build_detector("retinaface_r50_mxnet", weights="exp/face_models/retina-50/R50")``: ``weights`` is the
    checkpoint prefix (epoch 0), ``PREFIX,EPOCH`` or ``R50-0000.params``."""
    if not weights:
        raise ValueError("face detector retinaface_r50_mxnet needs its MXNet checkpoint (e.g. .../retina-50/R50 "
                         "for R50-symbol.json + R50-0000.params)")
    return build_point_detector(RetinaFaceMXNetDetector, weights, device, **opts)

"""MTCNN face detector (Zhang et al. 2016) as facenet-pytorch 2.6.0 runs it: P-Net, R-Net, O-Net and five landmarks.

Weights: ``pnet.pt``, ``rnet.pt``, ``onet.pt`` of the MIT-licensed PyPI wheel ``facenet-pytorch==2.6.0`` (state dicts,
read with ``weights_only=True`` into our modules, whose parameter names are facenet-pytorch's). The cascade follows
facenet-pytorch's ``detect_face``, batched over the frames of one size and over the pyramid:

1. Pyramid: scales ``12 / min_face_size * factor**k`` while the short side times the scale is at least 12; each frame
   resized to ``(int(h*s + 1), int(w*s + 1))`` by area interpolation, fed as ``(x - 127.5) / 128`` RGB. P-Net's
   first conv and ceil-mode pool run per scale (the pool's partial last window depends on the size); the rest of
   P-Net runs once on the pooled maps of every scale packed on one canvas (shelves), whose cells straddling two
   maps are ignored. Cells with P(face) ``>= pnet_threshold`` become 12x12 windows; NMS (IoU 0.5) within each frame and
   scale, then (IoU 0.7) within each frame; box regression by the box size (no +1); squared (``_rerec``).
2. R-Net on 24x24 crops of every candidate of every frame at once: P(face) ``> rnet_threshold``; NMS (IoU 0.7);
   box regression by the box size + 1 (:func:`calibrate_boxes`); squared.
3. O-Net on 48x48 crops: P(face) ``>= threshold`` (the front end's detection threshold; facenet-pytorch's is 0.7);
   landmarks relative to the box; box regression; NMS with MTCNN's "Min" overlap 0.7 on +1 areas.

Crops are facenet-pytorch's: the box truncated to int and clipped to the frame (not zero-padded), resized by area
interpolation (``F.interpolate(mode="area")``'s bins), computed for all candidates at once from integral images.
Boxes and landmarks are float pixels of the frame, not clipped; landmark order: left eye, right eye, nose, left and
right mouth corner (image left/right).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hyp_face.align.crop import area_crops, integral_images
from hyp_face.embed.torch_models import load_checkpoint

from .base import Detections
from .nms import batched_nms

log = logging.getLogger(__name__)

NET_FILES = ("pnet.pt", "rnet.pt", "onet.pt")
PNET_SHRINK = 4  # P-Net's two 3x3 valid convolutions after the pool


class PNet(nn.Module):
    """MTCNN P-Net (facenet-pytorch parameter names); ``head`` and ``trunk`` split at the pool."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool1(self.prelu1(self.conv1(x)))

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box offsets (B,4,h,w) and face probabilities (B,2,h,w)."""
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.trunk(self.head(x))


class RNet(nn.Module):
    """MTCNN R-Net on 24x24 crops: box offsets (N,4), face probabilities (N,2)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool2(self.prelu2(self.conv2(self.pool1(self.prelu1(self.conv1(x))))))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).flatten(1)  # the converted weights' (W,H,C) order
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """MTCNN O-Net on 48x48 crops: box offsets (N,4), landmarks (N,10: x1..x5, y1..y5), probabilities (N,2)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool2(self.prelu2(self.conv2(self.pool1(self.prelu1(self.conv1(x))))))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


# ---------------------------------------------------------------------------------------------- box helpers


def calibrate_boxes(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """MTCNN box regression: offsets (N,4) in units of the inclusive box size (width + 1, height + 1)."""
    wh = (boxes[:, 2:] - boxes[:, :2] + 1).repeat(1, 2)
    return boxes + reg * wh


def _rerec(boxes: torch.Tensor) -> torch.Tensor:
    """facenet-pytorch ``rerec``: the square of the longer side around the same centre (no +1, not rounded)."""
    wh = boxes[:, 2:] - boxes[:, :2]
    side = wh.max(dim=1, keepdim=True).values
    x1y1 = boxes[:, :2] + wh * 0.5 - side * 0.5
    return torch.cat([x1y1, x1y1 + side], dim=1)


def crop_windows(boxes: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """facenet-pytorch ``pad``: boxes truncated to int, clipped to the frame, as [x0, y0, x1, y1) pixel ranges."""
    t = boxes.trunc().long()
    return torch.stack([t[:, 0].clamp(min=1) - 1, t[:, 1].clamp(min=1) - 1,
                        t[:, 2].clamp(max=width), t[:, 3].clamp(max=height)], dim=1)


def pyramid_scales(height: int, width: int, min_face_size: float, factor: float) -> list[float]:
    """facenet-pytorch's scale pyramid: ``12 / min_face_size * factor**k`` while the short side stays >= 12."""
    scale = 12.0 / min_face_size
    short = min(height, width) * scale
    scales = []
    while short >= 12:
        scales.append(scale)
        scale *= factor
        short *= factor
    return scales


def mtcnn_normalise(x: torch.Tensor) -> torch.Tensor:
    """MTCNN's input scaling of 0..255 pixels (every P-, R-, O- and L-Net)."""
    return (x - 127.5) * 0.0078125


def _pack_maps(maps: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """First-fit shelf packing of (h, w) maps given largest first: the (top, left) of each and the canvas size."""
    width = maps[0][1]
    shelves: list[list[int]] = []  # [top, height, width used]
    places = []
    for h, w in maps:
        shelf = next((s for s in shelves if s[2] + w <= width and h <= s[1]), None)
        if shelf is None:
            shelf = [shelves[-1][0] + shelves[-1][1] if shelves else 0, h, 0]
            shelves.append(shelf)
        places.append((shelf[0], shelf[2]))
        shelf[2] += w
    return places, (shelves[-1][0] + shelves[-1][1], width)


def _canvas(maps: list[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The (B,C,h_k,w_k) maps packed on one zero canvas, and the (top, left) of each."""
    places, (height, width) = _pack_maps([tuple(m.shape[2:]) for m in maps])
    canvas = maps[0].new_zeros((maps[0].shape[0], maps[0].shape[1], height, width))
    for m, (top, left) in zip(maps, places):
        canvas[:, :, top : top + m.shape[2], left : left + m.shape[3]] = m
    return canvas, places


class MTCNNDetector:
    """facenet-pytorch's MTCNN cascade on batches of RGB uint8 frames (see the module docstring)."""

    concurrent = True  # no state changes after construction

    def __init__(
        self,
        nets: tuple[PNet, RNet, ONet],
        device: str = "cpu",
        min_face_size: float = 20.0,
        factor: float = 0.709,
        pnet_threshold: float = 0.6,
        rnet_threshold: float = 0.7,
        pnet_scale_nms: float = 0.5,
        pnet_nms: float = 0.7,
        rnet_nms: float = 0.7,
        onet_nms: float = 0.7,
        batch_size: int = 8,
        crop_batch: int = 512,
    ):
        self.device = torch.device(device)
        self.pnet, self.rnet, self.onet = (net.to(self.device).eval() for net in nets)
        self.min_face_size, self.factor = float(min_face_size), float(factor)
        self.pnet_threshold, self.rnet_threshold = float(pnet_threshold), float(rnet_threshold)
        self.pnet_scale_nms, self.pnet_nms = float(pnet_scale_nms), float(pnet_nms)
        self.rnet_nms, self.onet_nms = float(rnet_nms), float(onet_nms)
        self.batch_size, self.crop_batch = int(batch_size), int(crop_batch)

    def detect(self, images: Sequence[np.ndarray], threshold: float) -> list[Detections]:
        """One :class:`Detections` per RGB uint8 HxWx3 image: faces whose O-Net probability is ``>= threshold``."""
        by_shape: dict[tuple, list[int]] = {}
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"image {i}: expected RGB uint8 HxWx3, got {image.dtype} {image.shape}")
            by_shape.setdefault(image.shape, []).append(i)
        results: list[Detections] = [Detections.empty()] * len(images)
        for index in by_shape.values():
            for start in range(0, len(index), self.batch_size):
                batch = index[start : start + self.batch_size]
                for i, dets in zip(batch, self._detect_batch(np.stack([images[i] for i in batch]), threshold)):
                    results[i] = dets
        return results

    @torch.inference_mode()
    def _detect_batch(self, frames: np.ndarray, threshold: float) -> list[Detections]:
        """Detections of (B,H,W,3) frames of one size."""
        images = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float()
        boxes, frame = self._pnet_stage(images)
        integral = integral_images(images) if len(boxes) else None
        if len(boxes):
            boxes, frame = self._rnet_stage(integral, boxes, frame)
        if len(boxes):
            boxes, scores, points, frame = self._onet_stage(integral, boxes, frame, threshold)
        else:
            scores, points = boxes.new_zeros(0), boxes.new_zeros((0, 5, 2))
        boxes, scores, points, frame = (t.cpu().numpy() for t in (boxes, scores, points, frame))
        return [Detections(boxes[frame == b].astype(np.float32), scores[frame == b].astype(np.float32),
                           points[frame == b].astype(np.float32)) for b in range(len(frames))]

    def _pnet_stage(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared candidate boxes (K,4) and their frame index (K,) from the pyramid."""
        _, _, height, width = images.shape
        scales = pyramid_scales(height, width, self.min_face_size, self.factor)
        if not scales:
            return images.new_zeros((0, 4)), torch.zeros(0, dtype=torch.long, device=self.device)
        maps = [self.pnet.head(mtcnn_normalise(F.interpolate(images, size=(int(height * s + 1), int(width * s + 1)),
                                                        mode="area"))) for s in scales]
        canvas, places = _canvas(maps)
        reg, prob = self.pnet.trunk(canvas)
        scale_of_cell = torch.full(reg.shape[2:], -1, dtype=torch.long, device=self.device)
        for k, (m, (top, left)) in enumerate(zip(maps, places)):  # cells whose window lies inside scale k's map
            rows, cols = m.shape[2] - PNET_SHRINK, m.shape[3] - PNET_SHRINK
            if rows > 0 and cols > 0:
                scale_of_cell[top : top + rows, left : left + cols] = k
        frame, row, col = torch.nonzero((prob[:, 1] >= self.pnet_threshold) & (scale_of_cell >= 0), as_tuple=True)
        k = scale_of_cell[row, col]
        corner = torch.tensor(places, device=self.device)[k]  # (top, left) of each candidate's map
        cell = torch.stack([col - corner[:, 1], row - corner[:, 0]], dim=1).float()
        scale = torch.tensor(scales, dtype=torch.float32, device=self.device)[k, None]
        boxes = torch.cat([((2 * cell + 1) / scale).floor(), ((2 * cell + 12) / scale).floor()], dim=1)
        scores, offsets = prob[frame, 1, row, col], reg[frame, :, row, col]
        pick = batched_nms(boxes, scores, frame * len(scales) + k, self.pnet_scale_nms)
        pick = pick[batched_nms(boxes[pick], scores[pick], frame[pick], self.pnet_nms)]
        boxes, offsets = boxes[pick], offsets[pick]
        boxes = boxes + offsets * (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
        return _rerec(boxes), frame[pick]

    def _rnet_stage(self, integral, boxes, frame) -> tuple[torch.Tensor, torch.Tensor]:
        """R-Net: the candidates kept, regressed and squared, with their frame index."""
        boxes, frame, windows = self._croppable(integral, boxes, frame)
        reg, prob = self._run(self.rnet, integral, frame, windows, 24)
        keep = prob[:, 1] > self.rnet_threshold
        boxes, frame, reg, scores = boxes[keep], frame[keep], reg[keep], prob[keep, 1]
        pick = batched_nms(boxes, scores, frame, self.rnet_nms)
        return _rerec(calibrate_boxes(boxes[pick], reg[pick])), frame[pick]

    def _onet_stage(self, integral, boxes, frame, threshold: float):
        """O-Net: final boxes, scores, landmarks (K,5,2) and frame index, in descending score order."""
        boxes, frame, windows = self._croppable(integral, boxes, frame)
        reg, marks, prob = self._run(self.onet, integral, frame, windows, 48)
        keep = prob[:, 1] >= threshold
        boxes, frame, reg, marks, scores = boxes[keep], frame[keep], reg[keep], marks[keep], prob[keep, 1]
        wh = boxes[:, 2:] - boxes[:, :2] + 1
        points = torch.stack([marks[:, :5], marks[:, 5:]], dim=-1) * wh[:, None] + boxes[:, None, :2] - 1
        boxes = calibrate_boxes(boxes, reg)
        plus_one = torch.tensor([0.0, 0.0, 1.0, 1.0], device=boxes.device)  # "Min" overlap on inclusive areas
        pick = batched_nms(boxes + plus_one, scores, frame, self.onet_nms, mode="min")
        return boxes[pick], scores[pick], points[pick], frame[pick]

    @staticmethod
    def _croppable(integral, boxes, frame):
        """The boxes whose clipped crop window is not empty, their frame index and windows."""
        _, _, height, width = integral.shape
        windows = crop_windows(boxes, width - 1, height - 1)
        ok = (windows[:, 2] > windows[:, 0]) & (windows[:, 3] > windows[:, 1])
        return boxes[ok], frame[ok], windows[ok]

    def _run(self, net: nn.Module, integral, frame, windows, size: int) -> tuple[torch.Tensor, ...]:
        """``net`` on the size x size area crops of the windows, ``crop_batch`` crops at a time."""
        outs = [net(mtcnn_normalise(area_crops(integral, frame[i : i + self.crop_batch],
                                          windows[i : i + self.crop_batch], size)))
                for i in range(0, len(windows), self.crop_batch)]
        if not outs:
            outs = [net(integral.new_zeros((0, 3, size, size), dtype=torch.float32))]
        return tuple(torch.cat(parts) for parts in zip(*outs))


def mtcnn_weight_paths(weights: str | Path) -> list[Path]:
    """``pnet.pt``, ``rnet.pt``, ``onet.pt`` in ``weights`` (their folder, or one of the three files)."""
    folder = Path(weights) if Path(weights).is_dir() else Path(weights).parent
    paths = [folder / name for name in NET_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"MTCNN weights not found: {', '.join(missing)}")
    return paths


def build_mtcnn(weights: str | None = None, device: str = "cpu", fp16: bool = False, resize: str | None = None,
                **opts) -> MTCNNDetector:
    """facenet-pytorch's MTCNN; ``weights``: the folder of its three nets, or one of their files.

    ``opts``: :class:`MTCNNDetector` options (``min_face_size``, ``factor``, ``pnet_threshold``, ...). The nets always
    run in float32 (``fp16`` is ignored: they are small, and their thresholds are what the weights were tuned for);
    the detector builds its own pyramid, so no resize policy applies.
    """
    if not weights:
        raise ValueError("detector mtcnn needs its weights (the folder of pnet.pt, rnet.pt, onet.pt)")
    if resize not in (None, "none"):
        raise ValueError(f"detector mtcnn builds its own image pyramid: --det-resize-policy {resize} does not apply")
    if fp16:
        log.info("mtcnn: the nets run in float32")
    nets = tuple(load_checkpoint(net, path, ()) for net, path in zip((PNet(), RNet(), ONet()),
                                                                      mtcnn_weight_paths(weights)))
    return MTCNNDetector(nets, device=device, **opts)

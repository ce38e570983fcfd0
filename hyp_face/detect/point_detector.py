"""Batched inference for anchor-point detectors run from ONNX graphs (SCRFD, YuNet): shared pre/post-processing.

Per batch (resize / pad / bucket policy as in :mod:`hyp_face.detect.resize`):

1. RGB uint8 HWC frames resized by the policy (bilinear, as the RetinaFace detector), zero-padded (black, as
   insightface and OpenCV pad) on the right and bottom to a multiple of 32, then put in the network's channel
   order and normalised by the subclass;
2. the graph (:class:`~hyp_face.formats.onnx_torch.OnnxModule`, channels-last, fp16 on CUDA when asked;
   decoding is fp32);
3. the subclass decodes scores (B,N), boxes (B,N,4) and landmarks (B,N,5,2) in input pixels;
4. per frame: ``score >= threshold``, box centre inside the frame (not the padding), the ``pre_nms_topk`` best,
   greedy NMS, division by the resize ratios and (optionally) clipping of the boxes to the frame.

``build_point_detector`` reads the common options: ``resize`` ("v0.1", "v0.2" = default, "none") or explicit
``short_side`` / ``max_long_side`` / ``upscale``; ``batch_size``, ``fp16``, ``max_pad_ratio``, ``nms_iou``,
``pre_nms_topk``, ``clip_boxes``.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hyp_face.formats.onnx_torch import onnx_to_torch

from .base import Detections, detect_in_batches
from .nms import nms
from .resize import DetectorScratch, ResizePolicy, padded_size

log = logging.getLogger(__name__)

PAD_MULTIPLE = 32  # the coarsest stride of both families


class PointDetector:
    """A :class:`~hyp_face.detect.base.FaceDetector` around an ONNX graph; subclasses define the
    normalisation (``normalize``) and the decoding (``decode``)."""

    name = ""
    concurrent = True  # the resize source is per thread (DetectorScratch)
    default_threshold = 0.5
    default_nms_iou = 0.4

    def __init__(
        self,
        weights: str,
        resize: str | ResizePolicy = "v0.2",
        device: str | torch.device = "cpu",
        fp16: bool = False,
        batch_size: int = 8,
        max_pad_ratio: float = 1.0,
        nms_iou: float | None = None,
        pre_nms_topk: int = 5000,
        clip_boxes: bool = True,
    ) -> None:
        self.device = torch.device(device)
        half = fp16 and self.device.type == "cuda"
        if fp16 and not half:
            log.warning("fp16 requested on %s: running in fp32 (fp16 is for CUDA only)", self.device)
        self.weights = str(weights)
        self.net = self.load_net(weights, half)
        self.policy = ResizePolicy.named(resize) if isinstance(resize, str) else resize
        self._scratch = DetectorScratch()  # the resize source, per thread
        self.batch_size = int(batch_size)
        self.max_pad_ratio = float(max_pad_ratio)
        self.nms_iou = float(self.default_nms_iou if nms_iou is None else nms_iou)
        self.pre_nms_topk = int(pre_nms_topk)
        self.clip_boxes = bool(clip_boxes)

    def load_net(self, weights: str, half: bool) -> torch.nn.Module:
        """The network (here an ONNX graph run by our interpreter); subclasses may load other formats."""
        return onnx_to_torch(weights, self.device, half).to(memory_format=torch.channels_last)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """Network input from a padded float RGB batch (B,3,H,W) in 0..255."""
        raise NotImplementedError

    def decode(self, outputs: tuple[torch.Tensor, ...], height: int, width: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores (B,N), boxes (B,N,4) x1y1x2y2 and landmarks (B,N,5,2) in pixels of the (H,W) input, from the
        graph outputs as (B, N, C) float32 (exports that fold the batch into N are reshaped)."""
        raise NotImplementedError

    def detect(self, images: Sequence[np.ndarray], threshold: float | None = None) -> list[Detections]:
        """Faces with ``score >= threshold`` (default: the family's) in each RGB uint8 HWC image, by score."""
        threshold = self.default_threshold if threshold is None else threshold
        return detect_in_batches(images, self.policy, PAD_MULTIPLE, self.batch_size, self.max_pad_ratio,
                                 lambda batch, sizes: self._detect_batch(batch, sizes, threshold))

    def input_batch(self, images: list[np.ndarray], sizes: list[tuple[int, int]]) -> torch.Tensor:
        """The normalised, padded network input for frames resized to ``sizes``."""
        height, width = (max(p) for p in zip(*(padded_size(h, w, PAD_MULTIPLE) for h, w in sizes)))
        batch = torch.zeros((len(images), 3, height, width), dtype=torch.float32, device=self.device)
        for k, (image, (h, w)) in enumerate(zip(images, sizes)):
            batch[k, :, :h, :w] = self._resized(image, h, w)
        return self.normalize(batch).contiguous(memory_format=torch.channels_last)

    def _resized(self, image: np.ndarray, h: int, w: int) -> torch.Tensor:
        """The frame as float (3, h, w), bilinear; on the CPU only the rows the resize reads are converted."""
        if (h, w) == image.shape[:2] or self.device.type != "cpu":
            x = torch.from_numpy(np.require(image, np.uint8, ["C", "W"])).to(self.device).permute(2, 0, 1).float()[None]
        else:
            x = torch.from_numpy(self._scratch.resize_source(image, h)[None]).permute(0, 3, 1, 2)
        if (h, w) != image.shape[:2]:
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=False)
        return x[0]

    @torch.inference_mode()
    def raw_outputs(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoded fp32 scores, boxes and landmarks of a normalised input batch."""
        outputs = tuple(o.float().reshape(batch.shape[0], -1, o.shape[-1]) for o in self.net(batch))
        return self.decode(outputs, batch.shape[2], batch.shape[3])

    def _detect_batch(self, images: list[np.ndarray], sizes: list[tuple[int, int]],
                      threshold: float) -> list[Detections]:
        scores, boxes, points = self.raw_outputs(self.input_batch(images, sizes))
        return [self._frame_detections(scores[k], boxes[k], points[k], image.shape[:2], size, threshold)
                for k, (image, size) in enumerate(zip(images, sizes))]

    def _frame_detections(self, scores: torch.Tensor, boxes: torch.Tensor, points: torch.Tensor,
                          frame_size: tuple[int, int], input_size: tuple[int, int], threshold: float) -> Detections:
        """Threshold, drop padding hits, NMS and rescale the candidates of one frame."""
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        keep = (scores >= threshold) & (centre[:, 0] < input_size[1]) & (centre[:, 1] < input_size[0])
        idx = torch.nonzero(keep).squeeze(1)
        if idx.numel() > self.pre_nms_topk:
            idx = idx[torch.topk(scores[idx], self.pre_nms_topk).indices]
        idx = idx[nms(boxes[idx], scores[idx], self.nms_iou)]
        ratio = torch.tensor([input_size[1] / frame_size[1], input_size[0] / frame_size[0]], device=boxes.device)
        kept_boxes = boxes[idx] / ratio.repeat(2)
        if self.clip_boxes:
            limit = torch.tensor([frame_size[1], frame_size[0]], dtype=torch.float32, device=boxes.device)
            kept_boxes = torch.minimum(kept_boxes.clamp(min=0), limit.repeat(2))
        return Detections(kept_boxes.cpu().numpy().astype(np.float32), scores[idx].cpu().numpy().astype(np.float32),
                          (points[idx] / ratio).cpu().numpy().astype(np.float32))


def build_point_detector(cls: type[PointDetector], weights: str | None, device: str = "cpu",
                         **opts) -> PointDetector:
    """``cls`` on ``weights`` (required) with the module docstring's options."""
    if not weights:
        raise ValueError(f"face detector {cls.name} needs its .onnx weights file")
    policy_keys = {"short_side", "max_long_side", "upscale"} & set(opts)
    if policy_keys:
        if "resize" in opts:
            raise ValueError(f"give either resize= or {sorted(policy_keys)}, not both")
        opts["resize"] = ResizePolicy(**{k: opts.pop(k) for k in policy_keys})
    return cls(weights, device=device, **opts)

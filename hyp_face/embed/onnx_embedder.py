"""insightface ONNX recognizers (``w600k_r50``, ``w600k_mbf``, ``glintr100``, ...) as an ``Embedder``.

The graph runs through our torch interpreter (:mod:`hyp_face.formats.onnx_torch`; channels-last, fp16 on CUDA
when asked).
Chips are ArcFace-aligned RGB (insightface feeds ``blobFromImages(..., swapRB=True)`` of BGR chips), NCHW, scaled
as insightface's ``ArcFaceONNX`` does: ``(x - 127.5) / 127.5``, unless the graph starts with its own ``Sub`` and
``Mul`` nodes (MXNet-converted models: ``_minusscalar`` / ``_mulscalar``), which then get raw 0..255 values.
The embedding is the first graph output (512-d for the model zoo), L2-normalised by the base class.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from hyp_face.embed.base import Embedder
from hyp_face.formats.onnx_torch import OnnxModule, onnx_to_torch

log = logging.getLogger(__name__)

HEAD_NODES = 8  # insightface looks for the normalisation among the first 8 nodes


def normalises_input(module: OnnxModule) -> bool:
    """True when the graph subtracts and scales the input itself (insightface's ``find_sub and find_mul``)."""
    names = [node.name for node in module.nodes[:HEAD_NODES]]
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return has_sub and has_mul


class OnnxArcFaceEmbedder(Embedder):
    """An insightface ONNX recognizer on ArcFace-aligned chips (size from the graph input, 112 by default)."""

    def __init__(self, weights: str, device: str = "cpu", fp16: bool = False, flip: bool = False,
                 batch_size: int = 64, input_size: int = 112, name: str = "onnx_arcface"):
        super().__init__(flip=flip, batch_size=batch_size)
        self.name = name
        self.alignment = "arcface112"
        self.input_size = int(input_size)
        self.device = torch.device(device)
        if fp16 and self.device.type != "cuda":
            log.warning("%s: fp16 is only used on CUDA; running fp32 on %s", name, self.device)
        self.model = onnx_to_torch(weights, self.device, fp16).to(memory_format=torch.channels_last)
        if len(self.model.input_names) != 1:
            raise ValueError(f"{weights}: a recognizer has one input, this graph has {self.model.input_names}")
        self.raw_input = normalises_input(self.model)
        self.dim = self._forward(np.zeros((1, self.input_size, self.input_size, 3), dtype=np.uint8)).shape[1]
        log.info("%s: loaded %s, %d-d, input %s", name, weights, self.dim,
                 "0..255 (normalised in the graph)" if self.raw_input else "(x-127.5)/127.5")

    @property
    def warp_device(self) -> str:
        return str(self.device)

    @torch.inference_mode()
    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(chips)).to(self.device).permute(0, 3, 1, 2).float()
        x = x.contiguous(memory_format=torch.channels_last)
        if not self.raw_input:
            x = (x - 127.5) / 127.5
        y = self.model(x)[0]
        return y.reshape(y.shape[0], -1).float().cpu().numpy()


def build_onnx_arcface(weights: str | None = None, device: str = "cpu", **opts) -> OnnxArcFaceEmbedder:
    """``weights``: an insightface recognizer ``.onnx`` (w600k_r50, w600k_mbf, glintr100, ...)."""
    if not weights:
        raise ValueError("embedder onnx_arcface needs an insightface recognizer .onnx file (weights=PATH)")
    return OnnxArcFaceEmbedder(weights, device=device, **opts)

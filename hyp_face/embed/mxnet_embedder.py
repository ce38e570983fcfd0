"""insightface MXNet recognizers (``<prefix>-symbol.json`` + ``<prefix>-<epoch>.params``) as an ``Embedder``.

The checkpoint is run by the symbol-graph interpreter (no MXNet). Chips are ArcFace-aligned 112x112 RGB uint8,
fed as raw 0..255 floats: insightface graphs hold their own input normalisation. The embedding is the internal
layer ``fc1`` (``fc1_output``), L2-normalised; its size is probed with an all-zero image (docs/original_recipe.md §5.5).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from hyp_face.embed.base import Embedder
from hyp_face.formats.mxnet_symbol import build_mxnet_model, parse_checkpoint_arg

log = logging.getLogger(__name__)


class MXNetEmbedder(Embedder):
    """An MXNet-format ArcFace recognizer on 112x112 ArcFace-aligned chips."""

    def __init__(
        self,
        weights: str,
        epoch: int | None = None,
        output: str = "fc1",
        device: str = "cpu",
        fp16: bool = False,
        flip: bool = False,
        batch_size: int = 64,
        name: str = "mxnet",
    ):
        super().__init__(flip=flip, batch_size=batch_size)
        self.name = name
        self.input_size = 112
        self.alignment = "arcface112"
        self.device = torch.device(device)
        half = fp16 and self.device.type == "cuda"
        if fp16 and not half:
            log.warning("%s: fp16 is only used on CUDA; running fp32 on %s", name, self.device)
        symbol, params = parse_checkpoint_arg(weights, epoch)
        self.model = build_mxnet_model(symbol, params, outputs=[f"{output}_output"], device=self.device, half=half)
        self.dim = self._forward(np.zeros((1, 112, 112, 3), dtype=np.uint8)).shape[1]
        log.info("%s: loaded %s (%s), %d-d output %s", name, params, symbol.name, self.dim, output)

    @property
    def warp_device(self) -> str:
        return str(self.device)

    @torch.inference_mode()
    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(chips)).to(self.device).permute(0, 3, 1, 2)
        y = self.model(x)
        return y.reshape(y.shape[0], -1).float().cpu().numpy()


def build_mxnet(weights: str | None = None, device: str = "cpu", **opts) -> MXNetEmbedder:
    """``weights``: ``PREFIX,EPOCH``, ``PREFIX-NNNN.params`` or PREFIX with ``epoch=N`` (insightface checkpoint)."""
    if not weights:
        raise ValueError("embedder mxnet needs weights 'PREFIX,EPOCH' (e.g. model-r100-ii/model,0)")
    return MXNetEmbedder(weights, device=device, **opts)

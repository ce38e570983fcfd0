"""Torch ArcFace recognizers (MobileFaceNet, IResNet) behind the ``Embedder`` interface.

Chips are RGB 112x112 aligned to the ArcFace template, fed as (x/255 - 0.5)/0.5 (``bgr=True`` feeds BGR for
checkpoints trained on cv2-decoded images). Batched; fp16 autocast when ``fp16=True`` on CUDA.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hyp_face.embed.base import Embedder
from hyp_face.embed.iresnet import IResNet
from hyp_face.embed.mobilefacenet import MobileFaceNet

log = logging.getLogger(__name__)


def load_state_dict(path: str | Path, strip_prefixes: tuple[str, ...] = ("module.",)) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` state dict, loaded with ``weights_only=True``; known key prefixes removed."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    for prefix in strip_prefixes:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_checkpoint(model: nn.Module, path: str | Path, strip_prefixes: tuple[str, ...]) -> nn.Module:
    """Load ``path`` into ``model`` strictly; the error names the file and the mismatching keys."""
    state = load_state_dict(path, strip_prefixes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: checkpoint does not match {type(model).__name__}: {err}") from err
    return model


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Eval mode on ``device``, channels-last (chips arrive as NHWC, and CPU convolutions run faster that way)."""
    return model.to(device).eval().to(memory_format=torch.channels_last)


@torch.inference_mode()
def run_model(model: nn.Module, chips: np.ndarray, device: torch.device, fp16: bool = False) -> np.ndarray:
    """Float32 outputs of ``model`` for (B,S,S,3) uint8 chips, fed as float (B,3,S,S) in 0..255 (an NHWC view)."""
    x = torch.from_numpy(np.ascontiguousarray(chips)).to(device).permute(0, 3, 1, 2).float()
    with torch.autocast(device.type, dtype=torch.float16, enabled=fp16):
        y = model(x)
    return y.float().cpu().numpy()


class ArcFaceInput(nn.Module):
    """Wraps an ArcFace backbone: RGB 0..255 -> (x/255 - 0.5)/0.5, optionally reordered to BGR first."""

    def __init__(self, backbone: nn.Module, bgr: bool = False):
        super().__init__()
        self.backbone = backbone
        self.bgr = bgr

    @staticmethod
    def standardise(x: torch.Tensor) -> torch.Tensor:
        return x / 127.5 - 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return self.backbone(self.standardise(x))


class TorchEmbedder(Embedder):
    """A torch backbone on ArcFace 112x112 chips (``input_module`` wraps it with its input standardisation)."""

    input_module = ArcFaceInput

    def __init__(
        self,
        name: str,
        model: nn.Module,
        dim: int,
        device: str = "cpu",
        fp16: bool = False,
        bgr: bool = False,
        flip: bool = False,
        batch_size: int = 32,
    ):
        super().__init__(flip=flip, batch_size=batch_size)
        self.name = name
        self.dim = dim
        self.device = torch.device(device)
        self.fp16 = fp16 and self.device.type == "cuda"
        if fp16 and not self.fp16:
            log.warning("%s: fp16 is only used on CUDA; running fp32 on %s", name, self.device)
        self.model = prepare_model(self.input_module(model, bgr), self.device)

    @property
    def warp_device(self) -> str:
        return str(self.device)

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        return run_model(self.model, chips, self.device, self.fp16)


def _require_weights(name: str, weights: str | None) -> str:
    if not weights:
        raise ValueError(f"embedder {name} needs a weights file (weights=PATH / --embed-weights)")
    return weights


def build_mobilefacenet_mit(weights: str | None = None, device: str = "cpu", **opts) -> TorchEmbedder:
    """bubbliiiing/arcface-pytorch ``arcface_mobilefacenet.pth`` (MIT, CASIA-WebFace, 128-D)."""
    path = _require_weights("mobilefacenet_mit", weights)
    model = load_checkpoint(MobileFaceNet(128), path, ("arcface.", "module.")).eval().fuse_batchnorm()
    return TorchEmbedder("mobilefacenet_mit", model, 128, device=device, **opts)


def build_iresnet(depth: int, weights: str | None = None, device: str = "cpu", **opts) -> TorchEmbedder:
    """arcface_torch IResNet-``depth`` ``backbone.pth`` (512-D)."""
    name = f"iresnet{depth}"
    model = load_checkpoint(IResNet(depth), _require_weights(name, weights), ("module.",))
    return TorchEmbedder(name, model, 512, device=device, **opts)


build_iresnet18, build_iresnet34, build_iresnet50, build_iresnet100 = (
    partial(build_iresnet, depth) for depth in (18, 34, 50, 100))

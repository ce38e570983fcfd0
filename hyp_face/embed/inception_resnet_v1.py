"""FaceNet's Inception-ResNet-v1 (Schroff et al. 2015; Szegedy et al. 2017), 512-D, as facenet-pytorch 2.6.0 runs it.

Weights: facenet-pytorch's VGGFace2 ``20180402-114759-vggface2.pt`` (converted from davidsandberg/facenet), a state
dict read with ``weights_only=True`` into our module, whose parameter names are facenet-pytorch's; the classifier
(``logits.*``) is dropped. Chips: the detector box plus ``margin`` pixels, resized to 160x160 without warping
(:func:`hyp_face.align.crop.margin_crops`, alignment ``margin160``), fed as ``(x - 127.5) / 128`` RGB; the
embedding (after the last batch norm) is L2-normalised like every :class:`~hyp_face.embed.base.Embedder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from hyp_face.align.crop import margin_crops
from hyp_face.embed.torch_models import ArcFaceInput, TorchEmbedder
from hyp_face.formats.pth import load_state_dict

EMBED_DIM = 512
CHIP_SIZE = 160


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, TensorFlow's), ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _chain(*layers: tuple) -> nn.Sequential:
    """A sequence of :class:`BasicConv2d` from ``(cin, cout, kernel[, stride[, padding]])`` tuples."""
    return nn.Sequential(*(BasicConv2d(*layer) for layer in layers))


class Branches(nn.Module):
    """Parallel branches (``branch0``, ``branch1``, ...) concatenated along the channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.count = len(branches)
        for i, branch in enumerate(branches):
            setattr(self, f"branch{i}", branch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([getattr(self, f"branch{i}")(x) for i in range(self.count)], dim=1)


class Residual(Branches):
    """Inception-ResNet block: ``relu?(x + scale * conv2d(branches(x)))``."""

    def __init__(self, channels: int, inner: int, scale: float, relu: bool, *branches: nn.Module):
        super().__init__(*branches)
        self.conv2d = nn.Conv2d(inner, channels, 1)
        self.scale = scale
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(super().forward(x)) * self.scale + x
        return torch.relu(out) if self.relu else out


def block35(scale: float) -> Residual:
    return Residual(256, 96, scale, True, BasicConv2d(256, 32, 1), _chain((256, 32, 1), (32, 32, 3, 1, 1)),
                    _chain((256, 32, 1), (32, 32, 3, 1, 1), (32, 32, 3, 1, 1)))


def block17(scale: float) -> Residual:
    return Residual(896, 256, scale, True, BasicConv2d(896, 128, 1),
                    _chain((896, 128, 1), (128, 128, (1, 7), 1, (0, 3)), (128, 128, (7, 1), 1, (3, 0))))


def block8(scale: float, relu: bool = True) -> Residual:
    return Residual(1792, 384, scale, relu, BasicConv2d(1792, 192, 1),
                    _chain((1792, 192, 1), (192, 192, (1, 3), 1, (0, 1)), (192, 192, (3, 1), 1, (1, 0))))


class InceptionResnetV1(nn.Module):
    """Inception-ResNet-v1 trunk and 512-D bottleneck on (B,3,160,160) standardised RGB; raw embeddings."""

    def __init__(self):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, 2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, 1, 1)
        self.maxpool_3a = nn.MaxPool2d(3, 2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.conv2d_4b = BasicConv2d(192, 256, 3, 2)
        self.repeat_1 = nn.Sequential(*(block35(0.17) for _ in range(5)))
        self.mixed_6a = Branches(BasicConv2d(256, 384, 3, 2), _chain((256, 192, 1), (192, 192, 3, 1, 1),
                                                                     (192, 256, 3, 2)), nn.MaxPool2d(3, 2))
        self.repeat_2 = nn.Sequential(*(block17(0.10) for _ in range(10)))
        self.mixed_7a = Branches(_chain((896, 256, 1), (256, 384, 3, 2)), _chain((896, 256, 1), (256, 256, 3, 2)),
                                 _chain((896, 256, 1), (256, 256, 3, 1, 1), (256, 256, 3, 2)), nn.MaxPool2d(3, 2))
        self.repeat_3 = nn.Sequential(*(block8(0.20) for _ in range(5)))
        self.block8 = block8(1.0, relu=False)
        self.last_linear = nn.Linear(1792, EMBED_DIM, bias=False)
        self.last_bn = nn.BatchNorm1d(EMBED_DIM, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in (self.conv2d_1a, self.conv2d_2a, self.conv2d_2b, self.maxpool_3a, self.conv2d_3b,
                      self.conv2d_4a, self.conv2d_4b, self.repeat_1, self.mixed_6a, self.repeat_2, self.mixed_7a,
                      self.repeat_3, self.block8):
            x = stage(x)
        return self.last_bn(self.last_linear(x.mean(dim=(2, 3))))


class FixedStandardization(ArcFaceInput):
    """Wraps a FaceNet backbone: RGB 0..255 -> (x - 127.5) / 128 (facenet-pytorch's fixed_image_standardization)."""

    @staticmethod
    def standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - 127.5) / 128.0


class MarginCropEmbedder(TorchEmbedder):
    """A torch recognizer on margin crops (box plus ``margin`` pixels, resized, no warp) of ``input_size``."""

    input_size = CHIP_SIZE
    alignment = "margin160"
    input_module = FixedStandardization

    def __init__(self, name: str, model: nn.Module, dim: int, margin: float = 0.0, **opts):
        super().__init__(name, model, dim, **opts)
        self.margin = float(margin)

    def align_many(self, images: Sequence[np.ndarray], image_index: np.ndarray, boxes: np.ndarray,
                   landmarks: np.ndarray) -> np.ndarray:
        """Margin crops of the boxes (the landmarks are not used)."""
        return margin_crops(images, image_index, boxes, self.input_size, self.margin, device=self.warp_device)


def load_inception_resnet_v1(path: str | Path) -> InceptionResnetV1:
    """Our module with facenet-pytorch's InceptionResnetV1 state dict (``logits.*`` dropped), in eval mode."""
    state = {k: v for k, v in load_state_dict(path).items() if not k.startswith("logits.")}
    model = InceptionResnetV1()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: not a facenet-pytorch InceptionResnetV1 state dict: {err}") from err
    return model.eval()


def build_inception_resnet_v1(weights: str | None = None, device: str = "cpu", margin: float = 0.0,
                              **opts) -> MarginCropEmbedder:
    """facenet-pytorch's InceptionResnetV1 (e.g. VGGFace2 ``20180402-114759-vggface2.pt``), 512-D, on 160x160
    margin crops (``margin`` pixels of the chip, facenet-pytorch's MTCNN default 0)."""
    if not weights:
        raise ValueError("embedder inception_resnet_v1 needs a weights file (weights=PATH / --embed-weights)")
    return MarginCropEmbedder("inception_resnet_v1", load_inception_resnet_v1(weights), EMBED_DIM,
                              margin=margin, device=device, **opts)

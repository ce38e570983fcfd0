"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) re-implemented in torch.

Same network as dlib's ``anet_type`` (dnn_face_recognition_ex.cpp): 7x7/2 conv + affine + ReLU + 3x3/2 max-pool,
residual blocks (conv-affine-ReLU-conv-affine, + shortcut, ReLU), where down-sampling blocks start with a 3x3/2 conv
without padding and take a 2x2/2 average-pooled shortcut; dlib adds tensors of different shapes by zero-padding
both to the larger one (channels and the bottom/right border), which ``_dlib_add`` reproduces. Then a global
average pool and a 256->128 linear layer without bias. Input: RGB, (x - mean) / 256.
Weights are read from the dlib file itself (``read_dlib_metric_net``); batched, CPU or CUDA (fp16 optional).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hyp_face.formats.dlib_models import DlibConv, DlibMetricNet


def _conv(spec: DlibConv, gamma, beta) -> nn.Conv2d:
    """A conv with the following affine layer folded in (y = gamma * conv(x) + beta)."""
    out_ch, in_ch, k, _ = spec.weight.shape
    conv = nn.Conv2d(in_ch, out_ch, k, spec.stride, spec.padding, bias=True)
    g = torch.from_numpy(gamma)
    conv.weight.data = torch.from_numpy(spec.weight) * g[:, None, None, None]
    bias = torch.from_numpy(spec.bias) if spec.bias is not None else torch.zeros(out_ch)
    conv.bias.data = bias * g + torch.from_numpy(beta)
    return conv


def _dlib_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib ``add_prev``: sum over the overlap, each input zero-padded to the larger (C, H, W)."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))

    def pad(t):
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class DlibBlock(nn.Module):
    def __init__(self, conv1: nn.Conv2d, conv2: nn.Conv2d):
        super().__init__()
        self.conv1, self.conv2 = conv1, conv2
        self.down = conv1.stride[0] != 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_dlib_add(y, shortcut))


class DlibResNet(nn.Module):
    """The torch network for a parsed dlib metric ResNet; input (B,3,H,W) float RGB 0..255, output (B,128)."""

    def __init__(self, net: DlibMetricNet):
        super().__init__()
        convs = [_conv(c, g, b) for c, (g, b) in zip(net.convs, net.affines)]
        if len(convs) % 2 != 1:
            raise ValueError(f"expected a stem conv plus pairs of block convs, got {len(convs)} convs")
        self.stem = convs[0]
        self.blocks = nn.Sequential(*[DlibBlock(convs[i], convs[i + 1]) for i in range(1, len(convs), 2)])
        self.fc = nn.Linear(*net.fc.shape, bias=False)
        self.fc.weight.data = torch.from_numpy(net.fc.T.copy())
        self.register_buffer("mean", torch.from_numpy(net.input_mean).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))

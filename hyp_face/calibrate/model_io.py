"""Human-readable JSON model files for calibration and fusion (no pickle: a model file is data, never code)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import ClassVar, TypeVar

from hyp_face.io.table import atomic_write

M = TypeVar("M", bound="JsonModel")


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def save_model(path: str | os.PathLike, kind: str, fields: dict) -> None:
    """Atomically write ``{"type": kind, **fields}`` as indented JSON; NaN or inf is an error."""
    text = json.dumps({"type": kind, **fields}, indent=2, allow_nan=False)
    with atomic_write(path) as f:
        f.write(text)
        f.write("\n")


def read_model(path: str | os.PathLike) -> dict:
    """Read a JSON model file (a JSON object, finite numbers only); errors name the file."""
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: not a JSON model file: {e}") from e
    if not isinstance(model, dict):
        raise ValueError(f"{path}: not a model file: a JSON {type(model).__name__}, not an object")
    return model


def load_model(path: str | os.PathLike, kind: str) -> dict:
    """Read a JSON model file and check its ``type``; errors name the file."""
    model = read_model(path)
    if model.get("type") != kind:
        raise ValueError(f"{path}: expected a {kind!r} model, found {model.get('type')!r}")
    return model


class JsonModel:
    """Save and load for a flat dataclass model stored as ``{"type": KIND, **fields}``."""

    KIND: ClassVar[str]

    def save(self, path: str | os.PathLike) -> None:
        save_model(path, self.KIND, asdict(self))

    @classmethod
    def from_dict(cls: type[M], path: str | os.PathLike, model: dict) -> M:
        """Build from the fields of a model file (``path`` names it in errors)."""
        try:
            return cls(**{k: v for k, v in model.items() if k != "type"})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: bad {cls.KIND} model: {e}") from e

    @classmethod
    def load(cls: type[M], path: str | os.PathLike) -> M:
        return cls.from_dict(path, load_model(path, cls.KIND))

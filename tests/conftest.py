"""Shared fixtures: the ``../shared`` test data (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HYP_FACE_SHARED", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path under ``../shared``; skips the calling test when it does not exist."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path}")
    return path


@pytest.fixture
def shared():
    """The ``shared_path`` helper as a fixture."""
    return shared_path

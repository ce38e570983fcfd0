"""Locate the dlib model files shipped by the PyPI package ``face_recognition_models`` (CC0).

The package's ``__init__`` imports ``pkg_resources`` (absent from recent setuptools), so it is located with
``importlib.util.find_spec`` without being imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DLIB_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"


def face_recognition_models_dir() -> Path:
    """The ``models`` folder of the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("python package face_recognition_models is not installed (pip install face_recognition_models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def dlib_model_path(filename: str) -> Path:
    """Full path of one of the package's model files; a clear error if it is missing."""
    path = face_recognition_models_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"dlib model file not found: {path}")
    return path

"""Test fixtures for the FaceNet pipeline: the zoo's MTCNN weights and facenet-pytorch 2.6.0 as a reference.

``facenet_models`` fetches the ``mtcnn_facenet`` zoo model (``pip download --no-deps facenet-pytorch==2.6.0``, the
three nets taken out of the wheel and checked against their pinned sha256) into ``$HYP_FACE_TEST_MODELS_DIR`` or a
temporary folder; it skips when PyPI cannot be reached. ``facenet_pytorch`` imports the reference package from that
same wheel (unpacked, never installed), or from an installed copy. facenet-pytorch imports torchvision, which PyPI
builds do not pair with every torch; when it cannot be imported, a stand-in provides the one function the reference
uses: ``torchvision.ops.boxes.batched_nms`` as a plain double loop (torchvision's semantics: IoU without +1,
suppress above the threshold), so the reference's NMS is not ours, and ``to_tensor`` for float arrays.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from hyp_face.zoo import DEFAULT_MANIFEST, ZooError, fetch_models

FACENET_WHEEL = "facenet_pytorch-2.6.0-py3-none-any.whl"


@pytest.fixture(scope="session")
def facenet_models(tmp_path_factory) -> Path:
    """A models dir holding the verified ``mtcnn_facenet`` files (and the wheel under ``.downloads``)."""
    models_dir = Path(os.environ.get("HYP_FACE_TEST_MODELS_DIR") or tmp_path_factory.mktemp("face_models"))
    try:
        fetch_models(DEFAULT_MANIFEST, ["mtcnn_facenet"], models_dir)
    except ZooError as err:
        pytest.skip(f"facenet-pytorch wheel not obtainable: {err}")
    return models_dir


def plain_batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float):
    """torchvision's ``batched_nms`` as a plain loop: greedy per group, IoU without +1, kept in score order."""
    b, s, g = boxes.double().numpy(), scores.double().numpy(), idxs.numpy()
    order = np.argsort(-s, kind="stable")
    suppressed = np.zeros(len(s), dtype=bool)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[rank + 1 :]:
            if g[j] != g[i]:
                continue
            w = max(0.0, min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            h = max(0.0, min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            area_i = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1])
            area_j = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            if w * h / (area_i + area_j - w * h) > iou_threshold:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.long)


def _float_hwc_to_chw(pic: np.ndarray) -> torch.Tensor:
    """torchvision's ``to_tensor`` for the float HxWxC arrays ``extract_face`` gives it (no scaling)."""
    return torch.from_numpy(np.ascontiguousarray(pic.transpose(2, 0, 1)))


def _torchvision_stand_in(monkeypatch) -> None:
    """Register a minimal ``torchvision`` (batched_nms only) when the real one cannot be imported."""
    try:
        importlib.import_module("torchvision.ops.boxes")
        return
    except Exception:  # absent, or built for another torch
        pass
    names = ("torchvision", "torchvision.ops", "torchvision.ops.boxes", "torchvision.transforms",
             "torchvision.transforms.functional")
    modules = {name: types.ModuleType(name) for name in names}
    modules["torchvision.ops.boxes"].batched_nms = plain_batched_nms
    modules["torchvision.transforms.functional"].to_tensor = _float_hwc_to_chw
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


@pytest.fixture(scope="module")
def facenet_pytorch(facenet_models, tmp_path_factory):
    """The facenet-pytorch 2.6.0 package (installed, or unpacked from the fetched wheel)."""
    monkeypatch = pytest.MonkeyPatch()
    _torchvision_stand_in(monkeypatch)
    wheel = facenet_models / ".downloads" / FACENET_WHEEL
    if importlib.util.find_spec("facenet_pytorch") is None:
        if not wheel.is_file():
            pytest.skip(f"facenet-pytorch not installed and {wheel} absent")
        unpacked = tmp_path_factory.mktemp("facenet_wheel")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(unpacked)
        monkeypatch.syspath_prepend(str(unpacked))
    try:
        yield importlib.import_module("facenet_pytorch")
    finally:
        for name in [n for n in sys.modules if n == "facenet_pytorch" or n.startswith("facenet_pytorch.")]:
            del sys.modules[name]
        monkeypatch.undo()

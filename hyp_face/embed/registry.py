"""Recognizers by name: ``build_embedder(name, weights, device, **opts)``, ``list_embedders()``, and
``register_embedder(name)`` to add one. Built-ins are imported only when built (``name -> "module:function"``), so
this module and the implementations never import each other.

Every builder has the signature ``f(weights=None, device="cpu", **opts) -> Embedder``. Which file each model needs,
and where it comes from, is in ``conf/model_zoo.tsv`` (:mod:`hyp_face.zoo`).
"""

from __future__ import annotations

from hyp_face.registry import Registry

from hyp_face.embed.base import Embedder

_EMBEDDERS = Registry("embedder", {
    "dlib_resnet128": "hyp_face.embed.dlib_resnet:build_dlib_resnet128",
    "mxnet": "hyp_face.embed.mxnet_embedder:build_mxnet",
    "onnx_arcface": "hyp_face.embed.onnx_embedder:build_onnx_arcface",
    "mobilefacenet_mit": "hyp_face.embed.torch_models:build_mobilefacenet_mit",
    "inception_resnet_v1": "hyp_face.embed.inception_resnet_v1:build_inception_resnet_v1",
    **{f"iresnet{d}": f"hyp_face.embed.torch_models:build_iresnet{d}" for d in (18, 34, 50, 100)},
})


def register_embedder(name: str):
    """Decorator adding a builder ``f(weights=None, device="cpu", **opts) -> Embedder`` under ``name``."""
    return _EMBEDDERS.register(name)


def list_embedders() -> list[str]:
    """Names of every recognizer builder."""
    return _EMBEDDERS.names()


def build_embedder(name: str, weights: str | None = None, device: str = "cpu", **opts) -> Embedder:
    """Instantiate the recognizer registered as ``name`` (weights path where the model needs one)."""
    return _EMBEDDERS.build(name, weights, device, **opts)

"""Registry of recognizers by name (``register_embedder``, ``build_embedder``, ``list_embedders``)."""

from __future__ import annotations

from typing import Callable

from hyp_face.embed.base import Embedder

_REGISTRY: dict[str, Callable[..., Embedder]] = {}


def register_embedder(name: str) -> Callable[[Callable[..., Embedder]], Callable[..., Embedder]]:
    """Decorator registering a factory ``f(weights=None, device="cpu", **opts) -> Embedder`` under ``name``."""

    def decorate(factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
        if name in _REGISTRY:
            raise ValueError(f"embedder {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorate


def build_embedder(name: str, weights: str | None = None, device: str = "cpu", **opts) -> Embedder:
    """Instantiate the recognizer registered as ``name`` (weights path where the model needs one)."""
    _load_builtin_models()
    if name not in _REGISTRY:
        raise KeyError(f"unknown embedder {name!r}; known: {', '.join(list_embedders())}")
    return _REGISTRY[name](weights=weights or None, device=device, **opts)


def list_embedders() -> list[str]:
    """Names of all registered recognizers."""
    _load_builtin_models()
    return sorted(_REGISTRY)


def _load_builtin_models() -> None:
    """Import the modules whose decorators register the built-in recognizers."""
    from hyp_face.embed import dlib_resnet, mxnet_embedder, onnx_embedder, torch_models  # noqa: F401

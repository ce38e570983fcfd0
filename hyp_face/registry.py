"""Builders by name, loaded lazily: one class behind the detector and the recognizer registries.

Built-in builders are listed as ``name -> "module:function"`` and imported only when built, so a registry never
imports its implementations at module level and the implementations never import the registry. Other code adds
builders with the ``register`` decorator. Every builder has the signature ``f(weights=None, device="cpu", **opts)``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

Builder = Callable[..., Any]


class UnknownBuilderError(KeyError, ValueError):
    """A name no registry entry has (a KeyError for lookups, a ValueError for bad arguments)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    """``name -> builder``: built-ins as lazy ``"module:function"`` targets, others added with ``register``."""

    def __init__(self, kind: str, builtins: dict[str, str]):
        self.kind = kind
        self._targets: dict[str, str | Builder] = dict(builtins)

    def register(self, name: str) -> Callable[[Builder], Builder]:
        """Decorator adding ``builder`` under ``name``; a name is registered once."""

        def decorate(builder: Builder) -> Builder:
            if name in self._targets:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._targets[name] = builder
            return builder

        return decorate

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._targets)

    def builder(self, name: str) -> Builder:
        """The builder of ``name``, importing its module on first use."""
        if name not in self._targets:
            raise UnknownBuilderError(f"unknown {self.kind} {name!r}; expected one of {', '.join(self.names())}")
        target = self._targets[name]
        if isinstance(target, str):
            module, _, function = target.partition(":")
            target = self._targets[name] = getattr(importlib.import_module(module), function)
        return target

    def build(self, name: str, weights: str | None = None, device: str = "cpu", **opts) -> Any:
        """Instantiate ``name`` with its weights (``None``: the builder's default) on ``device``."""
        return self.builder(name)(weights=weights or None, device=device, **opts)

"""Speaker embedders by name (lazy ``name -> "module:function"``, as the face registries)."""

from __future__ import annotations

from ..registry import Registry

SPEAKER_EMBEDDERS = Registry("speaker embedder", {
    "ge2e_resemblyzer": "hyp_face.audio.ge2e:build_ge2e",
})

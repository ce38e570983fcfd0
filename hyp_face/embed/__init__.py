"""Face recognizers behind one Embedder interface, registered by name.

``build_embedder("dlib_resnet128")`` (embedded default), ``"mobilefacenet_mit"``, ``"iresnet18/34/50/100"``, ...; ``list_embedders()``.
"""

from hyp_face.embed.base import Embedder, l2_normalize
from hyp_face.embed.registry import build_embedder, list_embedders, register_embedder

__all__ = ["Embedder", "build_embedder", "l2_normalize", "list_embedders", "register_embedder"]

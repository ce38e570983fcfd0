"""Five-point similarity alignment to the ArcFace template, batched warps."""

from hyp_face.align.similarity import (
    ARCFACE_SIZE,
    ARCFACE_TEMPLATE,
    apply_affine,
    arcface_matrices,
    estimate_similarity,
    invert_affine,
)
from hyp_face.align.warp import warp_affine_batch

__all__ = [
    "ARCFACE_SIZE",
    "ARCFACE_TEMPLATE",
    "apply_affine",
    "arcface_matrices",
    "estimate_similarity",
    "invert_affine",
    "warp_affine_batch",
]

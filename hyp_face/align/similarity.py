"""Least-squares similarity transforms (Umeyama, no reflection) of 5 landmarks to a template."""

from __future__ import annotations

import numpy as np

# ArcFace 112x112 template (x, y): the classic 96x112 template shifted by +8 px in x (docs/original_recipe.md §5.4).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
ARCFACE_SIZE = 112


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Similarity matrices (..., 2, 3) mapping points ``src`` (..., K, 2) onto ``dst`` (K, 2) or (..., K, 2).

    Umeyama's closed form: rotation, uniform scale and translation minimising the squared error, with the
    reflection case excluded (a mirrored face is never the answer). Works on float landmarks, no rounding.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.broadcast_to(np.asarray(dst, dtype=np.float64), src.shape)
    if src.shape[-1] != 2 or src.shape[-2] < 2:
        raise ValueError(f"expected (..., K>=2, 2) points, got shape {src.shape}")
    src_mean = src.mean(axis=-2, keepdims=True)
    dst_mean = dst.mean(axis=-2, keepdims=True)
    src_c = src - src_mean
    dst_c = dst - dst_mean
    cov = np.swapaxes(dst_c, -1, -2) @ src_c / src.shape[-2]  # (..., 2, 2)
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d = np.stack([np.ones_like(sign), np.where(sign < 0, -1.0, 1.0)], axis=-1)  # (..., 2)
    rot = (u * d[..., None, :]) @ vt
    src_var = (src_c**2).sum(axis=(-1, -2)) / src.shape[-2]
    scale = (s * d).sum(axis=-1) / np.maximum(src_var, np.finfo(np.float64).tiny)
    lin = scale[..., None, None] * rot
    trans = dst_mean[..., 0, :] - (lin @ src_mean[..., 0, :, None])[..., 0]
    return np.concatenate([lin, trans[..., None]], axis=-1)


def apply_affine(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply (..., 2, 3) affine matrices to points (..., K, 2)."""
    return points @ np.swapaxes(matrices[..., :2], -1, -2) + matrices[..., None, :, 2]


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """Inverse of (..., 2, 3) affine matrices."""
    lin_inv = np.linalg.inv(matrices[..., :2])
    trans = -(lin_inv @ matrices[..., 2:])
    return np.concatenate([lin_inv, trans], axis=-1)


def arcface_matrices(landmarks: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """Matrices (N, 2, 3) mapping image pixels onto the ArcFace template scaled to ``size`` pixels."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (5, 2):
        raise ValueError(f"expected landmarks of shape (N, 5, 2), got {landmarks.shape}")
    return estimate_similarity(landmarks, ARCFACE_TEMPLATE * (size / ARCFACE_SIZE))

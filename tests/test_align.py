"""Alignment geometry: Umeyama similarity estimation and the batched torch warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.transform import SimilarityTransform, warp

from hyp_face.align import (
    ARCFACE_TEMPLATE,
    apply_affine,
    arcface_matrices,
    estimate_similarity,
    invert_affine,
    warp_affine_batch,
)

torch.set_num_threads(1)


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


@pytest.mark.parametrize("params", [(1.0, 0.0, 0.0, 0.0), (1.7, 0.3, 5.0, -3.0), (0.4, 3.0, 100.0, 20.0)])
def test_similarity_recovers_known_transform(params):
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    mat = similarity(*params)
    np.testing.assert_allclose(estimate_similarity(src, apply_affine(mat, src)), mat, atol=1e-9)


def test_similarity_never_reflects_and_agrees_with_skimage():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 100, (5, 2))
    mirrored = src * [-1, 1] + rng.normal(0, 1, (5, 2))
    for dst in (mirrored, ARCFACE_TEMPLATE):
        mat = estimate_similarity(src, dst)
        assert np.linalg.det(mat[:, :2]) > 0
        ref = SimilarityTransform.from_estimate(src, dst)
        np.testing.assert_allclose(mat, ref.params[:2], atol=1e-9)


def test_similarity_is_batched_and_float_precise():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 50, (7, 5, 2)) + 0.37  # sub-pixel landmarks must not be truncated
    dst = rng.uniform(0, 50, (5, 2))
    batched = estimate_similarity(src, dst)
    single = np.stack([estimate_similarity(s, dst) for s in src])
    np.testing.assert_allclose(batched, single, atol=1e-12)
    truncated = estimate_similarity(np.floor(src), dst)
    assert np.abs(batched - truncated).max() > 1e-3


def test_landmarks_map_onto_template():
    faces = np.stack([apply_affine(invert_affine(similarity(s, a, x, y)), ARCFACE_TEMPLATE)
                      for s, a, x, y in [(0.5, 0.2, 10, 40), (2.0, -0.5, -30, 7)]])
    mats = arcface_matrices(faces)
    np.testing.assert_allclose(apply_affine(mats, faces), np.broadcast_to(ARCFACE_TEMPLATE, faces.shape), atol=1e-9)
    half = arcface_matrices(faces, size=56)
    np.testing.assert_allclose(apply_affine(half, faces), np.broadcast_to(ARCFACE_TEMPLATE / 2, faces.shape), atol=1e-9)


def skimage_reference(image: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    inverse = np.vstack([invert_affine(mat), [0, 0, 1]])
    out = warp(image.astype(np.float64), inverse, output_shape=(size, size), order=1, mode="constant", cval=0,
               preserve_range=True)
    return np.round(out)


def test_warp_matches_skimage_across_images_of_different_sizes():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:120, 0:90]
    smooth = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.uint8)  # gradients show sub-pixel errors
    images = [smooth, rng.integers(0, 256, (120, 90, 3), dtype=np.uint8), rng.integers(0, 256, (64, 70, 3), np.uint8)]
    image_index = np.array([0, 2, 0, 1, 0, 2])
    landmarks = rng.uniform(5, 60, (6, 5, 2))
    mats = arcface_matrices(landmarks)
    chips = warp_affine_batch(images, image_index, mats, 112)
    assert chips.shape == (6, 112, 112, 3) and chips.dtype == np.uint8
    for chip, i, mat in zip(chips, image_index, mats):
        ref = skimage_reference(images[i], mat, 112)
        diff = np.abs(chip.astype(float) - ref)
        assert diff.max() <= 1 and diff.mean() < 0.01


def test_warp_puts_landmark_blobs_on_template_and_pads_with_zero():
    h, w = 200, 300
    landmarks = apply_affine(invert_affine(similarity(0.8, 0.4, -20, -15)), ARCFACE_TEMPLATE)
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w), float)
    for x, y in landmarks:
        image += 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    image = np.repeat(np.clip(image, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    chip = warp_affine_batch([image], np.zeros(1, int), arcface_matrices(landmarks[None]), 112)[0, ..., 0]
    for tx, ty in ARCFACE_TEMPLATE:
        x0, y0 = int(round(tx)), int(round(ty))
        patch = chip[y0 - 4 : y0 + 5, x0 - 4 : x0 + 5]
        peak = np.unravel_index(np.argmax(patch), patch.shape)
        assert abs(peak[0] - 4) <= 1 and abs(peak[1] - 4) <= 1
    # a face near the corner: the part of the chip outside the image is exactly 0
    corner = apply_affine(invert_affine(similarity(1.0, 0.0, 40, 40)), ARCFACE_TEMPLATE)
    chip = warp_affine_batch([np.full((100, 100, 3), 200, np.uint8)], [0], arcface_matrices(corner[None]), 112)[0]
    assert (chip[:38, :38] == 0).all() and (chip[45:, 45:] == 200).all()


def test_warp_empty_and_bad_index():
    img = np.zeros((10, 10, 3), np.uint8)
    assert warp_affine_batch([img], np.zeros(0, int), np.zeros((0, 2, 3)), 112).shape == (0, 112, 112, 3)
    with pytest.raises(IndexError):
        warp_affine_batch([img], [3], np.eye(2, 3)[None], 112)

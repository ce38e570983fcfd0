"""hyp_face.video.orientation: display-matrix parsing, image rotation and box mapping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hyp_face.video import Orientation, rotate_boxes
from hyp_face.video.orientation import apply_orientation, orientation_from_display_matrix

ALL = [Orientation(r, f) for r, f in itertools.product((0, 90, 180, -90), (False, True))]


def display_matrix(rotation: int, hflip: bool) -> bytes:
    """FFmpeg av_display_rotation_set(-rotation) (+ av_display_matrix_flip), written independently."""
    theta = np.radians(rotation)
    cos, sin = round(np.cos(theta)), round(np.sin(theta))
    m = np.array([cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 14], dtype=np.int64)
    m[:2] *= 1 << 16
    m[3:5] *= 1 << 16
    if hflip:
        m[[0, 3, 6]] *= -1
    return m.astype("<i4").tobytes()


@pytest.mark.parametrize("orient", ALL)
def test_display_matrix_parsing(orient):
    assert orientation_from_display_matrix(display_matrix(orient.rotation, orient.hflip)) == orient


@pytest.mark.parametrize("orient", ALL)
def test_rotate_boxes_follows_the_image(orient):
    stored_w, stored_h = 40, 24
    box = np.array([[3, 5, 17, 11]], np.float32)
    mask = np.zeros((stored_h, stored_w, 1), np.uint8)
    mask[5:11, 3:17] = 1
    shown = apply_orientation(mask, orient)[:, :, 0]
    ys, xs = np.nonzero(shown)
    expected = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    mapped = rotate_boxes(box, orient, stored_w, stored_h)
    np.testing.assert_allclose(mapped[0], expected)
    assert shown.shape[::-1] == orient.display_size(stored_w, stored_h)
    back = rotate_boxes(mapped, orient.rotation, stored_w, stored_h, hflip=orient.hflip, inverse=True)
    np.testing.assert_allclose(back, box)


def test_identity_returns_the_same_array():
    image = np.zeros((4, 6, 3), np.uint8)
    assert apply_orientation(image, Orientation()) is image

"""Display orientation of stored frames: display matrix / EXIF -> rotation + mirror, for images and boxes.

Convention: ``Orientation(rotation, hflip)`` turns a *stored* frame into the *displayed* frame by first rotating it
``rotation`` degrees counter-clockwise (a multiple of 90, in (-180, 180]; the sign convention of PyAV's
``VideoFrame.rotation`` and ``VideoStream.set_display_rotation``) and then, when ``hflip``, mirroring it left-right.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# EXIF orientation tag -> (rotation ccw, hflip); 1 = as stored.
_EXIF = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
         5: (-90, True), 6: (-90, False), 7: (90, True), 8: (90, False)}


@dataclass(frozen=True)
class Orientation:
    """Stored -> displayed transform: rotate ``rotation`` degrees counter-clockwise, then mirror if ``hflip``."""

    rotation: int = 0
    hflip: bool = False

    @property
    def quarter_turns(self) -> int:
        """Number of counter-clockwise quarter turns (0..3)."""
        return (self.rotation // 90) % 4

    @property
    def is_identity(self) -> bool:
        return self.quarter_turns == 0 and not self.hflip

    def inverse(self) -> Orientation:
        """Displayed -> stored transform (a mirrored orientation is its own inverse)."""
        return self if self.hflip else Orientation(_normalise(-self.rotation), False)

    def display_size(self, stored_w: int, stored_h: int) -> tuple[int, int]:
        """(width, height) of the displayed frame."""
        return (stored_h, stored_w) if self.quarter_turns % 2 else (stored_w, stored_h)


def _normalise(degrees: float) -> int:
    """Nearest multiple of 90 in (-180, 180]."""
    quarter = round(degrees / 90) % 4
    return {0: 0, 1: 90, 2: 180, 3: -90}[quarter]


def orientation_from_display_matrix(matrix: bytes | np.ndarray) -> Orientation:
    """Orientation from FFmpeg's 3x3 ``DISPLAYMATRIX`` (nine int32, 16.16 fixed point, row-vector convention).

    A point (p, q) of the stored frame goes to (a p + c q, b p + d q) with a, b, c, d = m[0], m[1], m[3], m[4].
    A negative determinant means a mirror; angles that are not multiples of 90 are rounded (with a warning).
    """
    m = np.frombuffer(bytes(matrix), dtype="<i4").astype(np.float64) if not isinstance(matrix, np.ndarray) \
        else np.asarray(matrix, dtype=np.float64).ravel()
    if m.size != 9:
        raise ValueError(f"display matrix must have 9 entries, got {m.size}")
    a, b, c, d = m[0], m[1], m[3], m[4]
    hflip = a * d - b * c < 0
    if hflip:  # undo the final mirror p -> -p, which negated the coefficients of p'
        a, c = -a, -c
    if a == 0 and b == 0:
        return Orientation()
    degrees = math.degrees(math.atan2(-b, a))
    rotation = _normalise(degrees)
    if abs(degrees - rotation) > 1 and abs(abs(degrees - rotation) - 360) > 1:
        log.warning("display matrix rotation %.1f deg is not a multiple of 90; using %d", degrees, rotation)
    return Orientation(rotation, bool(hflip))


def orientation_from_exif(tag: int | None) -> Orientation:
    """Orientation from the EXIF orientation tag (1-8); unknown or missing -> identity."""
    rotation, hflip = _EXIF.get(int(tag) if tag else 1, (0, False))
    return Orientation(rotation, hflip)


def frame_orientation(frame) -> Orientation:
    """The display orientation of a decoded PyAV frame, from its ``DISPLAYMATRIX`` side data (none: upright)."""
    matrix = frame.side_data.get("DISPLAYMATRIX")
    return orientation_from_display_matrix(bytes(matrix)) if matrix is not None else Orientation()


def apply_orientation(image: np.ndarray, orientation: Orientation) -> np.ndarray:
    """Stored HWC image -> displayed image (C-contiguous; the input itself when the orientation is identity)."""
    if orientation.is_identity:
        return image
    out = np.rot90(image, k=orientation.quarter_turns, axes=(0, 1))
    if orientation.hflip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _transform_points(x: np.ndarray, y: np.ndarray, orientation: Orientation,
                      width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """Map continuous pixel coordinates of a width x height frame through ``orientation``."""
    turns = orientation.quarter_turns
    if turns == 1:
        x, y = y, width - x
    elif turns == 2:
        x, y = width - x, height - y
    elif turns == 3:
        x, y = height - y, x
    if orientation.hflip:
        out_w = height if turns % 2 else width
        x = out_w - x
    return x, y


def rotate_boxes(boxes: np.ndarray, rotation: int | Orientation, stored_w: int, stored_h: int,
                 hflip: bool = False, inverse: bool = False) -> np.ndarray:
    """Map (N,4) x1,y1,x2,y2 boxes from the stored to the displayed frame (``inverse=True``: displayed -> stored).

    ``rotation``/``hflip`` describe the stored -> displayed transform (see ``Orientation``); ``stored_w`` and
    ``stored_h`` are the stored frame's size whichever direction is asked. Coordinates are continuous pixel
    coordinates (0..W), so a box covering the whole frame maps to the whole frame.
    """
    orient = rotation if isinstance(rotation, Orientation) else Orientation(_normalise(rotation), hflip)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = float(stored_w), float(stored_h)
    if inverse:
        width, height = orient.display_size(stored_w, stored_h)
        orient = orient.inverse()
    x1, y1 = _transform_points(boxes[:, 0], boxes[:, 1], orient, width, height)
    x2, y2 = _transform_points(boxes[:, 2], boxes[:, 3], orient, width, height)
    out = np.stack([np.minimum(x1, x2), np.minimum(y1, y2), np.maximum(x1, x2), np.maximum(y1, y2)], axis=1)
    return out.astype(np.float32)

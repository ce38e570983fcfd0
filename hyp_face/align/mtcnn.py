"""MTCNN "refine only" re-alignment inside detector boxes (docs/original_recipe.md §5.4, v0.1 alignment), batched over faces.

For each detector box (truncated to int, inclusive) the crop ``frame[y1:y2+1, x1:x2+1]`` is the MTCNN image and the
whole crop ``[0, 0, W, H]`` the single candidate window (insightface ``detect_face(det_type=1)``):

1. R-Net on the window resized to 24x24: keep if P(face) > ``rnet_threshold`` (0.0); box regression; square; round.
2. O-Net on that box at 48x48: keep if P(face) > ``onet_threshold`` (0.2, lowered to the detector threshold when
   that is smaller); 5 landmarks relative to the box; box regression. (MTCNN's NMS "Min" 0.7 is a no-op with one
   candidate per face.)
3. L-Net (``accurate_landmark``): a square patch of 1/4 of the box side around each landmark, resized to 24x24;
   offsets larger than 0.35 of the patch are ignored.

Patches are cut as MTCNN does: zero outside the crop, resized like ``cv2.resize`` (bilinear, half-pixel centres, no
antialiasing); input ``(pixel - 127.5) / 128`` on BGR. All faces of a batch run through each net together.
Landmarks come back as floats in frame coordinates (``truncate=True`` reproduces the reference's int32 cast).
Faces MTCNN rejects get the detector's landmarks when ``fallback`` is on (docs/original_recipe.md §5.4 step 3), and are flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hyp_face.detect.mtcnn import calibrate_boxes, mtcnn_normalise
from hyp_face.formats.mxnet_symbol import build_mxnet_model, checkpoint_paths

log = logging.getLogger(__name__)

MTCNN_EPOCH = 1
_CANVAS_PIXELS = 16 * 1024 * 1024  # float32 crop pixels (x3 channels) held at once


@dataclass
class RefineResult:
    """Landmarks (M,5,2) float32 in frame coordinates, ``ok`` (M,) MTCNN kept the face, its O-Net score."""

    landmarks: np.ndarray
    ok: np.ndarray
    scores: np.ndarray


def _model_prefix(model_dir: Path, k: int) -> Path:
    """``det{k}`` (insightface ``mtcnn-model``) or ``mtcnn-det{k}`` inside ``model_dir``."""
    for name in (f"det{k}", f"mtcnn-det{k}"):
        if checkpoint_paths(model_dir / name, MTCNN_EPOCH)[0].is_file():
            return model_dir / name
    raise FileNotFoundError(f"MTCNN net det{k} not found in {model_dir} (det{k}-symbol.json / det{k}-0001.params)")


def crop_resize(canvas: torch.Tensor, boxes: torch.Tensor, size: int, round_uint8: bool = False) -> torch.Tensor:
    """``cv2.resize`` to size x size of zero-padded integer boxes (N,K,4 inclusive x1,y1,x2,y2) of ``canvas``
    (N,C,H,W); returns (N,K,C,size,size).

    Box pixel (r, c) is canvas pixel (y1 + r, x1 + c), zero outside the canvas; sample positions are clamped to the
    box as cv2 clamps to the patch border.
    """
    n, channels, height, width = canvas.shape
    k = boxes.shape[1]
    steps = (torch.arange(size, dtype=torch.float64, device=canvas.device) + 0.5) / size
    box = boxes.to(torch.float64)[..., None]  # (N,K,4,1)
    box_w, box_h = box[:, :, 2] - box[:, :, 0] + 1, box[:, :, 3] - box[:, :, 1] + 1  # (N,K,1)
    xs = torch.minimum((steps * box_w - 0.5).clamp(min=0), box_w - 1) + box[:, :, 0]  # (N,K,S)
    ys = torch.minimum((steps * box_h - 0.5).clamp(min=0), box_h - 1) + box[:, :, 1]
    gx = ((2 * xs + 1) / width - 1)[:, None, :, :].expand(n, size, k, size)  # align_corners=False pixel centres
    gy = ((2 * ys + 1) / height - 1).permute(0, 2, 1)[:, :, :, None].expand(n, size, k, size)
    grid = torch.stack([gx, gy], dim=-1).reshape(n, size, k * size, 2).to(canvas.dtype)
    out = F.grid_sample(canvas, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.reshape(n, channels, size, k, size).permute(0, 3, 1, 2, 4)
    return out.round().clamp(0, 255) if round_uint8 else out


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """MTCNN ``convert_to_square``: the square of the longer side around the box centre, then rounded."""
    wh = boxes[:, 2:] - boxes[:, :2] + 1
    side = wh.max(dim=1, keepdim=True).values
    x1y1 = boxes[:, :2] + wh * 0.5 - side * 0.5
    return torch.cat([x1y1, x1y1 + side - 1], dim=1).round()


class MTCNNRefiner:
    """R-Net + O-Net + L-Net of MXNet MTCNN (det2-det4) run by the symbol interpreter."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "cpu",
        rnet_threshold: float = 0.0,
        onet_threshold: float = 0.2,
        accurate_landmark: bool = True,
        truncate: bool = False,
        batch_size: int = 256,
    ):
        model_dir = Path(model_dir)
        self.device = torch.device(device)
        self.nets = {k: build_mxnet_model(*checkpoint_paths(_model_prefix(model_dir, k), MTCNN_EPOCH),
                                          device=self.device) for k in (2, 3, 4)}
        self.rnet_threshold = rnet_threshold
        self.onet_threshold = onet_threshold
        self.accurate_landmark = accurate_landmark
        self.truncate = truncate
        self.batch_size = batch_size

    def refine(
        self,
        images: Sequence[np.ndarray],
        image_index: np.ndarray,
        boxes: np.ndarray,
        det_threshold: float | None = None,
    ) -> RefineResult:
        """MTCNN landmarks of M faces; ``boxes`` (M,4) in the RGB image ``images[image_index[i]]``."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        image_index = np.asarray(image_index, dtype=np.int64).reshape(-1)
        onet_thr = self.onet_threshold if det_threshold is None else min(self.onet_threshold, det_threshold)
        crops = [_crop_box(images[i], b) for i, b in zip(image_index, boxes)]
        landmarks = np.zeros((len(boxes), 5, 2), dtype=np.float32)
        ok = np.zeros(len(boxes), dtype=bool)
        scores = np.zeros(len(boxes), dtype=np.float32)
        for chunk in _chunks([c[0].shape for c in crops], self.batch_size):
            lms, keep, score = self._refine_crops([crops[i][0] for i in chunk], onet_thr)
            offsets = np.array([crops[i][1] for i in chunk], dtype=np.float64)
            landmarks[chunk] = lms + offsets[:, None, :]
            ok[chunk], scores[chunk] = keep, score
        if self.truncate:
            landmarks = np.trunc(landmarks)
        return RefineResult(landmarks, ok, scores)

    def align_landmarks(
        self,
        images: Sequence[np.ndarray],
        image_index: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray,
        det_threshold: float | None = None,
        fallback: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(landmarks, ok): MTCNN landmarks, the detector's ``landmarks`` where MTCNN failed (if ``fallback``).

        Without ``fallback`` the failed faces keep zero landmarks; ``ok`` says which faces MTCNN kept.
        """
        res = self.refine(images, image_index, boxes, det_threshold)
        out = res.landmarks.copy()
        if fallback:
            failed = ~res.ok
            out[failed] = np.asarray(landmarks, dtype=np.float32).reshape(-1, 5, 2)[failed]
            if failed.any():
                log.debug("MTCNN rejected %d of %d faces: detector landmarks used", failed.sum(), len(failed))
        return out, res.ok

    @torch.inference_mode()
    def _refine_crops(self, crops: list[np.ndarray], onet_thr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Landmarks (n,5,2) in crop coordinates, kept flags and O-Net scores for n BGR-converted crops."""
        canvas = self._canvas(crops)
        sizes = torch.tensor([[c.shape[1], c.shape[0]] for c in crops], dtype=torch.float64, device=self.device)
        boxes = torch.cat([torch.zeros_like(sizes), sizes], dim=1)  # [0, 0, W, H] as in det_type=1
        reg, prob = self.nets[2](mtcnn_normalise(crop_resize(canvas, boxes[:, None], 24, round_uint8=True)[:, 0]))
        alive = prob[:, 1].double() > self.rnet_threshold
        boxes = _square(calibrate_boxes(boxes, reg.double()))
        points, reg, prob = self.nets[3](mtcnn_normalise(crop_resize(canvas, boxes[:, None], 48)[:, 0]))
        score = prob[:, 1].double()
        alive &= score > onet_thr
        wh = boxes[:, 2:] - boxes[:, :2] + 1
        pts = torch.stack([points[:, :5].double(), points[:, 5:].double()], dim=-1) * wh[:, None] + boxes[:, None, :2]
        boxes = calibrate_boxes(boxes, reg.double())
        if self.accurate_landmark:
            pts = self._lnet(canvas, boxes, pts)
        return pts.cpu().numpy(), alive.cpu().numpy(), score.float().cpu().numpy()

    def _lnet(self, canvas: torch.Tensor, boxes: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        """L-Net refinement of (n,5,2) landmarks around patches of 1/4 of the box side (made even)."""
        side = torch.maximum(boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1)
        patch = (side * 0.25).round()
        patch = patch + (patch % 2)
        corner = (pts - 0.5 * patch[:, None, None]).round()  # (n,5,2)
        patch_boxes = torch.cat([corner, corner + patch[:, None, None] - 1], dim=-1)  # (n,5,4)
        chips = crop_resize(canvas, patch_boxes, 24)  # (n,5,3,24,24)
        offsets = self.nets[4](mtcnn_normalise(chips).reshape(len(pts), 15, 24, 24))
        offsets = torch.stack([o.double() for o in offsets], dim=1)  # (n,5,2)
        offsets = torch.where((offsets - 0.5).abs().amax(-1, keepdim=True) > 0.35, 0.5, offsets)
        return corner + offsets * patch[:, None, None]

    def _canvas(self, crops: list[np.ndarray]) -> torch.Tensor:
        """BGR float canvas (n,3,Hmax,Wmax), each crop at the top-left, zero elsewhere."""
        height = max(c.shape[0] for c in crops)
        width = max(c.shape[1] for c in crops)
        canvas = torch.zeros((len(crops), 3, height, width), dtype=torch.float32, device=self.device)
        for i, crop in enumerate(crops):
            bgr = torch.from_numpy(np.ascontiguousarray(crop[:, :, ::-1])).to(self.device)
            canvas[i, :, : crop.shape[0], : crop.shape[1]] = bgr.permute(2, 0, 1).float()
        return canvas


def _crop_box(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """``image[y1:y2+1, x1:x2+1]`` of the box truncated to int and clipped; returns (crop, (x1, y1))."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in box)
    x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
    x2, y2 = min(max(x2, x1), width - 1), min(max(y2, y1), height - 1)
    return image[y1 : y2 + 1, x1 : x2 + 1], (x1, y1)


def _chunks(shapes: list[tuple], batch_size: int) -> list[np.ndarray]:
    """Face indices in groups of at most ``batch_size`` whose zero canvas stays within the pixel budget."""
    order = np.argsort([s[0] * s[1] for s in shapes], kind="stable")
    chunks, current, max_h, max_w = [], [], 0, 0
    for i in order:
        h, w = shapes[i][:2]
        new_h, new_w = max(max_h, h), max(max_w, w)
        if current and (len(current) >= batch_size or (len(current) + 1) * new_h * new_w > _CANVAS_PIXELS):
            chunks.append(np.array(current))
            current, new_h, new_w = [], h, w
        current.append(int(i))
        max_h, max_w = new_h, new_w
    if current:
        chunks.append(np.array(current))
    return chunks

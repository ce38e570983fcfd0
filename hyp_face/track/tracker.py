"""Online face tracker: the faces of consecutive sampled frames associated into tracks (rules: docs/tracks.md).

Association (per sampled frame): a Hungarian assignment (``scipy.optimize.linear_sum_assignment``) between the open
tracks and the frame's faces, maximising ``iou_weight * IoU + (1 - iou_weight) * c`` where IoU is that of the
face's box with the track's last box and ``c = (cos - min_cos) / (1 - min_cos)`` rescales the cosine of the face's
embedding with the track's mean embedding so that ``min_cos`` maps to 0 and 1 to 1 (the embedder's own scale).
A pair is admissible only when the face's cosine with the track's mean embedding and with its last face are both
``>= min_cos`` and ``IoU >= min_iou``; a face whose box does not continue the track's last box (no overlap, or a
size that changed by more than ``max_scale_step`` times: a jump, or a cut the frame histogram misses) also needs
``cos >= rejoin_cos``, the cosine at which the people clustering would join two tracks (docs/tracks.md).

Rules:

* **birth**: every face left unassigned starts a new track (ids increase from 0, never reused; the births of one
  frame are numbered by box position, so the order of the faces within a frame does not matter);
* **end**: a track ends when it has had no face for more than ``max_gap_s`` seconds, at a shot cut (every open
  track), when it has lasted ``max_track_s`` seconds (the person continues in a new track: memory stays bounded),
  and at the end of the stream (:meth:`FaceTracker.flush`);
* **kept**: an ended track is reported only when it has at least ``min_len`` faces; shorter ones are dropped and
  their faces get track -1.

Memory: only open tracks are held (a running sum of embeddings and the rows of their faces); ended tracks leave
memory when :meth:`FaceTracker.finished` hands them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..extract import box_match
from .people import DEFAULT_PEOPLE_AHC_THR
from .types import Track

NO_TRACK = -1
QUALITY_FACE_SIZE = 80.0  # pixels (short side of the box) at and above which size no longer lowers the quality


@dataclass
class TrackOptions:
    """Tracking hyper-parameters; the per-embedder ones come from the config (``track_*`` keys, docs/tracks.md)."""

    track_fps: float = 5.0  # sampled frames per second
    iou_weight: float = 0.5  # weight of the box IoU against the rescaled embedding cosine in the assignment
    min_iou: float = 0.0  # admissible pairs overlap at least this much (0: overlap is a preference only)
    min_cos: float = 0.32  # admissible pairs have at least this cosine (per embedder: track_min_cos of the config;
    # this default is that of a centred, ArcFace-like embedding: LFW impostor cosine at 1% FAR, mobilefacenet_mit)
    rejoin_cos: float = DEFAULT_PEOPLE_AHC_THR  # a face that does not continue the track's last box needs this
    # cosine (per embedder: people_ahc_thr of the config; recognition clusters the tracks into people at it too)
    max_scale_step: float = 2.0  # a face whose box side (square root of its area) differs from the track's last
    # box's by more than this factor does not continue it (a face does not grow or shrink 2x in one sampling step;
    # a close-up cut to a wide shot of the same stage does)
    max_gap_s: float = 1.0  # a track ends after more than this many seconds without a face
    min_len: int = 3  # faces for an ended track to be kept
    max_track_s: float = 300.0  # a track this long ends (and its person starts a new one): bounded memory
    cut_threshold: float = 0.3  # shot cut: colour-histogram distance of consecutive sampled frames (0..1); on
    # LFW no moved/zoomed photo exceeds 0.21 and 92% of pairs of different photos do exceed 0.3 (devparams)
    sharpness_ref: float = 150.0  # chip sharpness at and above which blur no longer lowers the face quality (per
    # embedder, whose chips differ: track_sharpness_ref of the config; this default is the median on LFW of
    # mobilefacenet_mit's 112 px ArcFace chips)

    def __post_init__(self) -> None:
        if self.track_fps <= 0:
            raise ValueError(f"track_fps must be positive, got {self.track_fps}")
        if not 0.0 <= self.iou_weight <= 1.0:
            raise ValueError(f"iou_weight must be in [0, 1], got {self.iou_weight}")
        if not -1.0 <= self.min_cos < 1.0:
            raise ValueError(f"min_cos must be in [-1, 1), got {self.min_cos}")
        if not -1.0 <= self.rejoin_cos <= 1.0:
            raise ValueError(f"rejoin_cos must be in [-1, 1], got {self.rejoin_cos}")
        if self.max_scale_step < 1.0:
            raise ValueError(f"max_scale_step must be at least 1, got {self.max_scale_step}")
        if self.min_len < 1 or self.max_gap_s < 0 or self.max_track_s <= 0 or self.sharpness_ref <= 0:
            raise ValueError(f"bad track options: min_len {self.min_len}, max_gap_s {self.max_gap_s}, "
                             f"max_track_s {self.max_track_s}, sharpness_ref {self.sharpness_ref}")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (M, 4) with every box of ``b`` (N, 4), x1 y1 x2 y2 -> (M, N)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return np.stack([box_match(b, row, "iou") for row in a]).reshape(len(a), len(b))


def box_side(boxes: np.ndarray) -> np.ndarray:
    """Square root of the area of each box (N, 4), x1 y1 x2 y2; at least 1e-6 (a degenerate box)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-12))


def face_quality(boxes: np.ndarray, scores: np.ndarray, sharpness: np.ndarray, sharpness_ref: float) -> np.ndarray:
    """Per-face quality in [0, 1]: detector score x size term x sharpness term (docs/tracks.md).

    The size term is ``min(1, short side / QUALITY_FACE_SIZE)``, the sharpness term
    ``min(1, sharpness / sharpness_ref)``; an unknown (NaN) sharpness counts as 1.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    size = np.clip(side / QUALITY_FACE_SIZE, 0.0, 1.0)
    sharp = np.clip(np.nan_to_num(np.asarray(sharpness, np.float64) / sharpness_ref, nan=1.0), 0.0, 1.0)
    return np.clip(np.asarray(scores, np.float64), 0.0, 1.0) * size * sharp


@dataclass
class _OpenTrack:
    """A track being followed: the rows of its faces, the running sum of their embeddings and the last one."""

    track_id: int
    embed_sum: np.ndarray
    last_embedding: np.ndarray | None = None
    face_index: list[int] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    box: list[np.ndarray] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)

    def add(self, face_index: int, frame: int, time: float, box: np.ndarray, score: float, embed: np.ndarray,
            quality: float) -> None:
        self.face_index.append(int(face_index))
        self.frame.append(int(frame))
        self.time.append(float(time))
        self.box.append(np.asarray(box, np.float32))
        self.score.append(float(score))
        self.quality.append(float(quality))
        self.embed_sum += embed
        self.last_embedding = np.array(embed, np.float64)  # a copy: the frame's array is not kept alive

    @property
    def mean_embedding(self) -> np.ndarray:
        return self.embed_sum / max(float(np.linalg.norm(self.embed_sum)), 1e-12)

    def to_track(self) -> Track:
        return Track(self.track_id, np.asarray(self.face_index, np.int64), np.asarray(self.frame, np.int64),
                     np.asarray(self.time, np.float64), np.stack(self.box).astype(np.float32),
                     np.asarray(self.score, np.float32), self.mean_embedding.astype(np.float32),
                     float(np.mean(self.quality)))


class FaceTracker:
    """Associates the faces of consecutive sampled frames into tracks; see the module docstring for the rules."""

    def __init__(self, opts: TrackOptions | None = None):
        self.opts = opts or TrackOptions()
        self._open: list[_OpenTrack] = []
        self._ended: list[Track] = []
        self._dropped: set[int] = set()  # ids of ended tracks too short to keep, until ``forget_dropped``
        self._next_id = 0
        self._last_time = -np.inf

    # -- state ------------------------------------------------------------------------------------------------
    def status(self, track_id: int) -> str:
        """``"pending"`` (open with fewer than ``min_len`` faces: it may yet be dropped), ``"dropped"`` (ended
        with fewer; -1 too) or ``"kept"`` (every other id: it has, or ended with, ``min_len`` faces)."""
        if track_id == NO_TRACK or track_id in self._dropped:
            return "dropped"
        for t in self._open:
            if t.track_id == track_id:
                return "kept" if len(t.frame) >= self.opts.min_len else "pending"
        return "kept"

    def forget_dropped(self, track_ids) -> None:
        """Forget dropped ids the caller has resolved (keeps the dropped set bounded)."""
        self._dropped.difference_update(int(t) for t in track_ids)

    # -- ending -----------------------------------------------------------------------------------------------
    def _end(self, tracks: list[_OpenTrack]) -> None:
        for t in tracks:
            if len(t.frame) >= self.opts.min_len:
                self._ended.append(t.to_track())
            else:
                self._dropped.add(t.track_id)
        ended = {id(t) for t in tracks}
        self._open = [t for t in self._open if id(t) not in ended]

    def _end_stale(self, time: float) -> None:
        """End the tracks without a face for more than ``max_gap_s`` or older than ``max_track_s``."""
        o = self.opts
        self._end([t for t in self._open
                   if time - t.time[-1] > o.max_gap_s + 1e-9 or time - t.time[0] >= o.max_track_s - 1e-9])

    def finished(self) -> list[Track]:
        """The kept tracks that ended since the last call, in the order they ended; they leave memory."""
        out, self._ended = self._ended, []
        return out

    def flush(self) -> list[Track]:
        """End every open track (end of stream) and return all kept tracks not yet handed over."""
        self._end(list(self._open))
        return self.finished()

    # -- association ------------------------------------------------------------------------------------------
    def _assign(self, boxes: np.ndarray, embeds: np.ndarray) -> dict[int, int]:
        """Face row -> position in ``self._open``, by a Hungarian assignment on the admissible pairs."""
        if not self._open or not len(boxes):
            return {}
        o = self.opts
        last = np.stack([t.box[-1] for t in self._open])
        iou = box_iou(last, boxes)
        scale = box_side(last)[:, None] / box_side(boxes)[None, :]
        continues = (iou > 0) & (scale <= o.max_scale_step) & (scale >= 1.0 / o.max_scale_step)
        faces = embeds.T.astype(np.float64)
        cos = np.stack([t.mean_embedding for t in self._open]) @ faces
        cos_last = np.stack([t.last_embedding for t in self._open]) @ faces
        gain = o.iou_weight * iou + (1.0 - o.iou_weight) * (cos - o.min_cos) / (1.0 - o.min_cos)
        admissible = ((cos >= o.min_cos) & (cos_last >= o.min_cos) & (iou >= o.min_iou)
                      & (continues | (cos >= o.rejoin_cos)))
        cost = np.where(admissible, -gain, 1e6)
        rows, cols = linear_sum_assignment(cost)
        return {int(c): int(r) for r, c in zip(rows, cols) if admissible[r, c]}

    def update(self, time: float, frame: int, boxes: np.ndarray, scores: np.ndarray, embeds: np.ndarray,
               face_index: np.ndarray, cut: bool = False, sharpness: np.ndarray | None = None) -> np.ndarray:
        """Associate the faces of one sampled frame; returns the track id of each face.

        ``boxes`` (N, 4) x1 y1 x2 y2, ``scores`` (N,), ``embeds`` (N, D) L2-normalised, ``face_index`` (N,) the
        faces' rows in the video's store, ``sharpness`` (N,) of the aligned chips (NaN or None: unknown).
        ``cut``: a shot cut precedes this frame, which ends every open track first. Times must not decrease.
        """
        if time < self._last_time:
            raise ValueError(f"frame {frame}: time {time} is before the previous frame's {self._last_time}")
        self._last_time = time
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        embeds = np.asarray(embeds, np.float32)
        if embeds.ndim != 2 or len(embeds) != len(boxes):
            raise ValueError(f"frame {frame}: {len(boxes)} boxes but embeddings of shape {embeds.shape}")
        sharpness = np.full(len(boxes), np.nan) if sharpness is None else np.asarray(sharpness, np.float64)
        if cut:
            self._end(list(self._open))
        self._end_stale(time)
        assigned = self._assign(boxes, embeds)
        quality = face_quality(boxes, scores, sharpness, self.opts.sharpness_ref)
        ids = np.empty(len(boxes), np.int64)
        for i in _births_first(boxes, assigned):
            if i in assigned:
                track = self._open[assigned[i]]
            else:
                track = _OpenTrack(self._next_id, np.zeros(embeds.shape[1], np.float64))
                self._next_id += 1
                self._open.append(track)
            track.add(face_index[i], frame, time, boxes[i], scores[i], embeds[i], quality[i])
            ids[i] = track.track_id
        return ids


def _births_first(boxes: np.ndarray, assigned: dict[int, int]) -> list[int]:
    """Face rows in the order they are added: assigned ones, then the unassigned ones (births) by box position
    (x1, then y1, x2, y2), so that track ids do not depend on the order of the faces within a frame."""
    born = [i for i in range(len(boxes)) if i not in assigned]
    born.sort(key=lambda i: tuple(boxes[i]))
    return [i for i in range(len(boxes)) if i in assigned] + born

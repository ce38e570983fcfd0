"""Embedding extraction: video -> frames -> faces -> embeddings, for one job of a data dir.

Two modes (docs/original_recipe.md §5.6 / 5.7):

* ``facedet``: every face of every frame sampled at ``fps`` (presentation timestamps);
* ``ref``: bbox-guided enrollment references, one face per frame of the windows around annotated instants,
  chosen by its match with the annotated box (IoU by default, coverage of the reference box as the original).

Threshold back-off (docs/original_recipe.md §5.6/5.7, docs/original_recipe.md W19): the detector runs once per frame at the lowest threshold of the
schedule; the video's threshold is the highest one of the schedule that yields at least ``min_faces`` faces.
Greedy NMS only lets a box be suppressed by higher-scoring boxes, so filtering the low-threshold NMS output at a
higher threshold is exactly NMS at that threshold. Faces at the starting threshold are embedded while streaming;
only if the video has none there is it decoded a second time at the backed-off threshold, so memory stays bounded
(frames are never all held).

Memory: decoded frames wait in a queue bounded in bytes (``prefetch_mb``), a detector batch holds at
most that much too, and a frame's full-resolution pixels are released as soon as its faces are aligned: what waits
for the recognizer are the aligned chips, so the peak is independent of the video's length.

Threads: frames are decoded ahead in one thread; detector batches and groups of faces run in worker threads
(torch and PyAV release the GIL, so on two cores they overlap). On the CPU two of each run side by side where the
cores allow (:func:`cpu_workers`): whichever stage has a backlog takes the core the other leaves, instead of one
thread being the critical path while a core idles (one-face clips waited on detection, crowds on embedding).
Frames and faces come out in their order. Groups are cut from the order of the faces alone, never from timing,
and each worker has the caller's torch threads, so the embeddings are the same bits as in one thread; detector
batches hold frames of one padded size, whose detections do not depend on the batch. At most one batch or group
per worker is in flight.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from .detect import Detections, FaceDetector
from .detect.backoff import backoff_threshold
from .align.mtcnn import MTCNNRefiner
from .embed.base import Embedder, chip_sharpness  # noqa: F401 (chip_sharpness: re-exported, one definition)
from .io.embed_store import STATUS_VIDEO_ERROR, FaceMeta
from .io.table import atomic_write
from .cli import usable_cores
from .video import Frame, VideoError, sample_frames, window_frames
from .video.prefetch import prefetch_batches

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
CPU_WORKERS = 2  # detector batches, and face groups, run at once on the CPU (see cpu_workers)


def threshold_schedule(start: float, stop: float = 0.1, step: float = 0.1) -> list[float]:
    """Thresholds ``start, start-step, ...`` down to ``stop`` inclusive, without floating drift."""
    n = int(np.floor((start - stop) / step + 1e-6)) + 1
    return [round(start - k * step, 6) for k in range(max(n, 1))]


@dataclass
class ExtractOptions:
    """How faces are sampled, detected and selected in one video."""

    mode: str = "facedet"  # "facedet" | "ref"
    fps: float = 1.0
    max_frames: int | None = None
    thresholds: Sequence[float] = field(default_factory=lambda: threshold_schedule(0.9))
    min_faces: int = 1
    batch_size: int = 4  # frames per detector batch (on CUDA build_extractor makes it 16): on the CPU the network
    # sees about 1 Mpx a call anyway (2 frames of 800x450), and small batches keep both workers busy to the end
    face_batch_size: int = 8  # faces aligned and embedded together (on CUDA build_extractor makes it 64): small
    # groups let the embedding workers start while the next frames are detected (dlib on 1 CPU thread: 12.2 ms a
    # face in groups of 8, 11.7 in groups of 16, 13.7 in groups of 4)
    prefetch_mb: float = 64  # MiB of decoded frames ahead (thread) and per detector batch (0: decode inline)
    det_window: int = 21
    time_in_secs: bool = False
    match: str = "iou"  # "iou" | "coverage"
    match_thr: float = 0.001


@dataclass
class VideoFaces:
    """The embeddings of one video, their metadata and the outcome."""

    embeds: np.ndarray
    meta: FaceMeta
    status: str = "ok"
    threshold: float | None = None


@dataclass
class FrameFaces:
    """The faces of one frame at the extraction threshold (streaming mode, :meth:`FaceExtractor.stream_faces`)."""

    frame: Frame
    meta: FaceMeta  # per face: frame, time, box, score, landmarks, raw norm, chip sharpness (track not set)
    embeds: np.ndarray  # (N, D) float32, L2-normalised
    det_scores: np.ndarray  # scores of every detection at the lowest scheduled threshold (for the back-off)


@dataclass
class _Candidate:
    """One detected face kept for embedding."""

    frame: Frame
    box: np.ndarray
    score: float
    landmarks: np.ndarray
    match: float = 1.0
    chip: np.ndarray | None = None  # the aligned face, from alignment (frame pixels released) to embedding
    norm: float = float("nan")  # raw embedding norm and chip sharpness, set when embedded
    sharpness: float = float("nan")


def box_match(boxes: np.ndarray, ref: np.ndarray, how: str) -> np.ndarray:
    """IoU of each box with ``ref``, or the fraction of ``ref`` covered by each box (the original's rule)."""
    x1 = np.maximum(boxes[:, 0], ref[0])
    y1 = np.maximum(boxes[:, 1], ref[1])
    x2 = np.minimum(boxes[:, 2], ref[2])
    y2 = np.minimum(boxes[:, 3], ref[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_ref = max((ref[2] - ref[0]) * (ref[3] - ref[1]), 1e-9)
    if how == "coverage":
        return inter / area_ref
    if how != "iou":
        raise ValueError(f"unknown box match {how!r} (iou or coverage)")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + area_ref - inter, 1e-9)


def _select_facedet(frame: Frame, det: Detections, thr: float) -> list[_Candidate]:
    """Every face of the frame at or above ``thr``."""
    det = det.above(thr)
    return [_Candidate(frame, b, float(s), l) for b, s, l in zip(det.boxes, det.scores, det.landmarks)]


def _select_ref(frame: Frame, det: Detections, thr: float, refs: np.ndarray, how: str, min_match: float) -> list[_Candidate]:
    """The detection that best matches the annotated box of the frame's window (docs/original_recipe.md §5.7, IoU fixes 18)."""
    det = det.above(thr)
    if not len(det) or frame.window < 0:
        return []
    match = box_match(det.boxes, refs[frame.window], how)
    k = int(np.argmax(match))
    if match[k] < min_match:
        return []
    return [_Candidate(frame, det.boxes[k], float(det.scores[k]), det.landmarks[k], float(match[k]))]


class FaceExtractor:
    """Runs detector and embedder over videos, batching frames for detection and faces for embedding."""

    def __init__(self, detector: FaceDetector, embedder: Embedder, opts: ExtractOptions,
                 refiner: MTCNNRefiner | None = None):
        self.detector = detector
        self.embedder = embedder
        self.opts = opts
        self.refiner = refiner  # MTCNN re-alignment inside the detector boxes (v0.1); None: detector landmarks
        self.debug_dir: Path | None = None  # when set, aligned chips are saved as <dir>/<key>/<frame>-<face>.jpeg
        self._key = ""

    # -- frames ---------------------------------------------------------------------------------------------
    def _frames(self, path: str, instants: Sequence[float] | None) -> Iterator[Frame]:
        if self.opts.mode == "ref":
            return window_frames(path, instants, self.opts.det_window, self.opts.time_in_secs)
        return sample_frames(path, fps=self.opts.fps, max_frames=self.opts.max_frames)

    def _detections(self, path: str, instants) -> Iterator[tuple[list[Frame], list[Detections]]]:
        return self.detect_batches(self._frames(path, instants))

    def detect_batches(self, frames: Iterable[Frame]) -> Iterator[tuple[list[Frame], list[Detections]]]:
        """(frames, their detections at the lowest scheduled threshold), batch by batch.

        Decoding runs ahead in a thread and overlaps detection; batches take the frames already decoded, up to
        ``batch_size`` frames and ``prefetch_mb`` of pixels (the same bound holds the frames waiting), and are
        detected by :func:`cpu_workers` threads, at most one batch each and ``prefetch_mb`` of frames in all at a
        time (a batch over the budget alone: an 8K frame is detected by one worker while the others wait).
        """
        lowest = min(self.opts.thresholds)
        budget = int(self.opts.prefetch_mb * 2**20)
        workers = cpu_workers(self.detector)
        batches = prefetch_batches(frames, self.opts.batch_size, budget, _frame_bytes)
        jobs = ((batch, partial(self.detector.detect, [f.image for f in batch], threshold=lowest)) for batch in batches)
        with _worker_pool(workers, "detect") as pool:
            yield from _in_order(pool, jobs, workers, lambda batch: sum(map(_frame_bytes, batch)), budget)

    def detect_frames(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, Detections]]:
        """Each frame with its detections at the lowest scheduled threshold, detected in batches."""
        for batch, dets in self.detect_batches(frames):
            yield from zip(batch, dets)

    # -- selection ------------------------------------------------------------------------------------------
    def _selector(self, refs: np.ndarray | None) -> Callable[[Frame, Detections, float], list[_Candidate]]:
        if self.opts.mode == "ref":
            return lambda f, d, t: _select_ref(f, d, t, refs, self.opts.match, self.opts.match_thr)
        return _select_facedet

    # -- embedding ------------------------------------------------------------------------------------------
    def _embed(self, cands: list[_Candidate], thr: float) -> np.ndarray:
        """The embeddings of the candidates (aligned here where not yet); their chips are then dropped."""
        if not cands:
            return np.zeros((0, self.embedder.dim), np.float32)
        self._keep_chips([c for c in cands if c.chip is None], thr)
        out = self.embedder.embed_with_quality(np.stack([c.chip for c in cands]))
        for c, norm, sharpness in zip(cands, out.norm.tolist(), out.sharpness.tolist()):
            c.chip, c.norm, c.sharpness = None, norm, sharpness  # embedded: nothing of the face's pixels is kept
        return out.embeds

    def _keep_chips(self, cands: list[_Candidate], thr: float) -> None:
        """Align the candidates and keep their chips; their frames lose their pixels (freed once unreferenced)."""
        if not cands:
            return
        bare: dict[int, Frame] = {}
        for c, chip in zip(cands, self._align(cands, thr)):
            c.frame, c.chip = bare.setdefault(id(c.frame), _without_pixels(c.frame)), chip

    def _align(self, cands: list[_Candidate], thr: float) -> np.ndarray:
        """The aligned chips of the candidates (at least one), in one batched warp across frames.

        With an MTCNN refiner, its landmarks replace the detector's (per face, the detector's are kept where
        MTCNN rejects the face: the docs/original_recipe.md §5.4 fallback, applied face by face instead of video by video).
        """
        frames = list({id(c.frame): c.frame for c in cands}.values())
        slot = {id(f): i for i, f in enumerate(frames)}
        index = np.array([slot[id(c.frame)] for c in cands])
        images = [f.image for f in frames]
        boxes, lmks = np.stack([c.box for c in cands]), np.stack([c.landmarks for c in cands])
        if self.refiner is not None:
            lmks, _ = self.refiner.align_landmarks(images, index, boxes, lmks, det_threshold=thr)
            for c, lmk in zip(cands, lmks):
                c.landmarks = lmk
        chips = self.embedder.align_many(images, index, boxes, lmks)
        if self.debug_dir is not None:
            for i, f in enumerate(frames):
                _save_chips(self.debug_dir / self._key, f.index, chips[index == i])
        return chips

    def _collect(self, path: str, instants, refs, thr: float, scores_out: list[np.ndarray] | None) -> tuple[list[_Candidate], np.ndarray]:
        """Stream the video once; embed the faces selected at ``thr``. Optionally keep all frame scores.

        Faces are aligned batch by batch as detected (the frames are then released); the chips wait for the
        recognizer in groups of ``face_batch_size``. With an MTCNN refiner, alignment waits for the group (the
        refiner's batches change its landmarks in the last bits, so they stay as they were; frames are then held).
        """
        workers = cpu_workers(self.embedder)
        groups = self._face_groups(path, instants, refs, thr, scores_out)
        with _worker_pool(workers, "embed") as pool:
            done = list(_in_order(pool, ((g, partial(self._embed, g, thr)) for g in groups), workers))
        return [c for group, _ in done for c in group], np.concatenate([embeds for _, embeds in done])

    def _face_groups(self, path: str, instants, refs, thr: float,
                     scores_out: list[np.ndarray] | None) -> Iterator[list[_Candidate]]:
        """The faces selected at ``thr`` in groups of ``face_batch_size`` (the last one smaller, maybe empty),
        aligned batch by batch as detected unless an MTCNN refiner aligns them with their group."""
        select = self._selector(refs)
        pending: list[_Candidate] = []
        for frames, dets in self._detections(path, instants):
            if scores_out is not None:
                scores_out.extend(self._frame_scores(f, d, refs) for f, d in zip(frames, dets))
            per_frame = [select(f, d, thr) for f, d in zip(frames, dets)]
            if self.refiner is None:
                self._keep_chips([c for faces in per_frame for c in faces], thr)
            for faces in per_frame:
                pending.extend(faces)
                if len(pending) >= self.opts.face_batch_size:
                    yield pending
                    pending = []
        yield pending

    def _frame_scores(self, frame: Frame, det: Detections, refs) -> np.ndarray:
        """Scores of the faces of a frame that could be selected at some threshold."""
        if self.opts.mode != "ref":
            return det.scores
        if frame.window < 0 or not len(det.scores):
            return det.scores[:0]
        match = box_match(det.boxes, refs[frame.window], self.opts.match)
        return det.scores[match >= self.opts.match_thr]

    def _backoff_threshold(self, frame_scores: list[np.ndarray]) -> float | None:
        """Highest scheduled threshold at which the video yields ``min_faces`` faces.

        facedet counts every face above the threshold; ref counts frames with a matching face above it
        (one face per frame).
        """
        return backoff_threshold(frame_scores, self.opts.thresholds, self.opts.min_faces, self.opts.mode == "ref")

    # -- streaming, frame by frame (face tracks) -------------------------------------------------------------
    def stream_faces(self, frames: Iterable[Frame], threshold: float) -> Iterator[FrameFaces]:
        """The faces of each frame at ``threshold``, in frame order, embedded in batches across frames.

        A group is embedded when it holds ``face_batch_size`` faces or ``batch_size`` frames, by the embedding
        workers while the next group is detected, so at most one group of frames per worker, plus the one being
        gathered, waits (the latency bound); the detector batches ``batch_size`` frames as in :meth:`process`.
        """
        def jobs():
            for group in self._frame_groups(self.detect_frames(frames), threshold):
                per_frame = [_select_facedet(frame, det, threshold) for frame, det in group]
                yield (group, per_frame), partial(self._embed, [c for faces in per_frame for c in faces], threshold)

        workers = cpu_workers(self.embedder)
        with _worker_pool(workers, "embed") as pool:
            for (group, per_frame), embeds in _in_order(pool, jobs(), workers + 1):
                yield from _frame_faces(group, per_frame, embeds)

    def _frame_groups(self, detected: Iterable[tuple[Frame, Detections]],
                      threshold: float) -> Iterator[list[tuple[Frame, Detections]]]:
        """Consecutive frames grouped until they hold ``face_batch_size`` faces at ``threshold`` or number
        ``batch_size``."""
        group: list[tuple[Frame, Detections]] = []
        n_faces = 0
        for frame, det in detected:
            group.append((frame, det))
            n_faces += int(np.count_nonzero(det.scores >= threshold))
            if n_faces >= self.opts.face_batch_size or len(group) >= self.opts.batch_size:
                yield group
                group, n_faces = [], 0
        if group:
            yield group

    # -- one video ------------------------------------------------------------------------------------------
    def process(self, path: str, boxes: Sequence[tuple[float, np.ndarray]] | None = None, key: str = "") -> VideoFaces:
        """All selected faces of one video; errors in the video are returned as a status, never raised."""
        self._key = key or Path(path).stem
        instants = refs = None
        if self.opts.mode == "ref":
            if not boxes:
                return _empty(self.embedder.dim, "no reference box")
            instants = [t for t, _ in boxes]
            refs = np.stack([np.asarray(b, np.float32) for _, b in boxes])
        try:
            start = self.opts.thresholds[0]
            frame_scores: list[np.ndarray] = []
            cands, embeds = self._collect(path, instants, refs, start, frame_scores)
            thr = start
            if len(cands) < self.opts.min_faces:
                thr = self._backoff_threshold(frame_scores)
                if thr is None:
                    return _empty(self.embedder.dim, "no face found", None)
                log.info("%s: no face at threshold %.2f, backing off to %.2f", path, start, thr)
                cands, embeds = self._collect(path, instants, refs, thr, None)
        except VideoError as e:
            log.error("%s", e)
            return _empty(self.embedder.dim, STATUS_VIDEO_ERROR + str(e))
        if self.opts.mode == "ref":
            cands, embeds = _keep_best_matches(cands, embeds)
        return VideoFaces(embeds.astype(np.float32), _meta(cands), "ok", thr)


def cpu_workers(model: FaceDetector | Embedder) -> int:
    """Batches of a detector or an embedder run side by side: on the CPU, one per core at the caller's torch
    threads each, at most ``CPU_WORKERS``; otherwise one (a GPU runs one batch at a time; a model that is not
    ``concurrent``, or does not say, cannot run twice at once). Detection and embedding workers share the cores:
    whichever has work takes a core the other leaves, so neither stage leaves a core idle while the other has a
    backlog."""
    import torch

    device = getattr(model, "device", torch.device("cpu"))
    if not getattr(model, "concurrent", False) or torch.device(device).type != "cpu":
        return 1
    return max(1, min(CPU_WORKERS, usable_cores() // torch.get_num_threads()))


def _worker_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """``workers`` threads with the torch thread count of the caller (OpenMP counts are per thread)."""
    import torch

    threads = torch.get_num_threads()
    return ThreadPoolExecutor(workers, thread_name_prefix=f"hyp_face-{name}", initializer=torch.set_num_threads,
                              initargs=(threads,))


def _in_order(pool: ThreadPoolExecutor, jobs: Iterable[tuple[T, Callable[[], R]]], pending: int,
              weight: Callable[[T], int] = lambda _: 0, budget: float = math.inf) -> Iterator[tuple[T, R]]:
    """``(item, fn())`` for each job ``(item, fn)``, in the jobs' order, ``fn`` run by ``pool``.

    Before a job is submitted, the oldest are awaited (and yielded) while ``pending`` jobs are pending or the items
    pending and the new one weigh more than ``budget`` (an item over it alone still goes): jobs are pulled, and so
    prepared, while the submitted ones run.
    """
    ahead: deque[tuple[T, int, Future]] = deque()
    held = 0
    for item, fn in jobs:
        w = weight(item)
        while ahead and (len(ahead) >= pending or held + w > budget):
            done, done_weight, future = ahead.popleft()
            held -= done_weight
            yield done, future.result()
        ahead.append((item, w, pool.submit(fn)))
        held += w
    for done, _, future in ahead:
        yield done, future.result()


def _frame_faces(group: list[tuple[Frame, Detections]], per_frame: list[list[_Candidate]],
                 embeds: np.ndarray) -> Iterator[FrameFaces]:
    """The faces of a group's frames, frame by frame, with the group's embeddings."""
    start = 0
    for (frame, det), faces in zip(group, per_frame):
        rows = slice(start, start + len(faces))
        start += len(faces)
        yield FrameFaces(frame, _meta(faces), embeds[rows].astype(np.float32), det.scores)


def _frame_bytes(frame: Frame) -> int:
    return frame.image.nbytes


def _without_pixels(frame: Frame) -> Frame:
    """The frame's facts without its pixels (an empty image), so that the decoded frame can be freed."""
    return replace(frame, image=np.zeros((0, 0, 3), np.uint8))


def _keep_best_matches(cands: list[_Candidate], embeds: np.ndarray) -> tuple[list[_Candidate], np.ndarray]:
    """Keep the reference faces whose match exceeds half the best match (docs/original_recipe.md §5.7 final selection)."""
    if not cands:
        return cands, embeds
    match = np.array([c.match for c in cands])
    keep = match > match.max() / 2
    return [c for c, k in zip(cands, keep) if k], embeds[keep]


def _save_chips(folder: Path, frame_index: int, chips: np.ndarray) -> None:
    from PIL import Image

    for i, chip in enumerate(chips):
        with atomic_write(folder / f"{frame_index:06d}-{i:02d}.jpeg", "wb") as f:
            Image.fromarray(chip).save(f, format="JPEG")


def _meta(cands: list[_Candidate]) -> FaceMeta:
    if not cands:
        return FaceMeta()
    return FaceMeta(
        frame=[c.frame.index for c in cands], time=[c.frame.time for c in cands],
        box=np.stack([c.box for c in cands]), score=[c.score for c in cands],
        landmarks=np.stack([c.landmarks for c in cands]),
        norm=[c.norm for c in cands], sharpness=[c.sharpness for c in cands],
    )


def _empty(dim: int, status: str, thr: float | None = None) -> VideoFaces:
    return VideoFaces(np.zeros((0, dim), np.float32), FaceMeta(), status, thr)

"""Face diarization and recognition scores of video timelines against a ground truth (hyp_face.corpus.face_truth).

* **DER** (diarization error rate, with its missed, false-alarm and confusion parts) of the hypothesis RTTM against
  the ground-truth RTTM, computed by ``pyannote.metrics`` (no collar, overlaps scored, the whole video as UEM).
  Hypothesis names are mapped one-to-one onto reference names to minimise the error, as in speaker diarization.
* **Face matching**: each hypothesised face (timeline.json) is matched to a ground-truth face of the same frame
  (frame = round(time x fps)) by a Hungarian assignment on box IoU, keeping pairs with IoU >= ``min_iou``.
* **Track purity**: over the matched faces, the share that belongs to the ground-truth person most frequent in its
  hypothesised track. **Track coverage**: over the matched faces, the share that belongs to the hypothesised track
  most frequent in its ground-truth track (a ground-truth track is one continuous appearance of a person).
* **Identification accuracy per track**: a hypothesised track with matched faces is of its most frequent ground-truth
  person; among those of gallery people, the share whose identity is that person.
* **Unknown false-accept rate**: among the tracks of people not in the gallery, the share given a gallery identity.

Tracks whose faces match no ground-truth face (false detections) are counted apart and left out of the last two.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..corpus.face_truth import TruthVideo
from ..io.table import TableError, parse_rows
from ..recognize.outputs import read_timeline, rttm_lines
from ..recognize.timeline import json_number, safe_name
from ..recognize.timeline import UNKNOWN

log = logging.getLogger(__name__)

DER_PARTS = ("missed detection", "false alarm", "confusion")


@dataclass
class FaceDiarizationScores:
    """The scores of a set of videos (fractions; DER parts relative to the reference screen time)."""

    videos: int = 0
    missing: int = 0  # ground-truth videos without a hypothesis (scored as all missed)
    reference_s: float = 0.0  # total screen time of the reference faces
    der: float = float("nan")
    missed: float = float("nan")
    false_alarm: float = float("nan")
    confusion: float = float("nan")
    track_purity: float = float("nan")
    track_coverage: float = float("nan")
    matched_faces: int = 0
    hyp_faces: int = 0
    gallery_tracks: int = 0
    id_accuracy: float = float("nan")
    unknown_tracks: int = 0
    unknown_far: float = float("nan")
    unmatched_tracks: int = 0
    per_video: dict[str, dict] = field(default_factory=dict)  # key -> DER and its parts (seconds) of the video

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict (NaN, for a score with nothing to score, becomes None)."""
        return {k: json_number(v) if isinstance(v, float) else v for k, v in asdict(self).items()}


def read_rttm(lines: list[str], name: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """(start, end, label) of the SPEAKER lines of an RTTM by recording; errors name the file and line."""
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for lineno, fields in parse_rows(lines, name, min_cols=8, comment=";;"):
        if fields[0] != "SPEAKER":
            continue
        try:
            start, dur = float(fields[3]), float(fields[4])
        except ValueError:
            raise TableError(name, lineno, f"start and duration must be numbers: {' '.join(fields)!r}") from None
        if dur < 0:
            raise TableError(name, lineno, f"negative duration {dur}")
        turns.setdefault(fields[1], []).append((start, start + dur, fields[7]))
    return turns


def read_rttm_file(path: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """:func:`read_rttm` of a file."""
    with open(path, encoding="utf-8") as f:
        return read_rttm(f.readlines(), path)


def annotation(uri: str, turns: list[tuple[float, float, str]]):
    """A ``pyannote.core.Annotation`` of ``turns`` (each its own track, so overlaps of one label stay)."""
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, (start, end, label) in enumerate(turns):
        if end > start:
            ann[Segment(start, end), i] = label
    return ann


def der_components(truth: dict[str, TruthVideo], ref: dict[str, list], hyp: dict[str, list]
                   ) -> tuple[dict[str, float], dict[str, dict]]:
    """pyannote DER components (seconds, and the rate) accumulated over the videos of ``truth``, and per video."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    per_video = {}
    for key, video in truth.items():
        detail = metric(annotation(key, ref.get(key, [])), annotation(key, hyp.get(key, [])),
                        uem=Timeline([Segment(0.0, video.duration)], uri=key), detailed=True)
        per_video[key] = {"der": json_number(detail["diarization error rate"]),
                          **{name: float(detail[name]) for name in (*DER_PARTS, "total")}}
    parts = {name: float(metric[name]) for name in (*DER_PARTS, "total")}
    parts["der"] = abs(metric)
    return parts, per_video


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N,4) with every box of ``b`` (M,4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


@dataclass
class Matches:
    """Matched faces of one video: (hyp track, ground-truth track) pairs, and the hyp faces in all."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    hyp_faces: int = 0


def truth_by_frame(video: TruthVideo) -> dict[int, list[tuple[int, np.ndarray]]]:
    """(ground-truth track, box) of each frame."""
    frames: dict[int, list[tuple[int, np.ndarray]]] = {}
    for t in video.tracks:
        for frame, box in zip(t.frames(), t.boxes):
            frames.setdefault(int(frame), []).append((t.track, box))
    return frames


def match_faces(video: TruthVideo, doc: dict, min_iou: float = 0.5) -> Matches:
    """Match the faces of a timeline document to the ground truth, frame by frame (module doc)."""
    truth = truth_by_frame(video)
    hyp: dict[int, list[tuple[int, list[float]]]] = {}
    for track in doc["tracks"]:
        for face in track["faces"]:
            hyp.setdefault(round(face["time"] * video.fps), []).append((track["track_id"], face["box"]))
    matches = Matches(hyp_faces=sum(len(v) for v in hyp.values()))
    for frame, faces in sorted(hyp.items()):
        ref = truth.get(frame, [])
        if not ref:
            continue
        iou = iou_matrix(np.array([box for _, box in faces]), np.array([box for _, box in ref]))
        for i, j in zip(*linear_sum_assignment(-iou)):
            if iou[i, j] >= min_iou:
                matches.pairs.append((faces[i][0], ref[j][0]))
    return matches


def majority_share(pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """(faces of each group's most frequent partner, summed over the groups; all faces) of (group, partner) pairs."""
    groups: dict[str, Counter] = {}
    for group, partner in pairs:
        groups.setdefault(group, Counter())[partner] += 1
    return sum(max(c.values()) for c in groups.values()), len(pairs)


def track_identities(video: TruthVideo, doc: dict, matches: Matches) -> list[tuple[str, bool, str]]:
    """(ground-truth person, in gallery, hypothesised identity) of each hypothesised track with matched faces."""
    person = {t.track: (t.person, t.in_gallery) for t in video.tracks}
    votes: dict[int, Counter] = {}
    for hyp_track, ref_track in matches.pairs:
        votes.setdefault(hyp_track, Counter())[person[ref_track]] += 1
    identity = {t["track_id"]: t["identity"] for t in doc["tracks"]}
    rows = []
    for hyp_track, counter in sorted(votes.items()):
        (who, in_gallery), _ = max(counter.items(), key=lambda kv: (kv[1], kv[0]))
        rows.append((who, in_gallery, identity[hyp_track]))
    return rows


def _rate(num: float, den: float) -> float:
    return num / den if den else float("nan")


def score_videos(truth: dict[str, TruthVideo], ref_rttm: dict[str, list], hyps: dict[str, tuple[dict, list]],
                 min_iou: float = 0.5) -> FaceDiarizationScores:
    """Scores of the hypotheses ``hyps`` (key -> (timeline document, RTTM turns)) against ``truth``."""
    unknown_keys = sorted(set(hyps) - set(truth))
    if unknown_keys:
        log.warning("%d hypothesis videos are not in the ground truth (ignored), e.g. %s", len(unknown_keys),
                    unknown_keys[0])
    scores = FaceDiarizationScores(videos=len(truth), missing=len(set(truth) - set(hyps)))
    der, scores.per_video = der_components(truth, ref_rttm, {k: turns for k, (_, turns) in hyps.items()})
    scores.reference_s = der["total"]
    scores.der = der["der"]
    scores.missed, scores.false_alarm, scores.confusion = (_rate(der[p], der["total"]) for p in DER_PARTS)
    by_person, by_truth, identities, unmatched = [], [], [], 0
    for key, (doc, _) in hyps.items():
        if key not in truth:
            continue
        matches = match_faces(truth[key], doc, min_iou)
        person = {t.track: t.person for t in truth[key].tracks}
        by_person += [(f"{key}/{h}", person[r]) for h, r in matches.pairs]  # hyp track -> its people
        by_truth += [(f"{key}/{r}", h) for h, r in matches.pairs]  # ground-truth appearance -> its hyp tracks
        scores.hyp_faces += matches.hyp_faces
        rows = track_identities(truth[key], doc, matches)
        identities += rows
        unmatched += len(doc["tracks"]) - len(rows)
    scores.matched_faces = len(by_person)
    scores.track_purity = _rate(*majority_share(by_person))
    scores.track_coverage = _rate(*majority_share(by_truth))
    gallery = [(who, ident) for who, in_gallery, ident in identities if in_gallery]
    others = [ident for _, in_gallery, ident in identities if not in_gallery]
    scores.gallery_tracks, scores.unknown_tracks, scores.unmatched_tracks = len(gallery), len(others), unmatched
    scores.id_accuracy = _rate(sum(who == ident for who, ident in gallery), len(gallery))
    scores.unknown_far = _rate(sum(ident != UNKNOWN for ident in others), len(others))
    return scores


def load_hypotheses(hyp_dirs: list[str | os.PathLike], truth: dict[str, TruthVideo]) -> dict[str, tuple[dict, list]]:
    """(timeline document, RTTM turns) by ground-truth key of every ``<key>/timeline.json`` under ``hyp_dirs``.

    A timeline's key is its ``key``, or else the stem of its ``source`` when that is a ground-truth key.
    """
    hyps: dict[str, tuple[dict, list]] = {}
    for folder in hyp_dirs:
        for path in sorted(Path(folder).rglob("timeline.json")):
            doc = read_timeline(path)
            key = doc["key"] if doc["key"] in truth or Path(doc["source"]).stem not in truth \
                else Path(doc["source"]).stem
            rttm = path.parent / f"{safe_name(doc['key'])}.rttm"
            turns = read_rttm_file(rttm) if rttm.exists() else read_rttm(rttm_lines(doc), path)
            if key in hyps:
                raise ValueError(f"{path}: a second hypothesis for video {key!r}")
            hyps[key] = (doc, [turn for turns_of in turns.values() for turn in turns_of])
    return hyps


def format_per_video(scores: FaceDiarizationScores) -> list[str]:
    """A markdown table of the DER of each video, worst first."""
    lines = ["| video | DER % | missed s | false alarm s | confusion s | reference s |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, v in sorted(scores.per_video.items(), key=lambda kv: (-(kv[1]["der"] or 0.0), kv[0])):
        der = "-" if v["der"] is None else f"{100 * v['der']:.2f}"
        lines.append(f"| {key} | {der} | {v['missed detection']:.2f} | {v['false alarm']:.2f} | "
                     f"{v['confusion']:.2f} | {v['total']:.2f} |")
    return lines


def format_scores(scores: FaceDiarizationScores) -> list[str]:
    """A two-column markdown table of the scores."""
    rows = [("videos (missing)", f"{scores.videos} ({scores.missing})"),
            ("reference screen time (s)", f"{scores.reference_s:.1f}"),
            ("DER %", f"{100 * scores.der:.2f}"), ("  missed %", f"{100 * scores.missed:.2f}"),
            ("  false alarm %", f"{100 * scores.false_alarm:.2f}"), ("  confusion %", f"{100 * scores.confusion:.2f}"),
            ("track purity %", f"{100 * scores.track_purity:.2f}"),
            ("track coverage %", f"{100 * scores.track_coverage:.2f}"),
            ("matched / hypothesised faces", f"{scores.matched_faces} / {scores.hyp_faces}"),
            ("identification accuracy per track % (gallery tracks)",
             f"{100 * scores.id_accuracy:.2f} ({scores.gallery_tracks})"),
            ("unknown false-accept rate % (non-gallery tracks)",
             f"{100 * scores.unknown_far:.2f} ({scores.unknown_tracks})"),
            ("tracks matching no face", f"{scores.unmatched_tracks}")]
    return ["| metric | value |", "|---|---:|", *(f"| {name} | {value} |" for name, value in rows)]

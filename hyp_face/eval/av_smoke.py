"""Real audio-visual smoke test on the shared celebrity clips (``../shared/data/celeb_video_smoke``).

    python -m hyp_face.eval.av_smoke --clips-dir DIR [--speaker-config F] [--face-config F] [--enroll-s 2.5]

Every labelled video (``labels.csv``, media ``video``) is one speaker and one face. Its first ``--enroll-s``
seconds are the enrollment; the rest is cut into two test segments of equal length. Each enrollment is scored
against every test segment of every clip: the clip's own segments are the target trials, the others non-targets.

* Voice: the speaker embedding of the speech inside the segment (VAD, ``hyp_face.audio``), cosine score.
* Face: the faces of the segment's frames (the config's front end, ``--fps`` frames per second), scored by the mean
  of the cosine matrix over K = 5 evenly spaced faces of each side (``hyp_face.backend.kspaced``), as Tao et al.
* Fused: the equal-weight mean of the two scores (their formula; ``hyp_face.calibrate.av_fusion.mean_fusion``).

An enrollment or test segment without speech or without a face is left out of every modality and named, so both
modalities score the same trials. The check is that every target trial scores above every non-target trial. With a
handful of clips this is a test of the pipeline, far too small for an EER.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from hyp_face.audio.config import SpeakerConfig
from hyp_face.backend.kspaced import mean_of_pairs, select_kspaced
from hyp_face.calibrate.av_fusion import mean_fusion
from hyp_face.cli import pin_threads, run_main, setup_logging
from hyp_face.frontend import FrontEndConfig, build_extractor
from hyp_face.io.table import atomic_write

log = logging.getLogger("hyp_face.eval.av_smoke")
K_FACES = 5


@dataclass(frozen=True)
class Segment:
    clip: str      # identity of the clip
    path: str
    name: str      # "enroll", "test1", "test2"
    start: float
    end: float

    @property
    def key(self) -> str:
        return f"{self.clip}/{self.name}"


def labelled_videos(clips_dir: Path) -> dict[str, Path]:
    """Identity -> video of every labelled single-identity video of ``labels.csv``."""
    with open(clips_dir / "labels.csv", newline="") as f:
        return {r["identity"]: clips_dir / r["path"] for r in csv.DictReader(f)
                if r["media"] == "video" and r["identity"]}


def clip_segments(identity: str, path: Path, enroll_s: float) -> list[Segment]:
    """Enrollment ``[0, enroll_s]`` and two equal test segments over the rest of the clip."""
    with av.open(str(path)) as container:
        duration = float(container.duration / av.time_base)
    middle = (enroll_s + duration) / 2
    return [Segment(identity, str(path), "enroll", 0.0, enroll_s),
            Segment(identity, str(path), "test1", enroll_s, middle),
            Segment(identity, str(path), "test2", middle, duration)]


def voice_embeddings(segments: list[Segment], speaker_cfg: SpeakerConfig) -> dict[str, np.ndarray]:
    """Speaker embedding of each segment with speech (others logged and left out)."""
    extractor = speaker_cfg.build()
    out = {}
    items = [(s.key, s.path, [(s.start, s.end)]) for s in segments]
    for key, result in extractor.process_many(items):
        if len(result.embeds):
            out[key] = result.embeds[0]
        else:
            log.info("%s: %s, left out", key, result.status)
    return out


def face_sets(segments: list[Segment], face_cfg: FrontEndConfig, fps: float) -> dict[str, np.ndarray]:
    """K evenly spaced faces of each segment with a face (others logged and left out)."""
    extractor = build_extractor(face_cfg, mode="facedet", fps=fps)
    out = {}
    for path in dict.fromkeys(s.path for s in segments):
        faces = extractor.process(path)
        for s in (s for s in segments if s.path == path):
            inside = (faces.meta.time >= s.start) & (faces.meta.time < s.end)
            if inside.any():
                out[s.key] = select_kspaced(faces.embeds[inside], faces.meta.time[inside], K_FACES)
            else:
                log.info("%s: no face, left out", s.key)
    return out


def smoke_trials(segments: list[Segment], voice: dict[str, np.ndarray], faces: dict[str, np.ndarray]) -> dict:
    """Scores of every enrollment x test trial that both modalities can score, and what was left out."""
    usable = {s.key for s in segments if s.key in voice and s.key in faces}
    enrolls = [s for s in segments if s.name == "enroll" and s.key in usable]
    tests = [s for s in segments if s.name != "enroll" and s.key in usable]
    rows = []
    for e in enrolls:
        for t in tests:
            rows.append((e.key, t.key, e.clip == t.clip, float(voice[e.key] @ voice[t.key]),
                         mean_of_pairs(faces[e.key], faces[t.key])))
    scores = np.array([[r[3], r[4]] for r in rows])
    fused = mean_fusion(scores)
    return {"trials": [{"enroll": r[0], "test": r[1], "target": r[2], "voice": r[3], "face": r[4], "fused": f}
                       for r, f in zip(rows, fused.tolist())],
            "left_out": sorted(s.key for s in segments if s.key not in usable)}


def separation(trials: list[dict], kind: str) -> dict:
    """Lowest target and highest non-target score of ``kind``, and whether every target is above every non-target."""
    tar = [t[kind] for t in trials if t["target"]]
    non = [t[kind] for t in trials if not t["target"]]
    return {"targets": len(tar), "nontargets": len(non), "min_target": min(tar), "max_nontarget": max(non),
            "separated": min(tar) > max(non)}


def run(clips_dir: Path, speaker_cfg: SpeakerConfig, face_cfg: FrontEndConfig, enroll_s: float = 2.5,
        fps: float = 4.0) -> dict:
    segments = [s for identity, path in labelled_videos(clips_dir).items()
                for s in clip_segments(identity, path, enroll_s)]
    result = smoke_trials(segments, voice_embeddings(segments, speaker_cfg), face_sets(segments, face_cfg, fps))
    result["summary"] = {kind: separation(result["trials"], kind) for kind in ("voice", "face", "fused")}
    return result


def markdown(result: dict) -> str:
    lines = ["| scores | targets | non-targets | lowest target | highest non-target | all targets above |",
             "|---|---:|---:|---:|---:|---|"]
    for kind, s in result["summary"].items():
        lines.append(f"| {kind} | {s['targets']} | {s['nontargets']} | {s['min_target']:.3f} | "
                     f"{s['max_nontarget']:.3f} | {'yes' if s['separated'] else 'no'} |")
    lines.append(f"\nleft out (no speech or no face): {', '.join(result['left_out']) or 'none'}")
    return "\n".join(lines)


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m hyp_face.eval.av_smoke", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--clips-dir", default="../shared/data/celeb_video_smoke",
                   help="the shared clips: labels.csv and the media it lists")
    p.add_argument("--speaker-config", default="global_conf/speaker/config_ge2e.sh",
                   help="speaker config (its model comes from ./run_000_get_pretrained_models.sh --config-file F)")
    p.add_argument("--face-config", default="global_conf/config_embedded.sh", help="face front-end config")
    p.add_argument("--models-dir", default="exp/face_models", help="where run_000 put the models")
    p.add_argument("--enroll-s", type=positive, default=2.5, help="seconds of enrollment at the start of each clip")
    p.add_argument("--fps", type=positive, default=4.0, help="frames per second sampled for faces")
    p.add_argument("--json", default="", help="write the trials and the summary here")
    args = p.parse_args(argv)
    setup_logging()
    pin_threads(None)
    labels = Path(args.clips_dir) / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"av_smoke: {labels} not found (--clips-dir: the shared clips' folder)")
    try:
        speaker = SpeakerConfig.from_file(args.speaker_config, args.models_dir)
        face = FrontEndConfig.from_file(args.face_config)
        result = run(Path(args.clips_dir), speaker, face, args.enroll_s, args.fps)
    except FileNotFoundError as err:  # a config, or a model run_000 has not fetched (its message says how)
        raise SystemExit(f"av_smoke: {err}") from None
    if args.json:
        with atomic_write(args.json) as f:
            f.write(json.dumps(result, indent=2))
    print(markdown(result))
    return result


if __name__ == "__main__":
    sys.exit(run_main(main))

"""One prepared GPU check: CUDA against CPU for detection, embedding and the back-ends, extraction speed, s-norm.

    python -m hyp_face.bench.gpu [--clip ../shared/data/celeb_video_smoke/timesler_facenet-pytorch/examples/video.mp4]
        [--config-file global_conf/config_embedded.sh] [--device cuda] [--work-dir DIR] [--seconds 60] [--quick]

Rows of the printed table (one command; under 8 minutes on one H100 with the defaults):

* ``detect``: the config's detector on sampled frames of the clip, ``--device`` against the CPU: faces found on
  each side and the largest box / landmark difference (pixels) and score difference among matched faces;
* ``embed``: the recognizer on the CPU's aligned chips, ``--device`` against the CPU: largest |cosine - 1|;
* ``backend vN``: plain scoring of a synthetic case (``hyp_face.bench.backends.make_problem``), torch engine on
  ``--device`` against the numpy engine: largest absolute score difference;
* ``extract 720p`` / ``1080p``: the whole pipeline on ``--device`` at 1 fps over a ``--seconds`` input made from
  the clip (``hyp_face.bench.clips``): real-time factor (seconds of video per second of processing) and faces;
* ``faithful s-norm vN`` (``--snorm-versions``): seconds on the CPU (numpy) and on ``--device`` (torch), and the
  largest difference.

Without CUDA, the ``--device cuda`` rows are printed as skipped; ``--device cpu`` runs every row on the CPU
against itself (what the tests use; ``--quick`` shrinks every size).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_CLIP = "../shared/data/celeb_video_smoke/timesler_facenet-pytorch/examples/video.mp4"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def device_available(device: str) -> bool:
    """Whether torch can run on ``device``."""
    import torch

    return not device.startswith("cuda") or torch.cuda.is_available()


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def _match(ref_boxes: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For each reference box, the index of the nearest box by centre."""
    ref_centres, centres = ((b[:, :2] + b[:, 2:]) / 2 for b in (ref_boxes, boxes))
    return np.linalg.norm(ref_centres[:, None] - centres[None], axis=2).argmin(axis=1)


def detection_parity(cfg, frames: list, device: str) -> dict[str, str]:
    """The config's detector on ``device`` against the CPU on the same frames."""
    from hyp_face.frontend import build_extractor

    images = [f.image for f in frames]
    ref = build_extractor(cfg).detector.detect(images, threshold=0.5)
    got = build_extractor(cfg, device=device).detector.detect(images, threshold=0.5)
    box = lmk = score = 0.0
    for r, g in zip(ref, got):
        if len(r) and len(g):
            k = _match(r.boxes, g.boxes)
            box = max(box, float(np.abs(r.boxes - g.boxes[k]).max()))
            lmk = max(lmk, float(np.abs(r.landmarks - g.landmarks[k]).max()))
            score = max(score, float(np.abs(r.scores - g.scores[k]).max()))
    n_ref, n_got = sum(map(len, ref)), sum(map(len, got))
    return {"check": "detect", "result": f"{n_got} faces vs {n_ref} on CPU",
            "difference": f"box {box:.2g} px, landmarks {lmk:.2g} px, score {score:.2g}",
            "ok": str(n_ref == n_got and box < 1.0 and score < 1e-2)}


def embedding_parity(cfg, frames: list, device: str) -> dict[str, str]:
    """The config's recognizer on ``device`` against the CPU, on the CPU's aligned chips of ``frames``."""
    from hyp_face.frontend import build_extractor

    cpu = build_extractor(cfg)
    images = [f.image for f in frames]
    dets = cpu.detector.detect(images, threshold=0.5)
    index = np.concatenate([np.full(len(d), i) for i, d in enumerate(dets)]).astype(int)
    boxes = np.concatenate([d.boxes for d in dets])
    lmks = np.concatenate([d.landmarks for d in dets])
    chips = cpu.embedder.align_many(images, index, boxes, lmks)
    ref = cpu.embedder.embed(chips)
    got = build_extractor(cfg, device=device).embedder.embed(chips)
    worst = float(np.abs((ref * got).sum(axis=1) - 1).max()) if len(ref) else 0.0
    return {"check": "embed", "result": f"{len(chips)} chips", "difference": f"max |cos - 1| {worst:.2g}",
            "ok": str(worst < 1e-4)}


def backend_case(quick: bool):
    from hyp_face.bench.backends import make_problem

    sizes = (20, 40, 5, 12, 300) if quick else (150, 1500, 15, 30, 12000)
    return make_problem(*sizes, dim=512)


def backend_scores(version: str, case, engine, snorm: str, ncoh: int) -> tuple[np.ndarray, float]:
    """(scores, seconds) of one back-end, plain or with an s-norm."""
    from hyp_face.backend.versions import BackendParams, Scorer, enroll_side, test_side

    refs, tests, cohort = case
    params = BackendParams(version)
    start = time.perf_counter()
    scorer = Scorer(params, enroll_side(params, refs), np.arange(len(refs)), len(refs), engine=engine)
    norm = None if snorm == "none" else scorer.cohort_norm(snorm, cohort, ncoh, 0)
    scores = scorer.score(test_side(params, tests), norm)
    return np.asarray(scores), time.perf_counter() - start


def backend_parity(case, versions: list[str], device: str) -> list[dict[str, str]]:
    """Plain scores of each version: torch on ``device`` against the numpy engine."""
    from hyp_face.backend.engine import make_engine

    rows = []
    for version in versions:
        ref, _ = backend_scores(version, case, make_engine("numpy"), "none", 0)
        got, _ = backend_scores(version, case, make_engine("torch", device), "none", 0)
        worst = float(np.abs(ref - got).max())
        rows.append({"check": f"backend {version}", "result": f"{ref.size} scores",
                     "difference": f"max |diff| {worst:.2g}", "ok": str(worst < 1e-9)})
    return rows


def snorm_speed(case, versions: list[str], device: str, ncoh: int) -> list[dict[str, str]]:
    """Faithful s-norm: numpy on the CPU against torch on ``device`` (seconds and largest difference)."""
    from hyp_face.backend.engine import make_engine

    rows = []
    for version in versions:
        ref, t_cpu = backend_scores(version, case, make_engine("numpy"), "faithful", ncoh)
        got, t_dev = backend_scores(version, case, make_engine("torch", device), "faithful", ncoh)
        worst = float(np.abs(ref - got).max())
        rows.append({"check": f"faithful s-norm {version}", "result": f"CPU {t_cpu:.1f} s, {device} {t_dev:.1f} s",
                     "difference": f"max |diff| {worst:.2g}", "ok": str(worst < 1e-6)})
    return rows


def extraction_speed(cfg, clip: str, work: Path, seconds: float, device: str, quick: bool) -> list[dict[str, str]]:
    """Real-time factor of the whole pipeline at 1 fps on ``device``, 720p and 1080p inputs made from ``clip``."""
    from hyp_face.bench.clips import resized_video
    from hyp_face.frontend import build_extractor

    extractor = build_extractor(cfg, device=device, fps=1.0)
    rows = []
    for name, size in SIZES.items():
        video = resized_video(clip, work / f"{name}_{seconds:g}s.mp4", size, seconds, 5.0 if quick else 25.0)
        extractor.process(str(video))  # warm-up (kernels, buffers)
        start = time.perf_counter()
        res = extractor.process(str(video))
        wall = time.perf_counter() - start
        rows.append({"check": f"extract {name}", "result": f"{seconds / wall:.1f}x real time ({wall:.1f} s)",
                     "difference": f"{len(res.embeds)} faces", "ok": str(res.status == "ok")})
    return rows


def main(argv: list[str] | None = None) -> int:
    from hyp_face.cli import pin_threads
    from hyp_face.frontend import FrontEndConfig, add_frontend_args
    from hyp_face.video import sample_frames

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", default=DEFAULT_CLIP, help="a shared clip with faces")
    p.add_argument("--device", default="cuda", help="the device checked against the CPU")
    p.add_argument("--work-dir", default="", help="where the 720p/1080p inputs are written (default: temporary)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the extraction inputs")
    p.add_argument("--versions", default="v1,v4,v6,v9", help="back-ends whose plain scores are compared")
    p.add_argument("--snorm-versions", default="v1,v4", help="back-ends timed with faithful s-norm")
    p.add_argument("--ncoh", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (the CPU side of every comparison)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (the tests)")
    add_frontend_args(p, "detector and recognizer (default global_conf/config_embedded.sh)")
    p.set_defaults(config_file="global_conf/config_embedded.sh")
    args = p.parse_args(argv)
    pin_threads(args.threads)
    cfg = FrontEndConfig.from_args(args)
    print(f"device {args.device}: {device_name(args.device) if device_available(args.device) else 'not available'}; "
          f"CPU {platform.processor() or platform.machine()}, {args.threads} thread(s); clip {args.clip}")
    print("| check | result | difference | ok |\n|---|---|---|---|", flush=True)
    if not device_available(args.device):
        for check in ("detect", "embed", "backends", "extract 720p / 1080p", "faithful s-norm"):
            print(f"| {check} | skipped: no {args.device} | - | - |")
        return 0
    frames = list(sample_frames(args.clip, fps=1.0, max_frames=3 if args.quick else 8))
    case = backend_case(args.quick)
    checks = [lambda: [detection_parity(cfg, frames, args.device)],
              lambda: [embedding_parity(cfg, frames, args.device)],
              lambda: backend_parity(case, args.versions.split(","), args.device)]
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        checks += [lambda: extraction_speed(cfg, args.clip, work, args.seconds, args.device, args.quick),
                   lambda: snorm_speed(case, args.snorm_versions.split(","), args.device, args.ncoh)]
        for check in checks:
            for row in check():
                print(f"| {row['check']} | {row['result']} | {row['difference']} | {row['ok']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

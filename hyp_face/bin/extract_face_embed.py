"""Extract face embeddings for job J of N of a data dir (``vid.scp``), writing ``<prefix>.h5/.scp``.

Options may also come from Kaldi-style conf files given as ``@file`` (one ``--name=value`` per line), which is how
``steps/extract_face_embed.sh`` passes the detector and embedder configs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hyp_face.align.mtcnn import MTCNNRefiner
from hyp_face.cli import pin_threads, setup_logging, str2bool
from hyp_face.detect import build_detector
from hyp_face.embed import build_embedder
from hyp_face.extract import ExtractOptions, FaceExtractor, threshold_schedule
from hyp_face.io.datadir import read_face_boundingbox
from hyp_face.io.embed_store import EmbedWriter
from hyp_face.io.manifest import Job, code_version, file_sha256, json_sha256, manifest_path, options_of
from hyp_face.io.table import read_scp, split_contiguous

log = logging.getLogger("extract_face_embed")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, fromfile_prefix_chars="@")
    p.add_argument("--vid-scp", required=True, help="<key> <video or photo path> list")
    p.add_argument("--output-prefix", required=True, help="writes <prefix>.h5 and <prefix>.scp")
    p.add_argument("--part-idx", type=int, default=1)
    p.add_argument("--num-parts", type=int, default=1)
    p.add_argument("--bbox-file", default="", help="face_boundingbox: enables the bbox-guided (ref) mode")
    p.add_argument("--det-window", type=int, default=21, help="frames per annotated instant in ref mode")
    p.add_argument("--time-in-secs", type=str2bool, default=False, help="bbox instants are seconds (else frames)")
    p.add_argument("--match", choices=("iou", "coverage"), default="iou", help="reference-box match measure")
    p.add_argument("--match-thr", type=float, default=0.001, help="minimum match of the selected face")
    p.add_argument("--fps", type=float, default=1.0, help="frames per second sampled in facedet mode")
    p.add_argument("--max-frames", type=int, default=None, help="cap on sampled frames per video")
    p.add_argument("--detector", default="retinaface_mnet025_embedded")
    p.add_argument("--det-weights", default="")
    p.add_argument("--det-resize-policy", default=None,
                   help="v0.1 | v0.2 | none (see hyp_face.detect); default: the detector's own")
    p.add_argument("--det-thr-start", type=float, default=None, help="default 0.9 (facedet) / 0.8 (ref)")
    p.add_argument("--det-thr-stop", type=float, default=0.1)
    p.add_argument("--det-thr-step", type=float, default=0.1)
    p.add_argument("--embedder", default="dlib_resnet128")
    p.add_argument("--embed-weights", default="")
    p.add_argument("--embed-flip", type=str2bool, default=False, help="average with the mirrored chip")
    p.add_argument("--align-mode", choices=("detector", "mtcnn"), default="detector",
                   help="landmarks for alignment: the detector's, or MTCNN refine-only inside its boxes (v0.1)")
    p.add_argument("--mtcnn-dir", default="exp/face_models/mtcnn", help="MXNet MTCNN det1-det4 files (mtcnn mode)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per detector batch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fp16", type=str2bool, default=True, help="half precision on CUDA")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    p.add_argument("--save-debug-images", type=str2bool, default=False)
    p.add_argument("--verbose", type=int, default=1)
    return p.parse_args(argv)


def build_extractor(args: argparse.Namespace) -> FaceExtractor:
    """Detector, embedder and options from the parsed arguments."""
    for what, path in (("detector", args.det_weights), ("embedder", args.embed_weights)):
        stem = path.split(",")[0]  # MXNet weights may be "<prefix>,<epoch>"
        if path and not (Path(stem).exists() or Path(stem + "-symbol.json").exists()):
            raise SystemExit(f"{what} weights {path} not found: fetch the models of your config first with "
                             "./run_000_get_pretrained_models.sh --config-file <config>")
    use_fp16 = args.fp16 and args.device.startswith("cuda")
    resize = {"resize": args.det_resize_policy} if args.det_resize_policy else {}
    detector = build_detector(args.detector, weights=args.det_weights or None, device=args.device,
                              fp16=use_fp16, **resize)
    half = {"fp16": True} if use_fp16 else {}  # only CUDA embedders take fp16
    embedder = build_embedder(args.embedder, weights=args.embed_weights or None, device=args.device,
                              flip=args.embed_flip, **half)
    mode = "ref" if args.bbox_file else "facedet"
    start = args.det_thr_start if args.det_thr_start is not None else (0.8 if mode == "ref" else 0.9)
    opts = ExtractOptions(
        mode=mode, fps=args.fps, max_frames=args.max_frames,
        thresholds=threshold_schedule(start, args.det_thr_stop, args.det_thr_step),
        batch_size=args.batch_size, det_window=args.det_window, time_in_secs=args.time_in_secs,
        match=args.match, match_thr=args.match_thr,
    )
    refiner = MTCNNRefiner(args.mtcnn_dir, device=args.device) if args.align_mode == "mtcnn" else None
    return FaceExtractor(detector, embedder, opts, refiner)


# Output-neutral options: paths recorded by content instead, and how the work runs (not what it computes).
OUTPUT_NEUTRAL_ARGS = ("vid_scp", "output_prefix", "part_idx", "num_parts", "bbox_file", "batch_size", "device",
                       "fp16", "num_threads", "save_debug_images", "verbose")
FRONTEND_ARGS = ("detector", "det_weights", "det_resize_policy", "embedder", "embed_weights", "embed_flip",
                 "align_mode", "mtcnn_dir")  # mtcnn_dir counts by its files' content, in mtcnn mode only
EXTRACTION_CODE = ("extract.py", "frontend.py", "video", "detect", "align", "embed", "formats", "io/embed_store.py",
                   "bin/extract_face_embed.py")  # the package sources that can change embeddings


def weights_sha256(spec: str) -> dict[str, str]:
    """sha256 of the files a weights option names: ``<file>``, or MXNet ``<prefix>,<epoch>`` (symbol + params)."""
    if not spec:
        return {}
    stem, _, epoch = spec.partition(",")
    if Path(stem).is_file():
        files = [Path(stem)]
    elif epoch.isdigit():
        files = [Path(f"{stem}-symbol.json"), Path(f"{stem}-{int(epoch):04d}.params")]
    else:
        files = sorted(Path(stem).parent.glob(Path(stem).name + "-*"))
    return {f.name: file_sha256(f) for f in files if f.is_file()}


def frontend_fingerprint(args: argparse.Namespace) -> dict:
    """The resolved front end: detector, embedder, alignment and the sha256 of every weight file they load."""
    fingerprint = {name: getattr(args, name) for name in FRONTEND_ARGS if name != "mtcnn_dir"}
    fingerprint["fp16"] = bool(args.fp16 and args.device.startswith("cuda"))
    fingerprint["det_weights_sha256"] = weights_sha256(args.det_weights)
    fingerprint["embed_weights_sha256"] = weights_sha256(args.embed_weights)
    if args.align_mode == "mtcnn":
        fingerprint["mtcnn_sha256"] = {f.name: file_sha256(f) for f in sorted(Path(args.mtcnn_dir).glob("*"))
                                       if f.is_file()}
    return fingerprint


def extraction_job(args: argparse.Namespace, vids: dict[str, str], boxes: dict[str, list]) -> Job:
    """Job ``args.part_idx`` of ``args.num_parts``: ``<prefix>.h5``, ``<prefix>.scp`` and the manifest
    ``<prefix>.manifest.json`` of what they are made from (docs/rerun.md)."""
    prefix = Path(args.output_prefix)
    outputs = [prefix.with_name(prefix.name + suffix) for suffix in (".h5", ".scp")]
    return Job(f"job {args.part_idx}/{args.num_parts}", outputs, job_manifest(args, vids, boxes),
               manifest_path(prefix))


def job_manifest(args: argparse.Namespace, vids: dict[str, str], boxes: dict[str, list]) -> dict:
    """What job ``args.part_idx`` of ``args.num_parts`` is made from: its videos and boxes, the front end, the
    options, the job split and the code version."""
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    inputs = {"videos": len(keys), "vid_scp_part": json_sha256([[k, vids[k]] for k in keys])}
    if args.bbox_file:
        inputs["bbox_part"] = json_sha256([[k, boxes.get(k, [])] for k in keys])
    options = options_of(args, OUTPUT_NEUTRAL_ARGS + FRONTEND_ARGS)
    options["mode"] = "ref" if args.bbox_file else "facedet"
    return {"job": {"part": args.part_idx, "num_parts": args.num_parts}, "inputs": inputs,
            "frontend": frontend_fingerprint(args), "options": options, "code": code_version(EXTRACTION_CODE)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    prefix = Path(args.output_prefix)
    vids = read_scp(args.vid_scp)
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    boxes = read_face_boundingbox(args.bbox_file) if args.bbox_file else {}
    job = extraction_job(args, vids, boxes)
    if not job.start(log):
        return 0
    threads = pin_threads(args.num_threads)
    extractor = build_extractor(args)
    if args.save_debug_images:
        extractor.debug_dir = prefix.parent / "img_facealign"
    log.info("job %d/%d: %d videos, mode %s, detector %s, embedder %s (dim %d), device %s, %d thread(s)",
             args.part_idx, args.num_parts, len(keys), extractor.opts.mode, args.detector, args.embedder,
             extractor.embedder.dim, args.device, threads)
    n_faces = n_failed = 0
    t0 = time.time()
    with EmbedWriter(prefix) as writer:
        for key in tqdm(keys, desc=f"job {args.part_idx}", file=sys.stderr, mininterval=5, unit="video"):
            result = extractor.process(vids[key], boxes.get(key), key=key)
            if result.status != "ok":
                n_failed += 1
                log.warning("%s: %s -> empty embedding set", key, result.status)
            writer.write(key, result.embeds, result.meta, result.status)
            n_faces += len(result.embeds)
    job.finish()
    log.info("done: %d videos, %d faces, %d without faces, %.1f s", len(keys), n_faces, n_failed, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

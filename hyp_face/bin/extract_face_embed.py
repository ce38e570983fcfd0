"""Extract face embeddings for job J of N of a data dir (``vid.scp``), writing ``<prefix>.h5/.scp``.

The front end (detector, alignment, recognizer and their options) comes from ``--config-file global_conf/X.sh``,
as ``steps/extract_face_embed.sh`` passes it; the front-end options below override the config's values. Options may
also come from Kaldi-style conf files given as ``@file`` (one ``--name=value`` per line).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hyp_face.cli import pin_threads, setup_logging, str2bool
from hyp_face.extract import FaceExtractor
from hyp_face.frontend import (FrontEndConfig, MissingModelError, add_frontend_args, build_extractor,
                               frontend_epilog)
from hyp_face.io.datadir import read_face_boundingbox
from hyp_face.io.embed_store import EmbedWriter
from hyp_face.io.table import read_scp, split_contiguous

log = logging.getLogger("extract_face_embed")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, fromfile_prefix_chars="@", epilog=frontend_epilog(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--batch-size", type=int, default=16, help="frames per detector batch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fp16", type=str2bool, default=True, help="half precision on CUDA")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    p.add_argument("--save-debug-images", type=str2bool, default=False)
    p.add_argument("--verbose", type=int, default=1)
    add_frontend_args(p)
    return p.parse_args(argv)


def build_job_extractor(args: argparse.Namespace) -> tuple[FrontEndConfig, FaceExtractor]:
    """The front end of the config and options, with this job's mode and sampling (via ``hyp_face.frontend``)."""
    cfg = FrontEndConfig.from_args(args)
    try:
        extractor = build_extractor(
            cfg, device=args.device, fp16=args.fp16, mode="ref" if args.bbox_file else "facedet",
            fps=args.fps, max_frames=args.max_frames, batch_size=args.batch_size, det_window=args.det_window,
            time_in_secs=args.time_in_secs, match=args.match, match_thr=args.match_thr)
    except MissingModelError as err:
        raise SystemExit(f"extract_face_embed: {err}") from None
    return cfg, extractor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    prefix = Path(args.output_prefix)
    h5, scp = prefix.with_name(prefix.name + ".h5"), prefix.with_name(prefix.name + ".scp")
    if h5.exists() and scp.exists():
        log.info("%s and %s exist: job already done, skipping", h5, scp)
        return 0
    threads = pin_threads(args.num_threads)
    vids = read_scp(args.vid_scp)
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    boxes = read_face_boundingbox(args.bbox_file) if args.bbox_file else {}
    cfg, extractor = build_job_extractor(args)
    if args.save_debug_images:
        extractor.debug_dir = prefix.parent / "img_facealign"
    log.info("%s", cfg.describe(extractor.embedder.dim))
    log.info("job %d/%d: %d videos, mode %s, device %s, %d thread(s)",
             args.part_idx, args.num_parts, len(keys), extractor.opts.mode, args.device, threads)
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
    log.info("done: %d videos, %d faces, %d without faces, %.1f s", len(keys), n_faces, n_failed, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

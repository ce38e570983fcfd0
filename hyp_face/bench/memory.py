"""Peak RSS of one extraction job per input resolution, on inputs upscaled from a shared clip.

    python -m hyp_face.bench.memory --video CLIP --work-dir TMP [--sizes 720p,1080p,4k,8k] [--seconds 4]
        [--loops 3[,9]] [--fps 2] [--config-file global_conf/config_embedded.sh] [--out-json F]

For each size, two inputs are written with PyAV (no ffmpeg binary, ``hyp_face.bench.clips``): ``--seconds`` of the
clip (looped if shorter) resized to that size at ``--input-fps``, and that input ``--loops`` times over (packets
copied: the same frames, a longer video; length independence; ``3,9`` gives two longer inputs). Each
extraction job runs in a fresh process (``python -m hyp_face.bench.memory --job VIDEO``) that builds the front end
of the config, extracts at ``--fps`` and reports its peak resident set (``VmHWM``) after loading the models
and after the video. Targets (docs in the README): <= 1 GB at 1080p, <= 2 GB at 8K, the same for short and long.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

from hyp_face.bench.clips import loop_video, resized_video
from hyp_face.io.table import atomic_write

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160), "8k": (7680, 4320)}


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MiB: ``VmHWM`` of /proc/self/status (Linux), which starts
    afresh at exec, unlike ``ru_maxrss`` (that one keeps the parent's peak at fork); ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_job(args) -> int:
    """One extraction job (the child process): print JSON with peak RSS after loading and after the video."""
    from hyp_face.cli import pin_threads
    from hyp_face.frontend import FrontEndConfig, build_extractor

    pin_threads(1)
    cfg = FrontEndConfig.from_args(args)
    extractor = build_extractor(cfg, fps=args.fps, **({"prefetch_mb": args.prefetch_mb} if args.prefetch_mb else {}))
    loaded = peak_rss_mb()
    faces = extractor.process(args.job)
    print(json.dumps({"video": args.job, "loaded_mb": loaded, "peak_mb": peak_rss_mb(), "faces": len(faces.embeds),
                      "status": faces.status}))
    return 0


def measure(video: Path, args) -> dict:
    """Run one job in a fresh process and return its JSON report."""
    cmd = [sys.executable, "-m", "hyp_face.bench.memory", "--job", str(video), "--fps", str(args.fps),
           "--config-file", args.config_file, "--prefetch-mb", str(args.prefetch_mb)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from hyp_face.frontend import add_frontend_args

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", help="source clip (e.g. ../shared/data/celeb_video_smoke/.../video.mp4)")
    p.add_argument("--work-dir", default="", help="where the upscaled inputs are written (kept for reruns)")
    p.add_argument("--sizes", default="720p,1080p,4k,8k", help=f"comma-separated, of {sorted(SIZES)}")
    p.add_argument("--seconds", type=float, default=4.0, help="length of the short input")
    p.add_argument("--loops", default="3", help="comma-separated: each long input is this many times the short one")
    p.add_argument("--input-fps", type=float, default=5.0, help="frame rate of the written inputs")
    p.add_argument("--fps", type=float, default=2.0, help="extraction sampling rate")
    p.add_argument("--prefetch-mb", type=float, default=0, help="decode-ahead budget (default: the extractor's)")
    p.add_argument("--job", default="", help=argparse.SUPPRESS)
    add_frontend_args(p, "detector and recognizer, as the stage (default global_conf/config_embedded.sh)")
    p.set_defaults(config_file="global_conf/config_embedded.sh")
    p.add_argument("--out-json", default="")
    args = p.parse_args(argv)
    if args.job:
        return run_job(args)
    if not args.video or not args.work_dir:
        p.error("--video and --work-dir are required")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| input | size | seconds | faces | RSS after load (MB) | peak RSS (MB) |\n|---|---|---:|---:|---:|---:|")
    for name in args.sizes.split(","):
        short = resized_video(args.video, work / f"{name}_{args.seconds:g}s.mp4", SIZES[name], args.seconds,
                              args.input_fps)
        loops = [int(n) for n in args.loops.split(",")]
        longs = [loop_video(short, work / f"{short.stem}_x{n}.mp4", n) for n in loops]
        for times, video in zip([1] + loops, [short] + longs):
            row = {"size": name, "seconds": args.seconds * times, **measure(video, args)}
            rows.append(row)
            print(f"| {video.name} | {name} | {row['seconds']:g} | {row['faces']} | "
                  f"{row['loaded_mb']:.0f} | {row['peak_mb']:.0f} |", flush=True)
    if args.out_json:
        with atomic_write(args.out_json) as f:
            f.write(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

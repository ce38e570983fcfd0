"""Before an extraction stage: say which jobs a rerun redoes and why, and clear what it must not reuse.

Usage: ``plan_extract_jobs [--merged FILE ...] [--logs LOG] -- <extract_face_embed arguments>``, the jobs' own
arguments with ``--output-prefix <dir>/<name>.JOB`` and ``--num-parts N``. Prints one line per job whose manifest
does not match (the jobs redo exactly those), removes the temporary files of killed jobs and the parts (and, with
``--logs``, the job logs) beyond N, and, when anything is redone or removed, the ``--merged`` outputs, so that a
failed rerun cannot leave them stale.
See docs/rerun.md.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

from hyp_face.bin.extract_face_embed import extraction_job, job_frontend, parse_args
from hyp_face.cli import run_main
from hyp_face.io.datadir import read_face_boundingbox
from hyp_face.io.manifest import FRESH, remove_stale_tmp
from hyp_face.io.table import read_scp

JOB = "JOB"


def parts_beyond(out_dir: Path, name: str, num_parts: int) -> list[Path]:
    """Files ``<name>.<J>.*`` of ``out_dir`` with J > ``num_parts`` (left by a run with more jobs)."""
    pattern = re.compile(rf"^{re.escape(name)}\.(\d+)\.")
    return sorted(f for f in out_dir.glob(f"{name}.*")
                  if (m := pattern.match(f.name)) and int(m.group(1)) > num_parts and f.is_file())


def logs_beyond(log_pattern: str, num_parts: int) -> list[Path]:
    """The job logs of ``log_pattern`` (a path with JOB) of jobs J > ``num_parts``, rotated ones included."""
    log = Path(log_pattern)
    before, _, after = log.name.partition(JOB)
    pattern = re.compile(rf"^{re.escape(before)}(\d+){re.escape(after)}(\.\d+)?$")
    return sorted(f for f in log.parent.glob(f"{before}*") if (m := pattern.match(f.name))
                  and int(m.group(1)) > num_parts and f.is_file()) if log.parent.is_dir() else []


def job_reasons(args: argparse.Namespace) -> dict[int, str | None]:
    """Rerun reason of each job (None: up to date), from the manifest it would write now."""
    vids = read_scp(args.vid_scp)
    boxes = read_face_boundingbox(args.bbox_file) if args.bbox_file else {}
    cfg = job_frontend(args)
    reasons = {}
    for part in range(1, args.num_parts + 1):
        job = copy.copy(args)
        job.part_idx, job.output_prefix = part, args.output_prefix.replace(JOB, str(part))
        reasons[part] = extraction_job(job, cfg, vids, boxes).reason()
    return reasons


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit(f"usage: plan_extract_jobs [--merged FILE ...] -- <extract_face_embed arguments>\n{__doc__}")
    cut = argv.index("--")
    own = argparse.ArgumentParser(description=__doc__)
    own.add_argument("--merged", nargs="*", default=[], help="outputs merged from the parts (removed when stale)")
    own.add_argument("--logs", default="", help="the jobs' log path with JOB: those of jobs beyond N are removed")
    opts = own.parse_args(argv[:cut])
    merged = opts.merged
    args = parse_args(argv[cut + 1:])
    prefix = Path(args.output_prefix)
    if JOB not in prefix.name:
        raise SystemExit(f"plan_extract_jobs: --output-prefix {prefix} has no {JOB} in its name")
    out_dir, name = prefix.parent, prefix.name.split("." + JOB)[0]
    if out_dir.is_dir():
        for stale in remove_stale_tmp(out_dir):
            print(f"{out_dir}: removed {stale.name}, left by a killed job")
    extra = parts_beyond(out_dir, name, args.num_parts) if out_dir.is_dir() else []
    extra += logs_beyond(opts.logs, args.num_parts) if JOB in opts.logs else []
    for f in extra:
        f.unlink()
    if extra:
        print(f"{out_dir}: now {args.num_parts} job(s): removed {len(extra)} file(s) of the jobs beyond")
    reasons = job_reasons(args)
    for part, reason in reasons.items():
        if reason not in (None, FRESH):  # a job that never ran needs no line
            print(f"{out_dir}: job {part}/{args.num_parts}: {reason}, redoing")
    skipped = sum(r is None for r in reasons.values())
    if skipped:
        print(f"{out_dir}: {skipped} of {args.num_parts} job(s) unchanged (manifest matches), skipping them")
    if extra or any(r is not None for r in reasons.values()):
        for f in merged:
            Path(f).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Console summary of a recognition stage, from the timeline.json of every video of a data dir: videos, tracks,
named tracks, videos without a face, and the videos that could not be read (first 5 with their reasons). Exits 1
when more than ``--max-unreadable`` of the set could not be read (default 0; a count or a percentage like 5%), or a
video has no timeline.json (its job failed)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.embed_store import STATUS_OK
from hyp_face.io.store_summary import SHOWN_UNREADABLE, unreadable_exit
from hyp_face.io.table import read_scp
from hyp_face.recognize.outputs import output_dir, read_timeline
from hyp_face.recognize.timeline import UNKNOWN


def summary_lines(out_dir: str, keys: list[str]) -> tuple[list[str], int, int]:
    """(console lines, videos that could not be read, videos without outputs) of the timelines under ``out_dir``."""
    tracks = named = no_face = 0
    unreadable: list[tuple[str, str]] = []
    missing: list[str] = []
    for key in keys:
        try:
            doc = read_timeline(output_dir(out_dir, key) / "timeline.json")
        except (OSError, ValueError) as err:
            missing.append(f"{key} ({err})")
            continue
        if doc["status"] != STATUS_OK:
            unreadable.append((key, doc["status"]))
        tracks += len(doc["tracks"])
        named += sum(t["identity"] != UNKNOWN for t in doc["tracks"])
        no_face += doc["status"] == STATUS_OK and not doc["tracks"]
    lines = [f"{out_dir}: {len(keys)} videos, {tracks} tracks ({named} named), {no_face} without a face, "
             f"{len(unreadable)} unreadable" + (f", {len(missing)} without outputs" if missing else "")]
    lines += [f"  unreadable {key}: {status}" for key, status in unreadable[:SHOWN_UNREADABLE]]
    if len(unreadable) > SHOWN_UNREADABLE:
        lines.append(f"  ... and {len(unreadable) - SHOWN_UNREADABLE} more (statuses in their timeline.json)")
    lines += [f"  no outputs: {m}" for m in missing[:SHOWN_UNREADABLE]]
    return lines, len(unreadable), len(missing)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hyp_face.bin.summarize_recognition", description=__doc__)
    p.add_argument("vid_scp", help="the data dir's vid.scp (its keys)")
    p.add_argument("out_dir", help="the stage's output folder (<out-dir>/<key>/timeline.json)")
    p.add_argument("--max-unreadable", default="0", help="unreadable videos tolerated: a count or a percentage")
    args = p.parse_args(argv)
    keys = list(read_scp(args.vid_scp))
    lines, unreadable, missing = summary_lines(args.out_dir, keys)
    print("\n".join(lines))
    if missing:
        print(f"summarize_recognition: {missing} of {len(keys)} videos have no timeline.json; see the job logs",
              file=sys.stderr)
        return 1
    return unreadable_exit(unreadable, len(keys), args.max_unreadable)


if __name__ == "__main__":
    sys.exit(run_main(main))

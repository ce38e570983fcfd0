"""Console summary of a speaker extraction stage: files, with speech, without speech, without an audio stream,
unreadable (first 5 of each named, with the reason). Exits 1 when more than ``--max-unreadable`` files of the set
are unreadable (a count or a percentage like 5%)."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

from hyp_face.audio.extract import STATUS_AUDIO_ERROR, STATUS_NO_AUDIO, STATUS_NO_SPEECH, STATUS_OK
from hyp_face.cli import run_main
from hyp_face.io.embed_store import EmbedReader
from hyp_face.io.store_summary import SHOWN_UNREADABLE, unreadable_exit

OUTCOMES = {STATUS_OK: "with speech", STATUS_NO_SPEECH: "without speech", STATUS_NO_AUDIO: "without an audio stream",
            STATUS_AUDIO_ERROR: "unreadable"}


def outcome(status: str) -> str:
    """The summary class of a stored status."""
    return next((name for prefix, name in OUTCOMES.items() if status.startswith(prefix)), "unreadable")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("embed_scp", help="merged embed.scp of the stage")
    p.add_argument("--max-unreadable", default="0", help="unreadable files tolerated: a count or a percentage")
    args = p.parse_args(argv)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with EmbedReader(args.embed_scp) as reader:
        keys = reader.keys()
        for key in keys:
            status = reader.status(key)
            groups[outcome(status)].append((key, status))
    print(f"{args.embed_scp}: {len(keys)} files, " + ", ".join(f"{len(groups[n])} {n}" for n in OUTCOMES.values()))
    for name in list(OUTCOMES.values())[1:]:
        for key, status in groups[name][:SHOWN_UNREADABLE]:
            print(f"  {name} {key}: {status}")
    return unreadable_exit(len(groups["unreadable"]), len(keys), args.max_unreadable, "files")


if __name__ == "__main__":
    sys.exit(run_main(main))

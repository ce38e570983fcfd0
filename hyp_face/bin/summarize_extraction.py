"""Console summary of an extraction stage: videos, faces, videos without a face, unreadable videos (first 5 with
their reasons). Exits 1 when more than ``--max-unreadable`` of the set is unreadable (default 0; a count or a
percentage like 5%)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.store_summary import ExtractionSummary, unreadable_exit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("embed_scp", help="merged embed.scp of the stage")
    p.add_argument("--max-unreadable", default="0", help="unreadable videos tolerated: a count or a percentage")
    args = p.parse_args(argv)
    summary = ExtractionSummary.from_store(args.embed_scp)
    print("\n".join(summary.lines()))
    return unreadable_exit(len(summary.unreadable), summary.videos, args.max_unreadable)


if __name__ == "__main__":
    sys.exit(run_main(main))

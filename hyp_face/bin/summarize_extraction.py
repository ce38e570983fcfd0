"""Console summary of an extraction stage: videos, faces, videos without a face, unreadable videos (first 5 with
their reasons). Exits 1 when more than ``--max-unreadable`` of the set is unreadable (default 0; a count or a
percentage like 5%)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.io.store_summary import ExtractionSummary, allowed_unreadable


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("embed_scp", help="merged embed.scp of the stage")
    p.add_argument("--max-unreadable", default="0", help="unreadable videos tolerated: a count or a percentage")
    args = p.parse_args(argv)
    summary = ExtractionSummary.from_store(args.embed_scp)
    try:
        allowed = allowed_unreadable(args.max_unreadable, summary.videos)
    except ValueError as err:
        raise SystemExit(f"summarize_extraction: {err}") from None
    print("\n".join(summary.lines()))
    if len(summary.unreadable) > allowed:
        print(f"error: {len(summary.unreadable)} of {summary.videos} videos unreadable, more than "
              f"--max-unreadable {args.max_unreadable}; fix or drop them from the data dir's vid.scp",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Merge ``embed.JOB.scp`` files into one ``embed.scp`` (sorted; duplicate keys are an error)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.embed_store import merge_scps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("parts", nargs="+")
    args = p.parse_args(argv)
    merge_scps(args.parts, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

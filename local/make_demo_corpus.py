#!/usr/bin/env python3
"""Build the demo corpus (see hyp_face/corpus/demo.py): <out-dir>/sre19_av_dev and <out-dir>/sre19_av_eval."""

from __future__ import annotations

import argparse
import sys

from hyp_face.corpus import demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", required=True, help="writes <out-dir>/sre19_av_dev and <out-dir>/sre19_av_eval")
    p.add_argument("--seed", type=int, default=19)
    args = p.parse_args(argv)
    for root in demo.build_demo_corpus(args.out_dir, args.seed):
        print(f"{root}: {len(list((root / 'data').rglob('*.mp4')))} videos")
    return 0


if __name__ == "__main__":
    sys.exit(main())

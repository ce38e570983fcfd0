"""Prepare the SRE19 AV visual-track data dirs (docs/original_recipe.md §4.1): ``<data>/sre19_av_v_<subset>_{enroll,test}``."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main, setup_logging, str2bool
from hyp_face.io.ldc import prepare_sre19av, read_exclude_list


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="corpus root (LDC2019E56 for dev, LDC2019E57 for eval), holding docs/ and data/")
    parser.add_argument("data", help="output folder of the data dirs (e.g. data)")
    parser.add_argument("--subset", choices=("dev", "eval"), required=True)
    parser.add_argument("--exclude-list", default="", help="file of segment ids to leave out (one a line, # comments)")
    parser.add_argument(
        "--strict", type=str2bool, default=False, help="missing/empty videos: error (true) or excluded with a warning"
    )
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    prepare_sre19av(args.root, args.data, args.subset, read_exclude_list(args.exclude_list), args.strict)


if __name__ == "__main__":
    sys.exit(run_main(main))

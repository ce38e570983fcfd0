"""Prepare the JANUS Multimedia core data dirs (docs/original_recipe.md §4.2): ``<data>/janus_{dev,eval}_{enroll,test_core}``."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main, setup_logging, str2bool
from hyp_face.io.ldc import prepare_janus_core, read_exclude_list


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="JANUS Multimedia root (.../Janus_Multimedia_Dataset) holding docs/ and videos/")
    parser.add_argument("data", help="output folder of the data dirs (e.g. data)")
    parser.add_argument(
        "--exclude-list", default="", help="file of video ids (e.g. video/1041.mp4) to leave out of every set"
    )
    parser.add_argument(
        "--strict", type=str2bool, default=False, help="missing/empty videos: error (true) or excluded with a warning"
    )
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    prepare_janus_core(args.root, args.data, read_exclude_list(args.exclude_list), args.strict)


if __name__ == "__main__":
    sys.exit(run_main(main))

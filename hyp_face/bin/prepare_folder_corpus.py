"""Prepare ``<prefix>_enroll`` and ``<prefix>_test`` data dirs from a corpus in folders (enroll/<model>/, test/)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main, setup_logging, str2bool
from hyp_face.io.folder_corpus import prepare_folder_corpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", help="folder holding enroll/<model>/<media> and test/<media>")
    parser.add_argument("trials", help="trial list: <model> <test id> [target|nontarget] per line")
    parser.add_argument("prefix", help="data dir prefix: data/faces -> data/faces_enroll, data/faces_test")
    parser.add_argument(
        "--strict", type=str2bool, default=False, help="empty media files: error (true) or excluded with a warning"
    )
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    prepare_folder_corpus(args.corpus, args.trials, args.prefix, args.strict)


if __name__ == "__main__":
    sys.exit(run_main(main))

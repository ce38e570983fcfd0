"""Check a face data dir; print every problem as <file>:<line>: <message> (Kaldi's validate_data_dir.sh).

utt2spk, spk2utt and vid.scp are required; their keys are sorted (C order) and unique; spk2utt groups utt2spk;
vid.scp lists the utterances of utt2spk, and its files exist and are not empty (unless --no-check-files).
face_boundingbox (optional): known utterances, numeric boxes with x2 >= x1 and y2 >= y1.
trials (optional): <model> <test> target|nontarget (or 2 columns on every line), test utterances of this dir,
no repeated trial; with --enroll-dir, models are speakers of that enrollment dir.
"""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.datadir import data_dir_problems
from hyp_face.io.table import TableError

PROG = "validate_data_dir.sh"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-check-files", action="store_true", help="do not check that vid.scp files exist")
    parser.add_argument("--no-spk-sort", action="store_true", help="do not require spk2utt to be sorted")
    for flag in ("--no-wav", "--no-text", "--no-feats"):
        parser.add_argument(flag, action="store_true", help="accepted for Kaldi compatibility; ignored")
    parser.add_argument("--enroll-dir", help="enrollment data dir whose speakers the trial models must be")
    parser.add_argument("data", help="the data dir")
    args = parser.parse_args(argv)
    try:
        problems = data_dir_problems(args.data, args.enroll_dir, not args.no_check_files, not args.no_spk_sort)
    except (TableError, OSError) as err:  # an unreadable --enroll-dir
        problems = [str(err)]
    for line in problems:
        print(f"{PROG}: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"{PROG}: Successfully validated data-directory {args.data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Kaldi-style repair of a data dir (Kaldi's fix_data_dir.sh).

Sorts utt2spk, vid.scp and face_boundingbox (C order; face_boundingbox keeps the order of the lines of one
utterance), keeps only the utterances present in all of those files that exist, regenerates spk2utt, drops the
trials whose test utterance is gone, and saves the previous files in <data-dir>/.backup/.  Conflicting duplicate
keys and malformed lines are errors (file:line).
"""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.datadir import DataDirError, fix_data_dir
from hyp_face.io.table import TableError

PROG = "fix_data_dir.sh"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the data dir")
    args = parser.parse_args(argv)
    try:
        print(f"{PROG}: {args.data}: {fix_data_dir(args.data)}", file=sys.stderr)
    except (TableError, DataDirError, OSError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Kaldi's utt2spk_to_spk2utt.pl: ``<spk> <utt1> <utt2> ...`` lines on stdout, speakers in order of first
appearance, from utt2spk files (stdin without arguments)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.datadir import add_utt2spk_rows, utt2spk_to_spk2utt
from hyp_face.io.table import TableError, read_inputs

PROG = "utt2spk_to_spk2utt.pl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("utt2spk", nargs="*", help="input files (default: stdin)")
    args = parser.parse_args(argv)
    utt2spk: dict[str, str] = {}
    try:
        for name, rows in read_inputs(args.utt2spk, 2, 2):
            add_utt2spk_rows(utt2spk, rows, name)
    except (TableError, OSError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    for spk, utts in utt2spk_to_spk2utt(utt2spk, sort=False).items():
        print(spk, *utts)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

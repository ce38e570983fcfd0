"""Kaldi's spk2utt_to_utt2spk.pl: ``<utt> <spk>`` lines on stdout, in the order of the spk2utt files (stdin
without arguments)."""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.datadir import DataDirError, add_spk2utt_rows, spk2utt_to_utt2spk
from hyp_face.io.table import TableError, read_inputs

PROG = "spk2utt_to_utt2spk.pl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("spk2utt", nargs="*", help="input files (default: stdin)")
    args = parser.parse_args(argv)
    spk2utt: dict[str, list[str]] = {}
    try:
        for name, rows in read_inputs(args.spk2utt, 2):
            add_spk2utt_rows(spk2utt, rows, name)
        utt2spk = spk2utt_to_utt2spk(spk2utt, sort=False)
    except (TableError, DataDirError, OSError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    for utt, spk in utt2spk.items():
        print(utt, spk)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

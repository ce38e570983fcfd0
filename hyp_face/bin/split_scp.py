"""Kaldi's split_scp.pl: split in.scp into contiguous parts, one per output file.

The first (lines % parts) outputs get one line more.  With --utt2spk no speaker is split across outputs (its
lines must be contiguous; parts are balanced in lines).  With -j N K (K 0-based) only part K of N is written, to
the single output file or to stdout.  Lines are copied verbatim.
"""

from __future__ import annotations

import argparse
import sys

from hyp_face.cli import run_main
from hyp_face.io.datadir import read_utt2spk
from hyp_face.io.table import TableError, read_rows, split_scp_rows, write_lines

PROG = "split_scp.pl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utt2spk", help="utt2spk file: keep speakers whole")
    parser.add_argument("-j", nargs=2, type=int, metavar=("NUM_JOBS", "JOB_ID"), help="write only part JOB_ID")
    parser.add_argument("scp")
    parser.add_argument("outputs", nargs="*")
    args = parser.parse_args(argv)
    if args.j:
        num_parts, job = args.j
        if not 0 <= job < num_parts or len(args.outputs) > 1:
            parser.error("-j N K needs 0 <= K < N and at most one output file")
    else:
        num_parts, job = len(args.outputs), None
        if num_parts == 0:
            parser.error("no output files")
    try:
        utt2spk = read_utt2spk(args.utt2spk) if args.utt2spk else None
        parts = split_scp_rows(read_rows(args.scp), num_parts, utt2spk, args.scp)
        with open(args.scp, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (TableError, OSError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    texts = [[lines[lineno - 1] for lineno, _ in part] for part in parts]
    if job is None:
        for out, text in zip(args.outputs, texts):
            write_lines(out, text)
    elif args.outputs:
        write_lines(args.outputs[0], texts[job])
    else:
        sys.stdout.write("".join(line + "\n" for line in texts[job]))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

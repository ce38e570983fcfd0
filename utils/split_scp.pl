#!/usr/bin/env python3
"""split_scp.pl [--utt2spk=FILE] [-j NUM_JOBS JOB_ID] in.scp [out1.scp out2.scp ...]   (Kaldi semantics)

Splits in.scp into contiguous parts, one per output file; the first (lines % parts) outputs get
one line more.  With --utt2spk no speaker is split across outputs (its lines must be contiguous;
parts are balanced in lines).  With -j N K (K 0-based) only part K of N is written, to the single
output file or to stdout.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import data_tools as dt  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(prog="split_scp.pl", description=__doc__.split("\n\n")[1])
    parser.add_argument("--utt2spk", help="utt2spk file: keep speakers whole")
    parser.add_argument("-j", nargs=2, type=int, metavar=("NUM_JOBS", "JOB_ID"))
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
        utt2spk = None
        if args.utt2spk:
            utt2spk = {f[0]: f[1] for _, f in dt.read_rows(args.utt2spk, min_fields=2, max_fields=2)}
        rows = dt.read_rows(args.scp)
        parts = dt.split_scp(rows, num_parts, utt2spk, args.scp)
    except (dt.TableError, OSError) as err:
        sys.exit(f"split_scp.pl: {err}")
    with open(args.scp, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]  # output the lines verbatim
    texts = [[lines[lineno - 1] for lineno, _ in part] for part in parts]
    if job is not None:
        if args.outputs:
            dt.write_lines(args.outputs[0], texts[job])
        else:
            sys.stdout.write("".join(line + "\n" for line in texts[job]))
        return 0
    for out, text in zip(args.outputs, texts):
        dt.write_lines(out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

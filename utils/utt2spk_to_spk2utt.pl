#!/usr/bin/env python3
"""utt2spk_to_spk2utt.pl [utt2spk...] > spk2utt  (Kaldi; reads stdin without arguments).

Each output line is ``<spk> <utt1> <utt2> ...``, speakers in order of first appearance."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import data_tools as dt  # noqa: E402

if __name__ == "__main__":
    try:
        rows = dt.read_inputs(sys.argv[1:], min_fields=2, max_fields=2)
    except (dt.TableError, OSError) as err:
        sys.exit(f"utt2spk_to_spk2utt.pl: {err}")
    print("\n".join(dt.spk2utt_lines(dt.utt2spk_to_spk2utt((f[0], f[1]) for _, f in rows))), end="\n" if rows else "")

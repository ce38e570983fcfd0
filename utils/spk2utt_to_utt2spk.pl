#!/usr/bin/env python3
"""spk2utt_to_utt2spk.pl [spk2utt...] > utt2spk  (Kaldi; reads stdin without arguments)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import data_tools as dt  # noqa: E402

if __name__ == "__main__":
    try:
        rows = dt.read_inputs(sys.argv[1:], min_fields=2)
    except (dt.TableError, OSError) as err:
        sys.exit(f"spk2utt_to_utt2spk.pl: {err}")
    for _, (spk, *utts) in rows:
        for utt in utts:
            print(utt, spk)

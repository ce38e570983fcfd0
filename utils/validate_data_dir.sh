#!/usr/bin/env bash
# Usage: utils/validate_data_dir.sh [--no-check-files] [--no-spk-sort] [--no-wav] [--no-text] [--no-feats] <data-dir>
# Checks a face data directory and prints every problem as <file>:<line>: <message>:
#   utt2spk, spk2utt, vid.scp required; keys sorted (C order) and unique; spk2utt consistent with utt2spk;
#   vid.scp has the utterances of utt2spk and its files exist and are non-empty (not with --no-check-files);
#   face_boundingbox (optional): utterances of utt2spk, columns 2-6 numeric;
#   trials (optional): 3 columns with label target|nontarget (or 2 on every line: unlabelled), test utterance
#   in utt2spk, no repeated trial.
# --no-wav, --no-text, --no-feats are accepted for Kaldi compatibility and ignored.
set -euo pipefail
opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-check-files|--no-spk-sort) opts+=("$1"); shift ;;
    --no-wav|--no-text|--no-feats) shift ;;
    --help|-h) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "validate_data_dir.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { sed -n '2p' "$0" | sed 's/^# //' >&2; exit 1; }
exec "${HYP_FACE_PYTHON:-python3}" "$(dirname "$0")/data_tools.py" validate "${opts[@]}" "$1"

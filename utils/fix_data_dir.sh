#!/usr/bin/env bash
# Usage: utils/fix_data_dir.sh <data-dir>
# Kaldi-style repair of a data directory: sorts utt2spk, vid.scp and face_boundingbox (C order;
# face_boundingbox keeps the order of the lines of one utterance), keeps only the utterances
# present in all of those files that exist, regenerates spk2utt, and saves the previous files in
# <data-dir>/.backup/.  Conflicting duplicate keys and malformed lines are errors (file:line).
# trials files are left untouched (a warning counts trials whose test utterance was dropped).
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = --help ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; [ $# -eq 1 ] && exit 0; exit 1
fi
exec "${HYP_FACE_PYTHON:-python3}" "$(dirname "$0")/data_tools.py" fix "$1"

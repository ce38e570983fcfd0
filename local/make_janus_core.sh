#!/usr/bin/env bash
# Prepares data/janus_{dev,eval}_enroll and data/janus_{dev,eval}_test_core from the JANUS Multimedia corpus
# (LDC2019E55); see docs/data_preparation.md.
set -euo pipefail
strict=false                           # true: a missing or empty video is an error (default: excluded with a warning)
exclude_list=local/janus_exclude.txt   # video ids left out of every set (documented in the file)
help_message="Usage: $0 [options] <JANUS_ROOT> <data-dir>   (e.g. $0 /corpora/LDC2019E55/Janus_Multimedia_Dataset data)"
. ./path.sh
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }

$HYP_FACE_PYTHON -m hyp_face.bin.prepare_janus_core --strict "$strict" --exclude-list "$exclude_list" "$1" "$2"
if [ -f utils/validate_data_dir.sh ]; then
  for d in "$2"/janus_{dev,eval}_enroll "$2"/janus_{dev,eval}_test_core; do
    utils/validate_data_dir.sh --no-wav --no-text --no-feats "$d"
  done
fi

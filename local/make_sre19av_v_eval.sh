#!/usr/bin/env bash
# Prepares data/sre19_av_v_eval_{enroll,test} from the SRE19 AV eval corpus (LDC2019E57); see docs/data_preparation.md.
set -euo pipefail
strict=false       # true: a missing or empty video is an error (default: excluded with a warning)
exclude_list=      # file of segment ids to leave out
help_message="Usage: $0 [options] <SRE19_EVAL_ROOT> <data-dir>   (e.g. $0 /corpora/LDC2019E57 data)"
. ./path.sh
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }

$HYP_FACE_PYTHON -m hyp_face.bin.prepare_sre19av --subset eval --strict "$strict" --exclude-list "$exclude_list" "$1" "$2"
if [ -f utils/validate_data_dir.sh ]; then
  for d in "$2"/sre19_av_v_eval_enroll "$2"/sre19_av_v_eval_test; do
    utils/validate_data_dir.sh --no-wav --no-text --no-feats "$d"
  done
fi

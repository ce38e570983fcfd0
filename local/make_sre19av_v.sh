#!/usr/bin/env bash
# Prepares data/sre19_av_v_<subset>_{enroll,test} from an SRE19 AV corpus (dev: LDC2019E56, eval: LDC2019E57);
# see docs/data_preparation.md. Called as local/make_sre19av_v_dev.sh / make_sre19av_v_eval.sh.
set -euo pipefail
subset=dev         # dev | eval
strict=false       # true: a missing or empty video is an error (default: excluded with a warning)
exclude_list=      # file of segment ids to leave out
help_message="Usage: $0 [--subset dev|eval] [options] <SRE19_ROOT> <data-dir>   (e.g. $0 /corpora/LDC2019E56 data)"
. ./path.sh
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }

$HYP_FACE_PYTHON -m hyp_face.bin.prepare_sre19av --subset "$subset" --strict "$strict" --exclude-list "$exclude_list" "$1" "$2"
if [ -f utils/validate_data_dir.sh ]; then
  for d in "$2/sre19_av_v_${subset}_enroll" "$2/sre19_av_v_${subset}_test"; do
    utils/validate_data_dir.sh --no-wav --no-text --no-feats "$d"
  done
fi

#!/usr/bin/env bash
# Result tables (spec 3.6, 8.4): for every back-end directory be_* of the score dir, one row per calibrated
# sub-directory (cosine_cal_v1_sre19 -> "<be>", cosine_snorm<ncoh>_v1_cal_v1_sre19 -> "<be> s-norm") with
# EER, Min Cp, Act Cp (P_target = 0.05) of each set, read from <set>_results.json. Missing directories or
# sets give blank cells and a note. Writes <score-dir>/results.{md,csv,json} and prints the markdown table.
set -euo pipefail

stage=1
stop_stage=1
config_file=global_conf/config_embedded.sh
score_dir=
sets="sre19_av_v_dev sre19_av_v_eval janus_dev_core janus_eval_core"
ncoh=1000
cal_name=cal_v1_sre19
help_message="Usage: $0 [--score-dir exp/scores/<face_embed_name>] [--config-file global_conf/config_embedded.sh] \\
    [--sets \"sre19_av_v_dev sre19_av_v_eval janus_dev_core janus_eval_core\"] [--ncoh 1000] [--cal-name cal_v1_sre19]
  Without --score-dir, the config file is sourced for face_embed_name and exp/scores/\$face_embed_name is used."

. ./path.sh
. utils/parse_options.sh

if [ $# -ne 0 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi

if [ -z "$score_dir" ]; then
  [ -f "$config_file" ] || { echo "$0: config file $config_file not found (or pass --score-dir)" >&2; exit 1; }
  # shellcheck disable=SC1090
  . "$config_file"
  score_dir=exp/scores/${face_embed_name:?$config_file does not set face_embed_name}
fi
[ -d "$score_dir" ] || { echo "$0: score dir $score_dir not found" >&2; exit 1; }

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  # shellcheck disable=SC2086
  "$HYP_FACE_PYTHON" -m hyp_face.bin.make_res_tables --sets $sets \
    --subdirs "cosine_$cal_name" "cosine_snorm${ncoh}_v1_$cal_name:s-norm" -- "$score_dir"
fi

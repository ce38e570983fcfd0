#!/usr/bin/env bash
# Result tables (docs/original_recipe.md §3.6, §8.4): for every back-end directory be_* of the score dir, one row per
# calibrated sub-directory that exists: cosine_<cal> -> "<be>", cosine_snorm<ncoh>_v1_<cal> (faithful
# s-norm) -> "<be> s-norm", cosine_asnorm<ncoh>_<cal> -> "<be> asnorm" (<cal>: local/cal_names.sh), with EER, Min Cp, Act Cp
# (P_target = 0.05) of each set, read from <set>_results.json. Missing sets give blank cells and a note.
# Writes <score-dir>/results.{md,csv,json} and prints the markdown table.
set -euo pipefail

stage=1
stop_stage=1
config_file=global_conf/config_embedded.sh
score_dir=
sets="sre19_av_v_dev sre19_av_v_eval janus_dev_core janus_eval_core"
ncoh=1000
calibration=        # the raw scores' calibration model (default: the config's, else linear): names the dirs
snorm_calibration=  # the s-norm scores' calibration model (default: the config's, else linear)
help_message="Usage: $0 [options]
  stage 1: results.{md,csv,json} in the score dir, one row per back-end and normalisation (plain, faithful s-norm,
           asnorm) found, one column group per set of --sets.
The config file gives the calibration models (their dir names: local/cal_names.sh) and, without --score-dir,
face_embed_name: exp/scores/\$face_embed_name is used."

. ./path.sh
. utils/parse_options.sh

no_positional_args "$@"

cli_calibration=$calibration cli_snorm_calibration=$snorm_calibration
if [ -f "$config_file" ]; then
  # shellcheck disable=SC1090
  . "$config_file"
elif [ -z "$score_dir" ]; then
  echo "$0: config file $config_file not found (or pass --score-dir)" >&2; exit 1
fi
. local/cal_names.sh
[ -n "$score_dir" ] || score_dir=exp/scores/${face_embed_name:?$config_file does not set face_embed_name}
[ -d "$score_dir" ] || { echo "$0: score dir $score_dir not found" >&2; exit 1; }

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  # shellcheck disable=SC2086
  "$HYP_FACE_PYTHON" -m hyp_face.bin.make_res_tables --sets $sets --ncoh "$ncoh" --cal-name "$cal_name" \
    --snorm-cal-name "$snorm_cal_name" \
    -- "$score_dir"
fi

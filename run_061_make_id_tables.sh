#!/usr/bin/env bash
# Identification tables of every run_060 run (a sibling of run_050): one row per config, back-end and protocol
# found under exp/identify/<config>/<be_name>/<protocol>/results.json, then its re-ranking rows.
set -euo pipefail

stage=1
stop_stage=1
exp_dir=exp/identify
help_message="Usage: $0 [--exp-dir exp/identify]
  stage 1: <exp-dir>/results.{md,json} from every <exp-dir>/*/*/*/results.json, printed."

. ./path.sh
. utils/parse_options.sh
no_positional_args "$@"

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  "$HYP_FACE_PYTHON" -m hyp_face.bin.make_id_tables --exp-dir "$exp_dir" --out-dir "$exp_dir"
fi

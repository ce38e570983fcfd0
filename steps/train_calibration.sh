#!/usr/bin/env bash
# Train a calibration model (docs/calibration.md); writes a JSON model. --model linear (default) is the faithful
# llr = a*s + b (docs/original_recipe.md §7.1): prior-weighted logistic regression, L2 on a and b', solved exactly (Newton), bias
# shifted by -logit(P). linear_atanh / linear_neglog1m fit the same on a monotone transform of cosine scores;
# pav is a monotone non-parametric map for any score.
set -euo pipefail

cmd=run.pl
model=linear
p_target=0.05
l2_reg=1e-5
help_message="Usage: $0 [--cmd run.pl] [--model linear|linear_atanh|linear_neglog1m|pav] [--p-target 0.05] \\
    [--l2-reg 1e-5] <trials> <scores> <model-out>
  <trials>: training key <model> <test> target|nontarget; <scores>: raw <model> <test> <score>;
  <model-out>: JSON model. Log: \$(dirname <model-out>)/log/train_calibration_\$(basename <model-out>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 3 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
trials=$1
scores=$2
model_out=$3

log_dir=$(dirname "$model_out")/log
mkdir -p "$log_dir"
$cmd "$log_dir/train_calibration_$(basename "$model_out").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.train_calibration --model "$model" --p-target "$p_target" --l2-reg "$l2_reg" \
  "$trials" "$scores" "$model_out"
show_rerun.sh "$log_dir/train_calibration_$(basename "$model_out").log"

#!/usr/bin/env bash
# Apply a calibration model (docs/original_recipe.md §7.2; models: docs/calibration.md). The output holds exactly the trials (a missing
# score is an error), sorted by test id then model id like the original's calibrated files, scores printed with %f.
set -euo pipefail

cmd=run.pl
model=auto
help_message="Usage: $0 [--cmd run.pl] [--model auto|linear|linear_atanh|linear_neglog1m|pav] <model-file> <trials> \\
    <scores-in> <scores-out>
  <model-file>: JSON from train_calibration.sh; --model other than auto checks that it holds that model.
  Log: \$(dirname <scores-out>)/log/apply_calibration_\$(basename <scores-out>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 4 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
model_file=$1
trials=$2
scores_in=$3
scores_out=$4

log_dir=$(dirname "$scores_out")/log
mkdir -p "$log_dir"
$cmd "$log_dir/apply_calibration_$(basename "$scores_out").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.apply_calibration --model "$model" "$model_file" "$trials" "$scores_in" \
  "$scores_out"
show_rerun.sh "$log_dir/apply_calibration_$(basename "$scores_out").log"

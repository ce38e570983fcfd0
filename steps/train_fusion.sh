#!/usr/bin/env bash
# Greedy forward logistic-regression fusion (docs/original_recipe.md §7.3): stores the best fusions of 1..max_systems score files
# in a JSON model. Score files may come from any system (3 columns <model> <test> <score>).
set -euo pipefail

cmd=run.pl
max_systems=5
p_target=0.05
p_eval=
l2_reg=1e-5
help_message="Usage: $0 [--cmd run.pl] [--max-systems 5] [--p-target 0.05] [--p-eval \"0.05 0.01\"] [--l2-reg 1e-5] \\
    <trials> <model-out> <scores1> [<scores2> ...]
  <trials>: training key; the system order of <scores1..N> is kept in the model (apply_fusion.sh needs the
  same order). --p-eval: priors whose mean act DCF selects systems (default: p-target).
  Log: \$(dirname <model-out>)/log/train_fusion_\$(basename <model-out>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -lt 3 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
trials=$1
model_out=$2
shift 2

p_eval_opt=()
if [ -n "$p_eval" ]; then
  # shellcheck disable=SC2206
  p_eval_opt=(--p-eval $p_eval)
fi
log_dir=$(dirname "$model_out")/log
mkdir -p "$log_dir"
$cmd "$log_dir/train_fusion_$(basename "$model_out").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.train_fusion --max-systems "$max_systems" --p-target "$p_target" \
  --l2-reg "$l2_reg" "${p_eval_opt[@]}" "$trials" "$model_out" "$@"
show_rerun.sh "$log_dir/train_fusion_$(basename "$model_out").log"

#!/usr/bin/env bash
# Apply fusion number --fus-idx (0-based: the fusion of fus_idx+1 systems; empty = the largest) of a model
# from train_fusion.sh. Output: exactly the trials, sorted by test id then model id.
set -euo pipefail

cmd=run.pl
fus_idx=
help_message="Usage: $0 [--cmd run.pl] [--fus-idx N] <model> <trials> <scores-out> <scores1> [<scores2> ...]
  <scores1..N>: the score files of all training systems, in the training order.
  Log: \$(dirname <scores-out>)/log/apply_fusion_\$(basename <scores-out>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -lt 4 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
model=$1
trials=$2
scores_out=$3
shift 3

fus_opt=()
if [ -n "$fus_idx" ]; then
  fus_opt=(--fus-idx "$fus_idx")
fi
log_dir=$(dirname "$scores_out")/log
mkdir -p "$log_dir"
$cmd "$log_dir/apply_fusion_$(basename "$scores_out").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.apply_fusion "${fus_opt[@]}" "$model" "$trials" "$scores_out" "$@"
show_rerun.sh "$log_dir/apply_fusion_$(basename "$scores_out").log"

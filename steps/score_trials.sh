#!/usr/bin/env bash
# Score a trial list (spec 8.1): <out-prefix>_results (original one-line format), <out-prefix>_results.json
# (ROCCH-EER, min/act DCF at P = 0.05, 0.01, 0.005, 0.001, Cllr, min Cllr, counts), <out-prefix>_det.png and
# <out-prefix>_llr_hist.png (Bayes threshold for P = 0.05 marked).
set -euo pipefail

cmd=run.pl
plots=true
help_message="Usage: $0 [--cmd run.pl] [--plots true] <trials> <scores> <out-prefix>
  <trials>: <model> <test> target|nontarget; <scores>: <model> <test> <score> (every trial needed,
  extra pairs ignored). Log: \$(dirname <out-prefix>)/log/score_\$(basename <out-prefix>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 3 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
trials=$1
scores=$2
out_prefix=$3

log_dir=$(dirname "$out_prefix")/log
mkdir -p "$log_dir"
$cmd "$log_dir/score_$(basename "$out_prefix").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.score_trials --plots "$plots" "$trials" "$scores" "$out_prefix"
show_rerun.sh "$log_dir/score_$(basename "$out_prefix").log"
cat "${out_prefix}_results"
echo

#!/usr/bin/env bash
# Score a trial list (docs/original_recipe.md §8.1): <out-prefix>_results (original one-line format), <out-prefix>_results.json
# (ROCCH-EER, min/act DCF at P = 0.05, 0.01, 0.005, 0.001, Cllr, min Cllr, counts), <out-prefix>_det.png and a
# histogram: <out-prefix>_llr_hist.png with the Bayes threshold for P = 0.05 when --llr true (calibrated scores),
# else <out-prefix>_score_hist.png. Prints one console line: <label>  EER x%  min Cp y  act Cp z (P = 0.05).
set -euo pipefail

cmd=run.pl
plots=true
llr=false
label=
help_message="Usage: $0 [--cmd run.pl] [--plots true] [--llr false] [--label TEXT] <trials> <scores> <out-prefix>
  <trials>: <model> <test> target|nontarget; <scores>: <model> <test> <score> (every trial needed,
  extra pairs ignored). --llr true: the scores are calibrated LLRs (histogram labelled LLR, Bayes threshold
  marked). --label: names the scores in the console line and the plot titles, e.g. 'sre19_av_v_dev v4 s-norm+cal'
  (default: <out-prefix>). Log: \$(dirname <out-prefix>)/log/score_\$(basename <out-prefix>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 3 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
trials=$1
scores=$2
out_prefix=$3
label=${label:-$out_prefix}

log_dir=$(dirname "$out_prefix")/log
mkdir -p "$log_dir"
$cmd "$log_dir/score_$(basename "$out_prefix").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.score_trials --plots "$plots" --llr "$llr" --title "$label" \
  "$trials" "$scores" "$out_prefix"
show_rerun.sh "$log_dir/score_$(basename "$out_prefix").log"
# The results line is "EER: <eer> DCF5e-2: <min> / <act> DCF1e-2: ..." (docs/original_recipe.md §8.1).
read -r _ eer _ min_cp _ act_cp _ < "${out_prefix}_results"
printf '%s  EER %s%%  min Cp %s  act Cp %s\n' "$label" "$eer" "$min_cp" "$act_cp"

#!/usr/bin/env bash
# Re-rank a query x gallery similarity matrix (k-reciprocal encoding, Zhong et al. 2017, or ECN, Sarfraz et al.
# 2018) into re-ranked query x gallery distances. Matrices are .npz score matrices (hyp_face.metrics.score_matrix).
set -euo pipefail

cmd=run.pl
method=k_reciprocal
k1=20
k2=6
lam=0.3
t=3
q=8
k=25
ecn_distance=rank
help_message="Usage: $0 [--cmd run.pl] [--method k_reciprocal|ecn] [--k1 20] [--k2 6] [--lam 0.3] [--t 3] [--q 8] \\
    [--k 25] [--ecn-distance rank|dist] <query-gallery.npz> <query-query.npz> <gallery-gallery.npz> <out.npz>
  Inputs: similarity matrices; output: re-ranked distances (lower = better), keyed as <query-gallery.npz>.
  --k1 --k2 --lam: k-reciprocal parameters; --t --q --k --ecn-distance: ECN parameters.
  Log: \$(dirname <out.npz>)/log/rerank_\$(basename <out.npz>).log"

. "$(dirname "$0")/../path.sh"
. "$HYP_FACE_ROOT/utils/parse_options.sh"

if [ $# -ne 4 ]; then
  printf '%s\n' "$help_message" >&2
  exit 1
fi
out=$4

log_dir=$(dirname "$out")/log
mkdir -p "$log_dir"
$cmd "$log_dir/rerank_$(basename "$out").log" \
  "$HYP_FACE_PYTHON" -m hyp_face.bin.rerank --method "$method" --k1 "$k1" --k2 "$k2" --lam "$lam" \
  --t "$t" --q "$q" --k "$k" --ecn-distance "$ecn_distance" "$1" "$2" "$3" "$out"
show_rerun.sh "$log_dir/rerank_$(basename "$out").log"

#!/usr/bin/env bash
# Back-end v9: self-attention-refined faces on both sides (self_att_a), max cosine.
# Raw and s-normalised scores, calibration on SRE19 dev and results of the recipe's test sets; stages and options:
# ./run_048_eval_be_v9.sh --help (local/run_eval_be_common.sh).
set -euo pipefail
EVAL_BE_RUN_SCRIPT=$0 exec "$(dirname "$0")/local/run_eval_be_common.sh" --backend v9 "$@"

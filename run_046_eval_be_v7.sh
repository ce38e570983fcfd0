#!/usr/bin/env bash
# Back-end v7: median of the reference faces x its attention pooling (att_a) over the self-attention-refined test faces.
# Raw and s-normalised scores, calibration on SRE19 dev and results of the recipe's test sets; stages and options:
# ./run_046_eval_be_v7.sh --help (local/run_eval_be_common.sh).
set -euo pipefail
EVAL_BE_RUN_SCRIPT=$0 exec "$(dirname "$0")/local/run_eval_be_common.sh" --backend v7 "$@"

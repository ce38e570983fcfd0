#!/usr/bin/env bash
# Back-end v3: coordinate-wise median of the reference faces x all test faces, max cosine.
# Raw and s-normalised scores, calibration on SRE19 dev and results of the recipe's test sets; stages and options:
# ./run_042_eval_be_v3.sh --help (local/run_eval_be_common.sh).
set -euo pipefail
EVAL_BE_RUN_SCRIPT=$0 exec "$(dirname "$0")/local/run_eval_be_common.sh" --backend v3 "$@"

#!/usr/bin/env bash
# Back-end v3: coordinate-wise median of the reference faces x all test faces, max cosine.
# Raw and s-normalised scores, calibration on SRE19 dev and results for the 4 test sets (spec 3.5);
# stages and options: steps/run_eval_be_common.sh --help.
set -euo pipefail
exec "$(dirname "$0")/steps/run_eval_be_common.sh" --backend v3 "$@"

#!/usr/bin/env bash
# Back-end v4: median of the reference faces x AHC cluster means of the test faces (thr_ahc), max cosine.
# Raw and s-normalised scores, calibration on SRE19 dev and results for the 4 test sets (spec 3.5);
# stages and options: steps/run_eval_be_common.sh --help.
set -euo pipefail
exec "$(dirname "$0")/steps/run_eval_be_common.sh" --backend v4 "$@"

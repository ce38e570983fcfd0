#!/usr/bin/env bash
# Back-end v6: median of the reference faces x self-attention-refined test faces (self_att_a), max cosine.
# Raw and s-normalised scores, calibration on SRE19 dev and results for the 4 test sets (spec 3.5);
# stages and options: steps/run_eval_be_common.sh --help.
set -euo pipefail
exec "$(dirname "$0")/steps/run_eval_be_common.sh" --backend v6 "$@"
